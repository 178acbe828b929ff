"""atheris fuzz target for the verifier's QR parser and verification path.

Any input must end in a verified result or a certfree ``VerificationError``; anything
else (an uncaught exception, a crash, a hang) is a bug. Run with ``make fuzz``.

The verifier is built once with throwaway keys, a wallet and one valid presentation
per scenario, so the fuzzer can reach deep into the envelope, the claims and the checks.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import atheris

import base45

with atheris.instrument_imports():
    import keys.envelope  # noqa: F401
    import verifier
    from issuer import example, issue
    from keys import KeyDir
    from verifier.testing import FixedClock
    from keys.envelope import PREFIX
    from wallet import Wallet, present

NOW = 1795485600  # 2026-11-24 10:00 +08:00
_work = Path(tempfile.mkdtemp(prefix="certfree-fuzz-"))
_keys = KeyDir.init(_work / "keys", insecure_dev=True, now=NOW - 86400)
_wallet = Wallet.init(_work / "wallet", insecure_dev=True)
for _type in ("id_card", "ebike_registration", "driving_license"):
    _issued = issue(_keys, _type, example(_type), holder_jwk=_wallet.device_jwk(), now=NOW - 60)
    _wallet.store(_type, _issued.jti, _issued.credential, _issued.views)
_trust = verifier.load_trust_list(_keys.trust_list(), _keys.root_public_jwk())
_verifier = verifier.Verifier(_trust, clock=FixedClock(NOW))
SCENARIOS = ("hotel", "internet_cafe", None)


def seeds() -> list[str]:
    """Valid QR texts: the seed corpus (written by ``python fuzz/fuzz_qr.py --write-corpus``)."""
    return [present(_wallet, s, now=NOW).text for s in ("hotel", "internet_cafe", "fuel_purchase", "street_check", "ebike_check", "window")]


def test_one_input(data: bytes) -> None:
    """First byte: bit 0 picks the mode, the rest the scenario. Mode 0 fuzzes the QR text
    as scanned; mode 1 fuzzes the envelope's binary body (wrapped in valid base45), which
    reaches the CBOR, claims and signature checks far more often."""
    if not data:
        return
    scenario = SCENARIOS[(data[0] >> 1) % len(SCENARIOS)]
    if data[0] & 1:
        text = PREFIX + base45.b45encode(data[1:]).decode("ascii")
    else:
        try:
            text = data[1:].decode("utf-8")
        except UnicodeDecodeError:
            text = data[1:].decode("latin-1")
    try:
        _verifier.verify(text, scenario=scenario)
    except verifier.VerificationError:
        pass


def main() -> None:
    if "--write-corpus" in sys.argv:
        corpus = Path(__file__).parent / "corpus"
        corpus.mkdir(exist_ok=True)
        for i, text in enumerate(seeds()):
            mode_scenario = (i % 3) << 1
            (corpus / f"seed-text-{i}").write_bytes(bytes([mode_scenario]) + text.encode())
            body = base45.b45decode(text[len(PREFIX):])
            (corpus / f"seed-body-{i}").write_bytes(bytes([mode_scenario | 1]) + body)
        return
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
