"""QR versions per scenario with real status entries: what the status claim costs in a code.

    .venv/bin/python bench/qr_status.py [--count 20]

For every scenario and every licence type it accepts, ``count`` licences are issued through
the issuer's records (a fresh SQLite file, so each credential and view gets a random entry
in a status list, as in service), each view is presented by its holder's device key, and
the QR text's length and QR version (error correction M, as the wallet shows it) are
measured; the table gives the largest of each over the ``count`` codes (the index is
random, so the size of its CBOR integer varies). The full credentials are measured the
same way. Used to hold the status claim's shape to "no scenario's QR version may grow"
(docs/qr-format.md, "Status list references").
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _fixture as F  # noqa: E402

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402

from issuer import example, records  # noqa: E402
from issuer.credential import view_names  # noqa: E402
from issuer.db import Base, make_engine, session_factory  # noqa: E402
from keys.envelope import encode_credential  # noqa: E402
from keys.jose import public_jwk  # noqa: E402
from scenarios import load_policies  # noqa: E402
from wallet import present_view  # noqa: E402
from wallet.qr import version  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--count", type=int, default=20, help="licences per licence type")
    args = ap.parse_args(argv)
    folder = Path(tempfile.mkdtemp(prefix="certfree-qr-status-"))
    keys = F.keydir(folder)
    engine = make_engine(folder / "issuer.db")
    Base.metadata.create_all(engine)
    session = session_factory(engine)()
    policies = load_policies()
    codes: dict[tuple[str, str], list[str]] = {}
    types = sorted({t for p in policies.values() for t in p.accepts})
    for licence_type in types:
        for _ in range(args.count):
            device = Ed25519PrivateKey.generate()
            issued = records.issue_licence(session, keys, licence_type, example(licence_type),
                                           holder_jwk=public_jwk(device.public_key()), now=F.NOW - 3600)
            codes.setdefault(("(full credential)", licence_type), []).append(encode_credential(issued.credential))
            for scenario in view_names(licence_type, policies):
                p = present_view(issued.views[scenario], device, licence_type=licence_type, scenario=scenario, now=F.NOW)
                codes.setdefault((scenario, licence_type), []).append(p.text)
    session.commit()
    print(f"# {F.machine()}; {args.count} licences per type; status claim as issued now")
    print(f"{'scenario':<18} {'licence type':<20} {'max chars':>9} {'max QR version (M)':>19}")
    for (scenario, licence_type), texts in sorted(codes.items()):
        print(f"{scenario:<18} {licence_type:<20} {max(map(len, texts)):>9} {max(map(version, texts)):>19}")


if __name__ == "__main__":
    main()
