"""Per-app shared objects: the key directory, the clock, the policies, the desk's verifier."""

from __future__ import annotations

import logging
import threading
from typing import Any, Iterable, Mapping

from flask import current_app
from sqlalchemy.exc import SQLAlchemyError

from keys import KeyDir, KeyStoreError
from scenarios import Policy, load_policies

from . import config

log = logging.getLogger(__name__)
_lock = threading.Lock()

#: What :func:`status_tokens` raises when the database or the key store cannot give the
#: lists now; each caller decides what then (keep the lists held, log, leave a gauge).
STATUS_ERRORS = (SQLAlchemyError, KeyStoreError)


def now() -> float:
    return float(current_app.extensions["certfree.clock"]())


def keys() -> KeyDir:
    ext = current_app.extensions
    if "certfree.keys" not in ext:
        ext["certfree.keys"] = KeyDir(current_app.config["KEYS_DIR"], passphrase=config.passphrase(current_app))
    return ext["certfree.keys"]  # type: ignore[no-any-return]


def policies() -> Mapping[str, Policy]:
    ext = current_app.extensions
    if "certfree.policies" not in ext:
        ext["certfree.policies"] = load_policies(current_app.config["POLICIES_DIR"])
    return ext["certfree.policies"]  # type: ignore[no-any-return]


def desk_verifier() -> Any:
    """The desk's verifier: trust list pinned to the root key, the replay cache the
    configuration names (DESK_REPLAY: desk.replay.replay_cache), the app's clock and
    policies, and the status lists, refreshed from the issuer's records at most every DESK_STATUS_REFRESH_SECONDS
    (a stand-alone desk station syncs them from /status/*.jws: desk.source.FolderSource)."""
    from desk.replay import replay_cache
    from verifier import load_status_lists, load_trust_list

    from . import db
    from .metrics import CountingVerifier

    ext = current_app.extensions
    with _lock:
        verifier = ext.get("certfree.verifier")
        if verifier is None:
            store = keys()
            trust = load_trust_list(store.trust_list(), store.root_public_jwk())
            cache = replay_cache(current_app.config["DESK_REPLAY"], current_app.config["DESK_REPLAY_DB"], db.engine)
            verifier = CountingVerifier(trust, clock=ext["certfree.clock"], replay_cache=cache, policies=policies())
            ext["certfree.verifier"] = verifier
            ext["certfree.status_at"] = float("-inf")
        moment = now()
        if moment - ext["certfree.status_at"] >= current_app.config["DESK_STATUS_REFRESH_SECONDS"]:
            # A rotation or compromise publishes a new trust list (and signs status lists
            # with the new key): the desk takes it with the status lists, never an older one.
            store = keys()
            token = store.trust_list()
            if token != ext.get("certfree.trust_token"):
                verifier.trust = load_trust_list(token, store.root_public_jwk(), held=verifier.trust)
                ext["certfree.trust_token"] = token
            tokens = _desk_status_tokens()
            held = ext.get("certfree.status_held")
            if tokens is not None and (held is None or held[0] is not verifier.trust or held[1] != tokens):
                verifier.status = load_status_lists(tokens, verifier.trust)  # else: nothing to verify again
                ext["certfree.status_held"] = (verifier.trust, tokens)
            ext["certfree.status_at"] = moment
        return verifier


def _desk_status_tokens() -> list[str] | None:
    """The status lists for the desk's refresh, or None when the database or the key store
    cannot give them now: a list due to be signed again needs a write, which waits for any
    other writer (on SQLite, at most DATABASE_BUSY_TIMEOUT). The desk then goes on verifying
    offline from the lists it holds, as a stand-alone desk between two syncs: their age is
    on every page and each scenario's staleness limit decides. Tried again at the next
    refresh."""
    try:
        return status_tokens()
    except STATUS_ERRORS as exc:
        log.warning("desk status lists not refreshed (%s); verifying with the lists held, tried again in %s s",
                    type(exc).__name__, current_app.config["DESK_STATUS_REFRESH_SECONDS"])
        return None


def desk_register() -> Any:
    from scenarios.register import Register

    ext = current_app.extensions
    with _lock:
        if "certfree.register" not in ext:
            ext["certfree.register"] = Register(current_app.config["DESK_REGISTER"])
        return ext["certfree.register"]


def status_tokens(list_ids: Iterable[str] | None = None) -> list[str]:
    """Signed status lists (all, or ``list_ids``), shared by the public endpoint, the desk
    and the metrics, and kept in the database for every worker: one query reads them all;
    a list is compressed again only when one of its licences changed state, and signed
    again when its token is STATUS_RESIGN_SECONDS old or its key changed (see
    :func:`issuer.records.status_list_token`). In a session of its own, committed: what it
    signs is kept whatever becomes of the request's own transaction."""
    from issuer import records

    from .db import sessions

    with sessions()() as session:
        tokens = records.status_list_tokens(session, keys(), list_ids=list_ids, now=int(now()),
                                            max_age=current_app.config["STATUS_RESIGN_SECONDS"], best=False)
        session.commit()
    return list(tokens.values())


def sign_lists_of(licence_id: str) -> None:
    """Sign again the status lists a change of ``licence_id``'s state made stale, after
    that change is committed: the request that made the change pays for it, not the next
    desk scan. If it fails (a database or key store error), the next reader of each list
    signs it; nothing else is lost."""
    from sqlalchemy import select

    from issuer.db.models import StatusEntry

    from .db import sessions

    try:
        with sessions()() as session:
            ids = session.scalars(select(StatusEntry.list_id).where(StatusEntry.licence_id == licence_id).distinct()).all()
        status_tokens(sorted(ids))
    except STATUS_ERRORS as exc:
        log.warning("status lists not signed after a change of state (%s); the next reader of each signs it",
                    type(exc).__name__)
