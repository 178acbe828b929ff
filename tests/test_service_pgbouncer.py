"""The service behind PgBouncer (Debian's, in transaction mode) in front of a PostgreSQL
server of its own (tests/pg_instance.py). PgBouncer refuses the ``options`` startup
parameter that carries the service's timeouts, and in transaction mode it cannot keep a
server-side prepared statement from one transaction to the next; with
``DATABASE_POOLER = "pgbouncer"`` the service sends neither, and the timeouts set on the
database role apply. Locally these skip without pgbouncer; in CI they fail."""

from __future__ import annotations

import time
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from pg_instance import DATABASE, USER, PrivatePgBouncer, PrivatePostgres, pgbouncer, private_pg
from service_fixtures import auth, enrol, issue_via_api, login, make_app, service_keys, wallet_code

__all__ = ["pgbouncer", "private_pg", "service_keys"]


def _conninfo(port: int) -> str:
    return f"host=127.0.0.1 port={port} dbname={DATABASE} user={USER}"


def test_why_the_service_needs_to_know_it_is_behind_pgbouncer(pgbouncer: PrivatePgBouncer) -> None:
    """The two things PgBouncer refuses, shown with psycopg alone: a connection that sends
    the timeouts as ``options``, and two clients whose prepared statements (psycopg prepares
    a query it has run five times) meet on one server connection."""
    with pytest.raises(psycopg.OperationalError, match="unsupported startup parameter: options"):
        psycopg.connect(_conninfo(pgbouncer.port), options="-c statement_timeout=1000")

    def alternate(**kwargs: object) -> None:
        with psycopg.connect(_conninfo(pgbouncer.port), **kwargs) as a, psycopg.connect(_conninfo(pgbouncer.port), **kwargs) as b:
            for i in range(8):
                with a.transaction():
                    a.execute("SELECT %s::int", (i,)).fetchone()
                with b.transaction():
                    b.execute("SELECT %s::text", (str(i),)).fetchone()

    with pytest.raises(psycopg.errors.DuplicatePreparedStatement):
        alternate()
    alternate(prepare_threshold=None)


def test_the_service_runs_behind_pgbouncer_with_the_timeouts_on_the_role(
    tmp_path: Path, service_keys: Path, private_pg: PrivatePostgres, pgbouncer: PrivatePgBouncer
) -> None:
    """Without the setting the service cannot open a connection through PgBouncer. With it,
    the migrations, licences issued and revoked, a wallet's codes and a desk's status lists
    all go through it, many times over and from several connections at once; and a
    statement past the role's own timeout is cancelled by the server."""
    from issuer.service import context, db, issuing

    with psycopg.connect(_conninfo(private_pg.port), autocommit=True) as conn:  # the server itself
        conn.execute(f"ALTER ROLE {USER} SET statement_timeout = '2s'")
        conn.execute(f"ALTER ROLE {USER} SET lock_timeout = '2s'")

    with pytest.raises(OperationalError, match="unsupported startup parameter: options"):
        make_app(tmp_path / "unset", service_keys, pgbouncer.url)

    app = make_app(tmp_path / "pooled", service_keys, pgbouncer.url, DATABASE_POOLER="pgbouncer", TESTING=False)
    engine = db.engine(app)
    with engine.connect() as one, engine.connect() as two:  # two clients of the pooler at once
        for conn in (one, two):
            assert conn.execute(text("SHOW statement_timeout")).scalar() == "2s"
            assert conn.execute(text("SHOW lock_timeout")).scalar() == "2s"
        for _ in range(8):
            assert one.execute(text("SELECT count(*) FROM licences")).scalar() == 0
            one.commit()
            assert two.execute(text("SELECT count(*) FROM status_lists")).scalar() >= 0
            two.commit()

    with app.app_context(), db.sessions(app)() as session:
        _op, token = issuing.create_operator(session, "op", "household_registration", now=time.time())
        session.commit()
    api = app.test_client()
    ids = []
    for n in range(8):  # the same statements, well past psycopg's five
        resident = enrol(app, f"pooled-{n}")
        answer = issue_via_api(api, token, resident, "id_card", f"pooled-key-{n:04d}")
        assert answer.status_code == 201, answer.get_data(as_text=True)
        ids.append(answer.json["id"])
    revoked = api.post(f"/api/v1/licences/{ids[0]}/revoke", json={"reason": "lost"}, headers=auth(token))
    assert revoked.status_code == 200, revoked.get_data(as_text=True)
    wallet = app.test_client()
    login(wallet, "pooled-1")
    code = wallet_code(wallet, ids[1], "hotel")
    with app.app_context():
        assert context.desk_verifier().verify(code, scenario="hotel").licence_type == "id_card"

    with engine.connect() as conn, pytest.raises(OperationalError, match="statement timeout"):
        conn.execute(text("SELECT pg_sleep(5)"))  # cancelled by the server at the role's 2 s
    engine.dispose()


def test_an_unknown_pooler_is_refused_by_name(tmp_path: Path, service_keys: Path) -> None:
    from issuer.service.config import ConfigError

    with pytest.raises(ConfigError, match="DATABASE_POOLER: 'pgpool' is not one of: pgbouncer"):
        make_app(tmp_path, service_keys, "postgresql+psycopg://certfree@127.0.0.1:1/certfree", DATABASE_POOLER="pgpool")
