"""Per-app shared objects: the key directory, the clock, the policies, the desk's verifier."""

from __future__ import annotations

import threading
from typing import Any, Iterable, Mapping

from flask import current_app

from keys import KeyDir
from scenarios import Policy, load_policies

from . import config

_lock = threading.Lock()


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
    """The desk's verifier: trust list pinned to the root key, replay cache in a SQLite file
    shared by the workers of this machine, the app's clock and policies, and the status
    lists, refreshed from the issuer's records at most every DESK_STATUS_REFRESH_SECONDS
    (a stand-alone desk station syncs them from /status/*.jws: desk.source.FolderSource)."""
    from verifier import SqliteReplayCache, load_status_lists, load_trust_list

    from .metrics import CountingVerifier

    ext = current_app.extensions
    with _lock:
        verifier = ext.get("certfree.verifier")
        if verifier is None:
            store = keys()
            trust = load_trust_list(store.trust_list(), store.root_public_jwk())
            cache = SqliteReplayCache(current_app.config["DESK_REPLAY_DB"])
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
            verifier.status = load_status_lists(status_tokens(), verifier.trust)
            ext["certfree.status_at"] = moment
        return verifier


def desk_register() -> Any:
    from scenarios.register import Register

    ext = current_app.extensions
    with _lock:
        if "certfree.register" not in ext:
            ext["certfree.register"] = Register(current_app.config["DESK_REGISTER"])
        return ext["certfree.register"]


def status_tokens(list_ids: Iterable[str] | None = None) -> list[str]:
    """Signed status lists (all, or ``list_ids``), shared by the public endpoint and the
    desk: a list is re-signed only when its content or signing key changes, or its token
    is STATUS_RESIGN_SECONDS old (see :func:`issuer.records.status_list_token`)."""
    from sqlalchemy import select

    from issuer import records
    from issuer.db.models import StatusList

    from .db import db_session

    session = db_session()
    ids = list(list_ids) if list_ids is not None else list(session.scalars(select(StatusList.id).order_by(StatusList.id)))
    cache = current_app.extensions.setdefault("certfree.status_tokens", {})
    tokens = [
        records.status_list_token(session, keys(), list_id, now=int(now()), cache=cache,
                                  max_age=current_app.config["STATUS_RESIGN_SECONDS"])
        for list_id in ids
    ]
    return [token for token in tokens if token is not None]
