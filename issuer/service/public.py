"""Public, unauthenticated endpoints a sync client or desk fetches: the issuers' JWKS, the
root-signed trust list and the signed status lists. Cacheable, with ETags."""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Response, abort, current_app, request, url_for
from sqlalchemy import select

from issuer.db.models import StatusList
from issuer.status_list import list_uri

from . import context
from .db import db_session

bp = Blueprint("public", __name__)


def _cached(body: str | bytes, mimetype: str, max_age: int) -> Response:
    response = Response(body, mimetype=mimetype)
    response.headers["Cache-Control"] = f"public, max-age={max_age}"
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.add_etag()
    response.make_conditional(request)
    return response


@bp.get("/.well-known/jwks.json")
def jwks() -> Response:
    body = json.dumps(context.keys().jwks(), sort_keys=True)
    return _cached(body, "application/json", current_app.config["PUBLIC_MAX_AGE"])


@bp.get("/trust-list.jws")
def trust_list() -> Response:
    return _cached(context.keys().trust_list(), "application/jose", current_app.config["PUBLIC_MAX_AGE"])


@bp.get("/status/index.json")
def status_index() -> Response:
    ids = db_session().scalars(select(StatusList.id).order_by(StatusList.id))
    lists: list[dict[str, Any]] = [{"id": list_id, "uri": list_uri(list_id), "url": url_for("public.status_list", list_id=list_id)}
                                   for list_id in ids]
    return _cached(json.dumps({"lists": lists}), "application/json", current_app.config["STATUS_MAX_AGE"])


@bp.get("/status/<list_id>.jws")
def status_list(list_id: str) -> Response:
    tokens = context.status_tokens([list_id])
    if not tokens:
        abort(404)
    token = tokens[0]
    return _cached(token, "application/statuslist+jwt", current_app.config["STATUS_MAX_AGE"])
