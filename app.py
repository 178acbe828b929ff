"""certfree entry points: the web service's ``create_app`` and the ``certfree`` command line
(``build_parser``, ``main``).

Each role's commands live beside the role (``keys/cli.py``, ``issuer/cli.py``,
``issuer/service_cli.py``, ``wallet/cli.py``, ``desk/verify_cli.py``, ``desk/cli.py``,
``desk/demo_cli.py``), their shared plumbing in ``keys/cli_base.py``; this module only
assembles them.
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Any, Sequence

from keys.cli_base import run


def create_app(test_config: Any = None) -> Any:
    """The Flask app (issuer API, public endpoints, web wallet, desk page): see issuer.service."""
    from issuer.service import create_app as _create_app

    return _create_app(test_config)


def build_parser() -> argparse.ArgumentParser:
    """The ``certfree`` parser: each role's module adds its subcommands."""
    from desk import cli as desk_cli, demo_cli, verify_cli
    from issuer import cli as issuer_cli, service_cli
    from keys import cli as keys_cli
    from wallet import cli as wallet_cli

    parser = argparse.ArgumentParser(prog="certfree", description="certfree: electronic licences and offline verification")
    parser.add_argument("-v", "--verbose", action="store_true", help="log more")
    sub = parser.add_subparsers(dest="command", required=True)
    keys = keys_cli.add_commands(sub)
    issuer_cli.add_commands(sub)
    wallet_cli.add_commands(sub)
    verify_cli.add_command(sub)
    issuer_cli.add_key_commands(keys)
    issuer_cli.add_status_commands(sub)
    keys_cli.add_sync_command(sub)
    service_cli.add_commands(sub)
    desk_cli.add_commands(sub)
    demo_cli.add_command(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    return run(args.func, args)


if __name__ == "__main__":
    sys.exit(main())
