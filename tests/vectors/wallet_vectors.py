"""Cross-implementation vectors for the phone's presentation code (wallet/web/src).

``python tests/vectors/wallet_vectors.py`` writes ``wallet-presentations.json``: views
signed with the fixed development keys in ``fuzz/fixture/keys``, bound to a fixed test
device key (its seed is in the file: it is a test key, never a resident's), and for each
the QR text that keys/envelope.py makes for a presentation at a fixed time with a fixed
nonce. Ed25519 is deterministic, so any implementation given the same inputs must write
the same text: tests/test_wallet_js.py holds Python to the file, wallet/web/test/ holds
the browser's code to it, and both decode each other's texts.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).parent
ROOT = HERE.parent.parent
OUT = HERE / "wallet-presentations.json"
NOW = 1_796_000_000  # 2026-11-29, inside the fixture keys' validity
SEED = bytes(range(1, 33))  # the test device's Ed25519 seed
CASES = [
    ("id_card", "hotel"), ("id_card", "internet_cafe"), ("household_book", "window"),
    ("vehicle_license", "window"), ("ebike_registration", "ebike_check"), ("driving_license", "street_check"),
]


def presentation_text(view: str, seed: bytes, iat: int, nonce: bytes) -> str:
    """The QR text Python makes for ``view`` presented at ``iat`` with ``nonce``."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from keys.envelope import encode_presentation, proof_claims
    from keys.jose import TYP_PROOF, sign_compact

    proof = sign_compact(proof_claims(view, iat, nonce), Ed25519PrivateKey.from_private_bytes(seed), kid=None, typ=TYP_PROOF)
    return encode_presentation(view, proof)


def _status(n: int, idx: int) -> dict[str, object]:
    """The Token Status List draft's shape (a URI in the envelope's book: the short form)
    for even cases, the older ``{"idx", "lst"}`` for odd ones: the phone writes both."""
    from issuer.status_list import status_ref

    return status_ref("dmVjdA", idx, "http://127.0.0.1:8000") if n % 2 == 0 else {"idx": idx, "lst": "vector"}


def build() -> dict[str, object]:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from issuer import example
    from issuer.credential import issue
    from keys import KeyDir, public_jwk
    from keys.envelope import encode_credential

    keys = KeyDir(ROOT / "fuzz" / "fixture" / "keys")
    holder = public_jwk(Ed25519PrivateKey.from_private_bytes(SEED).public_key())
    vectors = []
    for n, (licence_type, scenario) in enumerate(CASES):
        issued = issue(keys, licence_type, example(licence_type), holder_jwk=holder, now=NOW,
                       status=_status(n, 7 + n), view_status={scenario: _status(n, 100 + n)})
        view = issued.views[scenario]
        nonce = bytes([n]) * 8
        vectors.append({
            "licence_type": licence_type, "scenario": scenario, "view": view, "iat": NOW + 60 * n,
            "nonce": nonce.hex(), "text": presentation_text(view, SEED, NOW + 60 * n, nonce),
            "credential": issued.credential, "credential_text": encode_credential(issued.credential),
        })
    return {"_about": "certfree presentation vectors; see tests/vectors/wallet_vectors.py",
            "device_seed": SEED.hex(), "device_jwk": holder, "vectors": vectors}


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    OUT.write_text(json.dumps(build(), indent=1, ensure_ascii=False) + "\n", "utf-8")
    print(f"wrote {OUT}")
