"""The committed fuzz corpus (fuzz/corpus: seeds and what atheris found that reached new
code) replayed through the fuzz target on every test run, without the fuzzer: each input
must end in a verified result or a certfree VerificationError. The target's keys and
wallet are fixed (fuzz/fixture), so the corpus also keeps reaching the checks behind the
envelope: a test below holds it to that."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path
from types import ModuleType

import pytest

import verifier
from verifier.testing import FixedClock

FUZZ = Path(__file__).resolve().parent.parent / "fuzz"
CORPUS = sorted((FUZZ / "corpus").iterdir())


@pytest.fixture(scope="module")
def target() -> ModuleType:
    sys.path.insert(0, str(FUZZ))
    try:
        import qr_target
    finally:
        sys.path.remove(str(FUZZ))
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
