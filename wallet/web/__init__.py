"""The wallet's web home: the resident's installable, offline web wallet (PWA) and the
small JSON API its phone talks to when it has a network.

The phone's browser makes the device key (Web Crypto Ed25519, non-extractable, kept in
IndexedDB), enrols its public half with a signed challenge, keeps its scenario views in
IndexedDB, and builds every presentation (holder proof, ``CF1:`` envelope, QR code) itself,
with no network (``src/``, bundled into ``static/wallet.js``). The service holds no device
key and signs no holder proof.

``app.create_app`` registers :data:`bp`; the pages and the API share the service's
plumbing (accounts, CSRF, database session) from ``issuer.service``.
"""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("wallet", __name__, template_folder="templates", static_folder="static",
               static_url_path="/wallet/static")

from . import api, pages  # noqa: E402,F401  (the routes register themselves on bp)

__all__ = ["bp"]
