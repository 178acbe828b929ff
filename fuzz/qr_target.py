"""The fuzz target for the verifier's QR parser and verification path, without the fuzzer:
``fuzz/fuzz_qr.py`` runs it under atheris, ``tests/test_fuzz_corpus.py`` replays the
committed corpus through it on every test run.

Any input must end in a verified result or a certfree ``VerificationError``; anything
else (an uncaught exception, a crash, a hang) is a bug.

The verifier is built once, with fixed keys and a wallet holding three licences (see
FIXTURE below), so that valid presentations, and what the fuzzer makes of them, reach
deep into the envelope, the claims and the checks.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import base45

import verifier
from issuer import example, issue
from keys import KeyDir
from keys.envelope import PREFIX
from verifier.testing import FixedClock
from wallet import Wallet, present

NOW = 1795485600  # 2026-11-24 10:00 +08:00: the target's clock, fixed
# The issuer keys and the wallet are fixed too (fuzz/fixture, committed, UNENCRYPTED
# development keys that nothing else trusts), so that the corpus stays valid from one run
# to the next: an input from an earlier run still names a key the verifier holds, and
# reaches the signature, date, holder and policy checks instead of stopping at
# unknown_key. `python fuzz/fuzz_qr.py --write-fixture` makes a new one (then rewrite
# the seeds with --write-corpus).
FIXTURE = Path(__file__).resolve().parent / "fixture"


def write_fixture(folder: Path) -> None:
    keys = KeyDir.init(folder / "keys", insecure_dev=True, now=NOW - 86400)
    wallet = Wallet.init(folder / "wallet", insecure_dev=True)
    for licence_type in ("id_card", "ebike_registration", "driving_license"):
        issued = issue(keys, licence_type, example(licence_type), holder_jwk=wallet.device_jwk(), now=NOW - 60)
        wallet.store(licence_type, issued.jti, issued.credential, issued.views)


if not (FIXTURE / "keys" / "registry.json").exists():  # a checkout without one: throwaway keys
    FIXTURE = Path(tempfile.mkdtemp(prefix="certfree-fuzz-"))
    write_fixture(FIXTURE)
_keys = KeyDir(FIXTURE / "keys")
_wallet = Wallet(FIXTURE / "wallet")
_trust = verifier.load_trust_list(_keys.trust_list(), _keys.root_public_jwk())
_verifier = verifier.Verifier(_trust, clock=FixedClock(NOW))
SCENARIOS = ("hotel", "internet_cafe", None)


def seeds() -> list[str]:
    """Valid QR texts: the seed corpus (written by ``python fuzz/fuzz_qr.py --write-corpus``)."""
    return [present(_wallet, s, now=NOW).text for s in ("hotel", "internet_cafe", "fuel_purchase", "street_check", "ebike_check", "window")]


def scan(data: bytes) -> tuple[str, str | None]:
    """The QR text and scenario a fuzz input stands for. First byte: bit 0 picks the mode,
    the rest the scenario. Mode 0 is the QR text as scanned; mode 1 is the envelope's
    binary body (wrapped in valid base45), which reaches the CBOR, claims and signature
    checks far more often."""
    scenario = SCENARIOS[(data[0] >> 1) % len(SCENARIOS)]
    if data[0] & 1:
        return PREFIX + base45.b45encode(data[1:]).decode("ascii"), scenario
    try:
        return data[1:].decode("utf-8"), scenario
    except UnicodeDecodeError:
        return data[1:].decode("latin-1"), scenario


def test_one_input(data: bytes) -> None:
    if not data:
        return
    text, scenario = scan(data)
    try:
        _verifier.verify(text, scenario=scenario)
    except verifier.VerificationError:
        pass


def write_seeds(corpus: Path) -> None:
    """The seed corpus: each valid presentation as scanned text and as an envelope body."""
    corpus.mkdir(exist_ok=True)
    for i, text in enumerate(seeds()):
        mode_scenario = (i % 3) << 1
        (corpus / f"seed-text-{i}").write_bytes(bytes([mode_scenario]) + text.encode())
        body = base45.b45decode(text[len(PREFIX):])
        (corpus / f"seed-body-{i}").write_bytes(bytes([mode_scenario | 1]) + body)
