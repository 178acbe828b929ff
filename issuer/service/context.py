"""Per-app shared objects: the key directory, the clock, the policies, the desk's verifier."""

from __future__ import annotations

import threading
from typing import Any, Mapping

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
    (a stand-alone desk would sync them from /status/*.jws instead)."""
    from verifier import SqliteReplayCache, Verifier, load_status_lists, load_trust_list

    from . import issuing
    from .db import db_session

    ext = current_app.extensions
    with _lock:
        verifier = ext.get("certfree.verifier")
        if verifier is None:
            store = keys()
            trust = load_trust_list(store.trust_list(), store.root_public_jwk())
            cache = SqliteReplayCache(current_app.config["DESK_REPLAY_DB"])
            verifier = Verifier(trust, clock=ext["certfree.clock"], replay_cache=cache, policies=policies())
            ext["certfree.verifier"] = verifier
            ext["certfree.status_at"] = float("-inf")
        moment = now()
        if moment - ext["certfree.status_at"] >= current_app.config["DESK_STATUS_REFRESH_SECONDS"]:
            tokens = issuing.status_tokens(db_session(), keys(), now=moment)
            verifier.status = load_status_lists(tokens.values(), verifier.trust)
            ext["certfree.status_at"] = moment
        return verifier


def desk_register() -> Any:
    from scenarios.register import Register

    ext = current_app.extensions
    with _lock:
        if "certfree.register" not in ext:
            ext["certfree.register"] = Register(current_app.config["DESK_REGISTER"])
        return ext["certfree.register"]
