"""When the database is unreachable, slow or hung: timeouts on every connection, and a 503
with ``Retry-After`` and a bilingual ``database_unavailable`` answer instead of a 500. The
same for the signing keys (a key file that cannot be unlocked, an HSM that does not answer):
503 ``signing_keys_unusable``.

PostgreSQL: ``connect_timeout`` (a server that does not answer the connection),
``statement_timeout`` and ``lock_timeout`` (a statement that runs or waits too long is
cancelled by the server), and the pool's wait for a free connection. SQLite: the busy
timeout (how long a writer waits for another's lock). Each is a setting
(``DATABASE_*_TIMEOUT``, seconds; docs/operations.md). Behind PgBouncer
(``DATABASE_POOLER``) the statement and lock timeouts are the database role's own."""

from __future__ import annotations

import logging
import math
from typing import Any, Mapping

from flask import Flask, current_app, make_response, request
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError, TimeoutError as PoolTimeout

from . import errors, metrics

log = logging.getLogger(__name__)

DEFAULTS = {
    "DATABASE_CONNECT_TIMEOUT": 5,     # s: PostgreSQL connection set-up, and the pool's wait
    "DATABASE_STATEMENT_TIMEOUT": 10,  # s: PostgreSQL statement and lock waits
    "DATABASE_BUSY_TIMEOUT": 10,       # s: SQLite waiting for another writer's lock
    "DATABASE_RETRY_AFTER": 10,        # s: the Retry-After of a 503
}


#: DATABASE_POOLER: what stands between the service and PostgreSQL. None: nothing (the
#: service's own connections); "pgbouncer": PgBouncer or a pooler like it, in session or
#: transaction mode, which refuses the ``options`` startup parameter that carries the
#: timeouts (set them on the database role instead, docs/operations.md) and, in transaction
#: mode, cannot keep a server-side prepared statement from one transaction to the next.
POOLERS = (None, "pgbouncer")


def engine_options(config: Mapping[str, Any]) -> dict[str, Any]:
    """The keyword arguments ``issuer.db.make_engine`` takes for these timeouts and, on
    PostgreSQL, for the pooler in between (``DATABASE_POOLER``: :data:`POOLERS`)."""
    url = make_url(config["DATABASE_URL"])
    if url.get_backend_name() == "sqlite":
        return {"busy_timeout_ms": int(float(config["DATABASE_BUSY_TIMEOUT"]) * 1000)}
    connect = float(config["DATABASE_CONNECT_TIMEOUT"])
    statement_ms = int(float(config["DATABASE_STATEMENT_TIMEOUT"]) * 1000)
    options: dict[str, Any] = {"pool_timeout": connect}
    if url.get_backend_name() == "postgresql":
        pooler = config.get("DATABASE_POOLER") or None
        if pooler not in POOLERS:
            from .config import ConfigError

            raise ConfigError(f"DATABASE_POOLER: {pooler!r} is not one of: pgbouncer (or unset) / "
                              "DATABASE_POOLER 只能为 pgbouncer 或不设置")
        connect_args: dict[str, Any] = {"connect_timeout": max(1, math.ceil(connect))}
        if pooler is None:
            connect_args["options"] = f"-c statement_timeout={statement_ms} -c lock_timeout={statement_ms}"
        else:
            connect_args["prepare_threshold"] = None  # psycopg: never prepare on the server
        options["connect_args"] = connect_args
    return options


def init_app(app: Flask) -> None:
    from keys import KeyStoreError  # keys.hsm.TokenError is one

    for exc in (OperationalError, PoolTimeout):
        app.register_error_handler(exc, _unavailable)
    app.register_error_handler(KeyStoreError, _keys_unusable)


def _kind(exc: BaseException) -> str:
    if isinstance(exc, PoolTimeout):
        return "pool_timeout"
    text = str(getattr(exc, "orig", exc)).lower()
    return "timeout" if ("timeout" in text or "canceling statement" in text or "locked" in text) else "unavailable"


def _unavailable(exc: BaseException) -> Any:
    kind = _kind(exc)
    metrics.database_error(kind)
    # the type and the kind only: a driver's message may quote the statement's values
    log.warning("database unavailable (%s: %s) on %s %s", kind, type(getattr(exc, "orig", exc)).__name__,
                request.method, request.url_rule.rule if request.url_rule else "<unmatched>")
    return _retry_later("database_unavailable")


def _keys_unusable(exc: BaseException) -> Any:
    # the type only: the key store's message names the key file
    log.warning("signing keys unusable (%s) on %s %s", type(exc).__name__, request.method,
                request.url_rule.rule if request.url_rule else "<unmatched>")
    return _retry_later("signing_keys_unusable")


def _retry_later(code: str) -> Any:
    if request.path.startswith("/status/"):  # read by sync clients: JSON, as the API
        m = errors.MESSAGES[code]
        response = errors.json_error(503, m.code, m.en, m.zh)
    else:
        response = make_response(errors.answer(503, code))
    response.headers["Retry-After"] = str(int(current_app.config["DATABASE_RETRY_AFTER"]))
    response.headers["Cache-Control"] = "no-store"
    return response


def unreachable(url: str, exc: BaseException) -> str:
    """Why ``serve`` cannot start, in both languages: the database's host, port and name
    (never its password) and the driver's first line, with the password removed."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        where = f"SQLite {parsed.database}"
    else:
        where = f"{parsed.get_backend_name()} {parsed.host or 'localhost'}:{parsed.port or 5432}/{parsed.database or ''}"
    cause = (str(getattr(exc, "orig", None) or exc).strip().splitlines() or [type(exc).__name__])[0]
    if parsed.password:
        cause = cause.replace(str(parsed.password), "***")
    return (f"the database {where} cannot be used: {cause} / 无法使用数据库 {where}：{cause}"
            f"（检查数据库是否已启动、地址和账号是否正确）")


__all__ = ["DEFAULTS", "engine_options", "init_app", "unreachable"]
