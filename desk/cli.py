"""The desk's commands: ``certfree desk serve|add|clerk|list``; ``app.py`` assembles them.

Without ``--data`` they set up desks in the central service's database
(``$CERTFREE_DATABASE_URL``); with ``--data DIR`` in a stand-alone station's folder.
Exit codes as everywhere: 0 done, 2 a usage error (printed in Chinese and English)."""

from __future__ import annotations

import argparse
import contextlib
import getpass
import os
import sys
import time
from pathlib import Path
from typing import Any, Iterator

from keys.cli_base import EXIT_OK, EXIT_USAGE
from scenarios import SCENARIOS


def _usage(message: str) -> int:
    print(f"certfree: error: {message}", file=sys.stderr)
    return EXIT_USAGE


@contextlib.contextmanager
def _session(data: str | None) -> Iterator[Any]:
    """A session on the station's ``DIR/desk.db``, or on the central service's database."""
    if data is not None:
        from .station import open_accounts

        engine, sessions = open_accounts(Path(data))
    else:
        from issuer.service import create_app, db

        app = create_app()
        db.upgrade(app)
        engine, sessions = db.engine(app), db.sessions(app)
    try:
        with sessions() as session:
            yield session
    finally:
        engine.dispose()


def cmd_add(args: argparse.Namespace) -> int:
    from .accounts import DeskError, add_desk

    with _session(args.data) as session:
        try:
            desk = add_desk(session, args.name, args.scenario, args.matter or (), now=time.time())
        except DeskError as exc:
            return _usage(f"{exc.message_zh} / {exc.message}")
        session.commit()
        print(f"desk {desk.name!r} added: {', '.join(desk.scenarios)}"
              + (f"; matters {', '.join(desk.matters)}" if desk.matters else ""))
    return EXIT_OK


def cmd_clerk(args: argparse.Namespace) -> int:
    """Add a clerk at a desk, or move an existing clerk to it (the password is then kept)."""
    from sqlalchemy import select

    from issuer.service.models import DeskClerk
    from issuer.service.residents import EnrolError, add_clerk

    from .accounts import assign, find_desk

    with _session(args.data) as session:
        desk = find_desk(session, args.desk)
        if desk is None:
            return _usage(f"--desk: 没有名为“{args.desk}”的核验台 / no desk named {args.desk!r} (certfree desk add)")
        clerk = session.scalar(select(DeskClerk).where(DeskClerk.username == args.username))
        if clerk is None:
            password = os.environ.get("CERTFREE_DESK_PASSWORD") or getpass.getpass("password for the new clerk: ")
            try:
                clerk = add_clerk(session, args.username, password, now=time.time())
            except EnrolError as exc:
                return _usage(f"{exc.field}: {exc.message_zh} / {exc.message}")
        assign(session, clerk, desk)
        session.commit()
    print(f"clerk {args.username!r} works at {args.desk!r}; log in at /desk/login")
    return EXIT_OK


def cmd_list(args: argparse.Namespace) -> int:
    from .accounts import desks

    with _session(args.data) as session:
        for desk in desks(session):
            matters = f"  matters: {', '.join(desk.matters)}" if desk.matters else ""
            print(f"{desk.name}  scenarios: {', '.join(desk.scenarios)}{matters}")
    return EXIT_OK


# The server that runs the station: gunicorn where it runs (it needs POSIX: not on the
# Windows PC many front desks have), waitress, pure Python, everywhere else.
SERVERS = ("gunicorn", "waitress")
DEFAULT_SERVER = "waitress" if sys.platform == "win32" else "gunicorn"
THREADS = 4


def cmd_serve(args: argparse.Namespace) -> int:
    """Run the station: one process (its replay cache and register are SQLite files in the
    folder), a few threads; under gunicorn, or waitress (``--server``)."""
    from .station import create_station

    data = Path(args.data).resolve()
    create_station(data)  # refuses a folder that was never synced, before the server starts
    if args.server == "waitress":
        return _serve_waitress(data, args)
    env = {**os.environ, "CERTFREE_DESK_DATA": str(data)}
    if args.sync_from:
        env["CERTFREE_DESK_SYNC_FROM"] = args.sync_from
        env["CERTFREE_DESK_SYNC_SECONDS"] = str(args.sync_every)
    print(f"desk station on http://{args.bind}/desk/ from {data}", flush=True)
    argv = [sys.executable, "-m", "gunicorn", "--workers", "1", "--threads", str(THREADS), "--bind", args.bind,
            "--access-logformat", '%(h)s "%(m)s %(U)s" %(s)s %(b)s %(L)ss', "desk.station:from_environment()"]
    # ``python -m`` puts the working folder first on sys.path: run from the data folder, so
    # that a folder beside the caller's (keys/, say) cannot shadow a package.
    os.chdir(data)
    os.execve(sys.executable, argv, env)
    return EXIT_OK  # not reached


def _serve_waitress(data: Path, args: argparse.Namespace) -> int:
    """The station in this process under waitress, until it is stopped."""
    from waitress import serve

    from .station import running_station

    app = running_station(data, args.sync_from, args.sync_every)
    print(f"desk station on http://{args.bind}/desk/ from {data} (waitress)", flush=True)
    # waitress reads a whole body before the app sees it: no more than the app would take
    serve(app, listen=args.bind, threads=THREADS, ident="certfree-desk",
          max_request_body_size=app.config["MAX_CONTENT_LENGTH"])
    return EXIT_OK


def add_commands(sub: Any) -> None:
    """``certfree desk ...`` on the top-level parser's subcommands."""
    desk = sub.add_parser("desk", help="desks: the stand-alone station, desks and their clerks").add_subparsers(
        dest="desk_command", required=True)
    data_help = "a station's synced folder (default: the central service's database)"

    p = desk.add_parser("serve", help="serve the desk's pages from a synced folder, with no issuer connection")
    p.add_argument("--data", required=True, help="the folder certfree sync --to DIR wrote")
    p.add_argument("--bind", default="127.0.0.1:8080")
    p.add_argument("--sync-from", help="service URL (or folder) to sync from in the background")
    p.add_argument("--sync-every", type=float, default=600, help="seconds between background syncs (600)")
    p.add_argument("--server", choices=SERVERS, default=DEFAULT_SERVER,
                   help=f"the web server (default here: {DEFAULT_SERVER}; waitress on Windows)")
    p.set_defaults(func=cmd_serve)

    p = desk.add_parser("add", help="add a desk bound to its place and scenarios")
    p.add_argument("--data", help=data_help)
    p.add_argument("--name", required=True, help='e.g. "Hotel Haishu 0807 front desk"')
    p.add_argument("--scenario", action="append", required=True, choices=SCENARIOS, help="may repeat")
    p.add_argument("--matter", action="append", help="a window's matter (may repeat; none: every matter)")
    p.set_defaults(func=cmd_add)

    p = desk.add_parser("clerk", help="add a clerk at a desk (password from CERTFREE_DESK_PASSWORD, or asked for)")
    p.add_argument("--data", help=data_help)
    p.add_argument("--desk", required=True, help="the desk's name")
    p.add_argument("--username", required=True)
    p.set_defaults(func=cmd_clerk)

    p = desk.add_parser("list", help="list the desks")
    p.add_argument("--data", help=data_help)
    p.set_defaults(func=cmd_list)


__all__ = ["add_commands"]
