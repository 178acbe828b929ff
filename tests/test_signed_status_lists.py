"""Signed status lists kept in the database (``signed_status_lists``): what is signed again,
when, and which token is kept when two processes sign at once. Real SQLite files and the
real PostgreSQL server (``CERTFREE_TEST_POSTGRES_URL``), real keys and signatures."""

from __future__ import annotations

import json
from typing import Any, Iterator

import pytest
from service_fixtures import database_url  # noqa: F401  (the fixture: sqlite and postgresql)
from sqlalchemy import select

from conftest import NOW
from issuer import example
from issuer.db import Base, make_engine, session_factory
from issuer.db.models import SignedStatusList, StatusList
from issuer.records import _entries, _keep_signed, issue_licence, set_status, status_list_token, status_list_tokens
from issuer.status_list import LIST_TTL, _zopfli, encode_list
from keys import KeyDir
from keys.jose import split_compact
from verifier import load_trust_list, parse_status_list
from wallet import Wallet


@pytest.fixture
def sessions(database_url: str) -> Iterator[Any]:  # noqa: F811
    engine = make_engine(database_url)
    Base.metadata.create_all(engine)
    yield session_factory(engine)
    engine.dispose()


def _claims(token: str) -> dict[str, Any]:
    return json.loads(split_compact(token)[1])  # type: ignore[no-any-return]


def _one_list(sessions: Any, keydir: KeyDir, holder_jwk: dict[str, str]) -> tuple[str, str, int]:
    """An id card issued; its licence id, its list id and its credential's index."""
    with sessions() as session:
        issued = issue_licence(session, keydir, "id_card", example("id_card"), holder_jwk=holder_jwk, now=NOW - 3600)
        session.commit()
        [list_id] = session.scalars(select(StatusList.id)).all()
        idx = _claims(issued.credential)["status"]["status_list"]["idx"]
        return issued.jti, list_id, idx


def test_a_token_is_kept_for_other_sessions_until_a_licence_of_its_list_changes_state(
    sessions: Any, keydir: KeyDir, holder: Wallet
) -> None:
    licence, list_id, idx = _one_list(sessions, keydir, holder.device_jwk())
    with sessions() as first:
        token = status_list_token(first, keydir, list_id, now=NOW - 600)
        first.commit()
    with sessions() as second:  # another worker, later but within the re-sign interval
        assert status_list_token(second, keydir, list_id, now=NOW - 60) == token
    with sessions() as operator:
        set_status(operator, licence, "revoked", reason="lost", now=NOW - 50)
        operator.commit()
    with sessions() as second:
        revoked = status_list_token(second, keydir, list_id, now=NOW - 40)
        second.commit()
        assert second.get(StatusList, list_id).revision == second.get(SignedStatusList, list_id).revision == 1
    trust = load_trust_list(keydir.trust_list(), keydir.root_public_jwk())
    assert parse_status_list(token, trust).get(idx) == 0
    assert parse_status_list(revoked, trust).get(idx) == 1
    assert _claims(revoked)["iat"] == NOW - 40


def test_an_aged_token_is_signed_again_around_the_bit_array_it_holds(
    sessions: Any, keydir: KeyDir, holder: Wallet
) -> None:
    """A list that only aged is not compressed again: the new token (a new iat) carries
    the stored bit array. Kept from ``certfree status publish`` (zopfli), the array is not
    what the service's own zlib would give, so the test tells the two apart."""
    if _zopfli is None:
        pytest.fail("zopfli is a dependency (setup.cfg): it should be installed")
    licence, list_id, idx = _one_list(sessions, keydir, holder.device_jwk())
    with sessions() as session:
        set_status(session, licence, "revoked", reason="lost", now=NOW - 3000)
        [published] = status_list_tokens(session, keydir, now=NOW - 2000).values()  # best: zopfli
        session.commit()
        entries = _entries(session, list_id)
    assert (idx, 1) in entries  # the credential's entry, and its views'
    lst = _claims(published)["status_list"]["lst"]
    size = parse_status_list(published, load_trust_list(keydir.trust_list(), keydir.root_public_jwk())).size
    assert lst == encode_list(size, entries, best=True) != encode_list(size, entries, best=False)
    with sessions() as session:
        assert status_list_token(session, keydir, list_id, now=NOW - 2000 + LIST_TTL - 1) == published
        aged = status_list_token(session, keydir, list_id, now=NOW - 2000 + LIST_TTL)
        session.commit()
    assert aged != published
    assert _claims(aged)["iat"] == NOW - 2000 + LIST_TTL
    assert _claims(aged)["status_list"]["lst"] == lst


def test_of_two_tokens_signed_at_once_the_newer_revision_then_the_later_signing_is_kept(
    sessions: Any, keydir: KeyDir, holder: Wallet
) -> None:
    """Two workers sign the same list at once, each from what it read: the one that read
    the older revision stores last. Its token must not replace the newer one."""
    _licence, list_id, _idx = _one_list(sessions, keydir, holder.device_jwk())

    def keep(revision: int, signed_at: int) -> tuple[int, int]:
        with sessions() as session:
            _keep_signed(session, {"list_id": list_id, "revision": revision, "lst": "AA", "kid": "k", "base": "b",
                                   "signed_at": signed_at, "token": f"{revision}@{signed_at}"})
            session.commit()
            row = session.get(SignedStatusList, list_id)
            return row.revision, row.signed_at

    assert keep(1, 100) == (1, 100)
    assert keep(0, 200) == (1, 100)  # an older revision, signed later: not kept
    assert keep(1, 50) == (1, 100)  # the same revision signed earlier: not kept
    assert keep(1, 150) == (1, 150)
    assert keep(2, 10) == (2, 10)  # a newer revision, whatever its time


def test_every_list_is_read_in_one_query_and_only_a_changed_one_costs_more(
    sessions: Any, keydir: KeyDir, holder: Wallet
) -> None:
    """The desk's refresh and the metrics read every list: one statement for all of them
    while their tokens are current, whatever the number of lists; a revocation adds the
    statements of its own list only (its marks, the stored token)."""
    from sqlalchemy import event

    from issuer import LICENCE_TYPES

    issued = {}
    with sessions() as session:
        for licence_type in LICENCE_TYPES:
            issued[licence_type] = issue_licence(session, keydir, licence_type, example(licence_type),
                                                 holder_jwk=holder.device_jwk(), now=NOW - 3600)
        session.commit()
        signed = status_list_tokens(session, keydir, now=NOW - 600, best=False)
        session.commit()
    assert len(signed) >= 3  # several authorities, several lists

    def statements(run: Any) -> tuple[Any, list[str]]:
        seen: list[str] = []
        with sessions() as session:
            engine = session.get_bind()

            def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
                seen.append(statement.split()[0].upper())

            event.listen(engine, "before_cursor_execute", count)
            try:
                result = run(session)
                session.commit()
            finally:
                event.remove(engine, "before_cursor_execute", count)
        return result, [s for s in seen if s in ("SELECT", "INSERT", "UPDATE", "DELETE")]

    again, done = statements(lambda s: status_list_tokens(s, keydir, now=NOW - 60, best=False))
    assert again == signed and done == ["SELECT"]
    some, done = statements(lambda s: status_list_tokens(s, keydir, list_ids=sorted(signed)[:2], now=NOW - 60))
    assert some == {k: signed[k] for k in sorted(signed)[:2]} and done == ["SELECT"]

    with sessions() as operator:
        set_status(operator, issued["driving_license"].jti, "revoked", reason="lost", now=NOW - 50)
        operator.commit()
    after, done = statements(lambda s: status_list_tokens(s, keydir, now=NOW - 40, best=False))
    changed = {k for k in signed if after[k] != signed[k]}
    assert len(changed) == 1 and done == ["SELECT", "SELECT", "INSERT"]  # all lists; one list's marks; its token
    trust = load_trust_list(keydir.trust_list(), keydir.root_public_jwk())
    [list_id] = changed
    idx = _claims(issued["driving_license"].credential)["status"]["status_list"]["idx"]
    assert parse_status_list(signed[list_id], trust).get(idx) == 0
    assert parse_status_list(after[list_id], trust).get(idx) == 1
