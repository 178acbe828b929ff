"""The web service's commands: ``certfree serve|demo-data``, ``certfree desk-clerk add`` and
``certfree audit verify``. Beside :mod:`issuer.service`, not in it: building the parser
imports no Flask."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from keys.cli_base import EXIT_OK, EXIT_REJECTED, UsageError

from .cli import open_db


def _prepared_app() -> Any:
    from issuer.service import create_app, demo

    app = create_app()
    return app, demo.prepare(app)


def cmd_demo_data(args: argparse.Namespace) -> int:
    """Demo keys, schema, operators and a demo resident with all six licences (idempotent)."""
    from issuer.service import demo

    _app, info = _prepared_app()
    print(demo.banner(info, f"http://{args.bind}"))
    return EXIT_OK


def cmd_serve(args: argparse.Namespace) -> int:
    """Run the service under gunicorn (schema upgraded once, before the workers start):
    JSON logs, the access log and Prometheus multiprocess metrics (issuer.service.gunicorn_conf)."""
    import os
    from pathlib import Path

    from sqlalchemy.exc import SQLAlchemyError

    from issuer.service import config, create_app, db, dbfail, metrics

    try:
        app = create_app()
    except config.ConfigError as exc:
        raise UsageError(str(exc)) from None
    try:
        if args.demo:
            from issuer.service import demo

            print(demo.banner(demo.prepare(app), f"http://{args.bind}"), flush=True)
            if not (os.environ.get("CERTFREE_SECRET_KEY") or os.environ.get("CERTFREE_SECRET_KEY_FILE")):
                os.environ["CERTFREE_SECRET_KEY_FILE"] = str(demo.secret_key_file(app))  # the demo's own
        else:
            db.upgrade(app)
    except SQLAlchemyError as exc:
        raise UsageError(dbfail.unreachable(app.config["DATABASE_URL"], exc)) from None
    if not app.config.get("SECRET_KEY"):
        raise UsageError("CERTFREE_SECRET_KEY (or CERTFREE_SECRET_KEY_FILE) is not set: the session secret must be "
                         "given, the same on every host (docs/operations.md) / 未设置 CERTFREE_SECRET_KEY"
                         "（或 CERTFREE_SECRET_KEY_FILE）：会话密钥须由配置提供，各主机相同")
    _sign_status_lists(app)
    folder = os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", str(Path(app.instance_path) / "prometheus"))
    metrics.prepare_multiprocess_dir(folder)
    argv = [sys.executable, "-m", "gunicorn", "--config", "python:issuer.service.gunicorn_conf",
            "--workers", str(args.workers), "--bind", args.bind, "app:create_app()"]
    os.execv(sys.executable, argv)
    return EXIT_OK  # not reached


def _sign_status_lists(app: Any) -> None:
    """Bring every status list's stored token up to date before the workers start, so that
    no desk scan or status request pays for it: after an upgrade, a restore or a long stop
    a list is compressed and signed again here (50-250 ms a list at a million licences),
    not by the first request that reads it. This process is replaced by gunicorn (exec),
    so a key store's PKCS#11 session opened here is not inherited by any worker. If it
    fails, the service starts anyway and the first reader of each list signs it."""
    import logging.config
    import time

    from issuer.service import context, db, logs

    # JSON on stderr, as the workers will log (issuer.service.gunicorn_conf)
    logging.config.dictConfig(logs.gunicorn_logconfig())
    log = logging.getLogger("issuer.service.start")
    started = time.monotonic()
    try:
        with app.app_context():
            count = len(context.status_tokens())
    except context.STATUS_ERRORS as exc:
        log.warning("status lists not signed at start (%s): the first reader of each signs it", type(exc).__name__)
        return
    finally:
        db.engine(app).dispose()  # its connections closed, not cut by the exec
    log.info("status lists: %d current, signed and kept in %.1f s", count, time.monotonic() - started)


def add_commands(sub: Any) -> None:
    """``certfree serve|demo-data``, ``certfree desk-clerk add`` and ``certfree audit verify``."""
    p = sub.add_parser("serve", help="run the web service under gunicorn")
    p.add_argument("--bind", default="127.0.0.1:8000")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--demo", action="store_true", help="prepare demo data first and print the demo log-ins")
    p.set_defaults(func=cmd_serve)
    p = sub.add_parser("demo-data", help="create demo keys, operators and a resident with six licences")
    p.add_argument("--bind", default="127.0.0.1:8000", help="where the service will listen (for the printed URLs)")
    p.set_defaults(func=cmd_demo_data)
    desk = sub.add_parser("desk-clerk", help="front-desk clerks of the service's desk page").add_subparsers(dest="desk_command", required=True)
    p = desk.add_parser("add", help="add a clerk (password from CERTFREE_DESK_PASSWORD, or asked for)")
    p.add_argument("--username", required=True)
    p.set_defaults(func=cmd_desk_clerk_add)
    audit = sub.add_parser("audit", help="the service's audit log").add_subparsers(dest="audit_command", required=True)
    p = audit.add_parser("verify", help="check the audit log's hash chain (exit 1 if it was tampered with)")
    p.add_argument("--db", help="database URL or SQLite path (default: $CERTFREE_DATABASE_URL or instance/certfree.db)")
    p.set_defaults(func=cmd_audit_verify)


def cmd_desk_clerk_add(args: argparse.Namespace) -> int:
    import getpass
    import os
    import time

    from issuer.service import create_app, db
    from issuer.service.residents import EnrolError, add_clerk

    password = os.environ.get("CERTFREE_DESK_PASSWORD") or getpass.getpass("password for the new clerk: ")
    app = create_app()
    db.upgrade(app)
    with db.sessions(app)() as session:
        try:
            add_clerk(session, args.username, password, now=time.time())
        except EnrolError as exc:
            raise UsageError(f"{exc.field}: {exc.message} / {exc.message_zh}") from None
        session.commit()
    print(f"desk clerk {args.username!r} added; log in at /desk/login")
    return EXIT_OK


def cmd_audit_verify(args: argparse.Namespace) -> int:
    from issuer.service.audit import verify_chain

    with open_db(args.db, create=False) as session:  # reads only: creates nothing
        check = verify_chain(session)
    if check.ok:
        print(f"audit log intact: {check.entries} entries / 审计日志完整：{check.entries} 条")
        return EXIT_OK
    where = f" at entry {check.first_bad_seq}" if check.first_bad_seq is not None else ""
    print(f"AUDIT LOG TAMPERED{where}: {check.reason} / 审计日志被篡改{where}")
    return EXIT_REJECTED
