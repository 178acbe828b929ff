"""The committed fuzz corpus (fuzz/corpus: seeds and what atheris found that reached new
code) replayed through the fuzz target on every test run, without the fuzzer: each input
must end in a verified result or a certfree VerificationError. The target's keys and
wallet are fixed (fuzz/fixture), so the corpus also keeps reaching the checks behind the
envelope: a test below holds it to that."""

from __future__ import annotations

import importlib
import sys
from collections import Counter
from pathlib import Path
from types import ModuleType

import pytest

import verifier
from verifier.testing import FixedClock

FUZZ = Path(__file__).resolve().parent.parent / "fuzz"
CORPUS = sorted((FUZZ / "corpus").iterdir())


def _fuzz_module(name: str) -> ModuleType:
    """A fuzz target module from fuzz/ (not a package: imported with fuzz/ on the path)."""
    sys.path.insert(0, str(FUZZ))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(str(FUZZ))


@pytest.fixture(scope="module")
def target() -> ModuleType:
    qr_target = _fuzz_module("qr_target")
    assert qr_target.FIXTURE == FUZZ / "fixture"  # the committed keys, not throwaway ones
    return qr_target


@pytest.mark.parametrize("path", CORPUS, ids=[p.name[:12] for p in CORPUS])
def test_corpus_input_ends_in_a_result_or_a_certfree_error(target: ModuleType, path: Path) -> None:
    target.test_one_input(path.read_bytes())


def test_the_corpus_reaches_the_checks_behind_the_envelope(target: ModuleType) -> None:
    """Some inputs verify, and others fail in the signature, holder proof, date, claim and
    policy checks, not only as malformed or with an unknown key (which is all a corpus made
    with other keys would reach)."""
    desk = verifier.Verifier(target._trust, clock=FixedClock(target.NOW))  # its own replay cache
    ok, codes = 0, Counter[str]()
    for path in CORPUS:
        data = path.read_bytes()
        if not data:
            continue
        text, scenario = target.scan(data)
        try:
            desk.verify(text, scenario=scenario)
            ok += 1
        except verifier.VerificationFailed as failed:
            codes.update({f.code for f in failed.failures})
    assert ok >= 1
    assert {"signature_invalid", "holder_proof_invalid", "not_yet_valid", "claim_missing", "wrong_scenario"} <= set(codes)


def test_the_seeds_verify(target: ModuleType) -> None:
    """The target's own fresh presentations pass (a target that refused everything would
    make the replay above prove nothing)."""
    for text, scenario in zip(target.seeds(), ("hotel", "internet_cafe", "fuel_purchase", "street_check", "ebike_check", "window")):
        assert isinstance(target._verifier.verify(text, scenario=scenario), verifier.VerifiedLicence)


# ---- the image target (fuzz/image_target.py, fuzz/image_corpus) ----------------------

IMAGE_CORPUS = sorted((FUZZ / "image_corpus").iterdir())


@pytest.fixture(scope="module")
def image_target() -> ModuleType:
    return _fuzz_module("image_target")


@pytest.mark.parametrize("path", IMAGE_CORPUS, ids=[p.name[:12] for p in IMAGE_CORPUS])
def test_image_corpus_input_reads_as_pillow_reads_it_and_ends_in_a_certfree_error(image_target: ModuleType, path: Path) -> None:
    image_target.test_one_input(path.read_bytes())


# Some inputs claim over 89 megapixels: Pillow's Image.open warns before the verifier's own
# cap (40 MP) refuses them (fuzz/image_target.py silences the same warning).
@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_the_image_corpus_reaches_both_readers_and_the_qr_text(image_target: ModuleType) -> None:
    """Some inputs are read by verifier._png, some only by Pillow, and some decode to a
    QR text: a corpus of refused files would make the replay above prove little."""
    from verifier import VerificationFailed, decode_qr_image
    from verifier._png import grey_pixels

    ours = pillow_only = decoded = 0
    for path in IMAGE_CORPUS:
        data = path.read_bytes()
        if grey_pixels(data) is not None:
            ours += 1
        else:
            try:
                image_target.pillow_grey(data)
                pillow_only += 1
            except Exception:  # noqa: BLE001 - unreadable to Pillow: neither reader
                pass
        try:
            decode_qr_image(data)
            decoded += 1
        except VerificationFailed:
            pass
    assert ours >= 2 and pillow_only >= 2 and decoded >= 2, (ours, pillow_only, decoded)
