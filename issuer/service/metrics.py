"""Prometheus metrics at ``/metrics`` (prometheus-client).

Under gunicorn each worker is a process of its own: ``certfree serve`` points
``PROMETHEUS_MULTIPROC_DIR`` at an emptied folder before the workers start, every worker
writes its samples there, and ``/metrics`` adds up all of them (a worker that exits is
marked dead by the ``child_exit`` hook in :mod:`issuer.service.gunicorn_conf`). Without
that variable (tests, ``flask run``) the process's own samples are served.

Labels hold only closed sets (the URL rule, never the raw path; scenario names; failure
codes; licence types; status list ids), so no metric carries personal data."""

from __future__ import annotations

import json
import os
import time
from typing import Any

from flask import Blueprint, Flask, Response, current_app, g, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client import multiprocess

from keys.jose import split_compact
from verifier import VerificationFailed, Verifier

REGISTRY = CollectorRegistry(auto_describe=True)  # the samples of this process
REQUESTS = Counter("certfree_http_requests_total", "HTTP requests by route (URL rule), method and status",
                   ["route", "method", "status"], registry=REGISTRY)
LATENCY = Histogram("certfree_http_request_duration_seconds", "HTTP request latency by route (URL rule)",
                    ["route", "method"], registry=REGISTRY,
                    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))
VERIFICATIONS = Counter("certfree_verifications_total", "codes checked at the service's desk, by scenario and outcome",
                        ["scenario", "outcome"], registry=REGISTRY)
VERIFICATION_FAILURES = Counter("certfree_verification_failures_total",
                                "failed checks at the service's desk, by scenario and failure code",
                                ["scenario", "code"], registry=REGISTRY)
ISSUED = Counter("certfree_licences_issued_total", "licences issued through the API, by licence type",
                 ["licence_type"], registry=REGISTRY)
STATUS_AGE = Gauge("certfree_status_list_age_seconds", "age of the signed status list served now (seconds since its iat)",
                   ["list"], registry=REGISTRY, multiprocess_mode="mostrecent")
DB_ERRORS = Counter("certfree_database_errors_total", "requests refused because the database was unavailable",
                    ["kind"], registry=REGISTRY)

bp = Blueprint("metrics", __name__)
UNMATCHED = "<unmatched>"


def init_app(app: Flask) -> None:
    app.before_request(_start)
    app.after_request(_count)
    app.register_blueprint(bp)


def _start() -> None:
    g.metrics_started = time.perf_counter()


def _count(response: Any) -> Any:
    started = g.pop("metrics_started", None)
    route = request.url_rule.rule if request.url_rule is not None else UNMATCHED
    REQUESTS.labels(route, request.method, str(response.status_code)).inc()
    if started is not None:
        LATENCY.labels(route, request.method).observe(time.perf_counter() - started)
    return response


def licence_issued(licence_type: str) -> None:
    ISSUED.labels(licence_type).inc()


def database_error(kind: str) -> None:
    DB_ERRORS.labels(kind).inc()


class CountingVerifier(Verifier):
    """The service desk's verifier, counting each verification by scenario and outcome."""

    def verify(self, qr: Any, scenario: str | None = None, **kwargs: Any) -> Any:
        label = scenario or "none"
        try:
            result = super().verify(qr, scenario, **kwargs)
        except VerificationFailed as exc:
            VERIFICATIONS.labels(label, "refused").inc()
            for failure in exc.failures:
                VERIFICATION_FAILURES.labels(label, failure.code).inc()
            raise
        VERIFICATIONS.labels(label, "accepted_with_warnings" if result.warnings else "accepted").inc()
        return result


def _status_list_ages() -> None:
    """Set the age gauge of every status list the service serves now (a database or key
    failure leaves the gauges as they were: the request counters show the failure)."""
    from . import context

    try:
        tokens = context.status_tokens()
    except context.STATUS_ERRORS:
        database_error("metrics")
        return
    now = context.now()
    for token in tokens:
        claims = json.loads(split_compact(token)[1])  # our own token, just signed or cached
        STATUS_AGE.labels(str(claims["sub"])).set(max(0.0, now - float(claims["iat"])))


@bp.get("/metrics")
def metrics() -> Response:
    _status_list_ages()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    response = Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)
    response.headers["Cache-Control"] = "no-store"
    return response


def prepare_multiprocess_dir(folder: str) -> None:
    """Empty ``folder`` (created 700 if missing) before the workers start: samples of an
    earlier run would otherwise be added to this one's."""
    os.makedirs(folder, mode=0o700, exist_ok=True)
    for name in os.listdir(folder):
        if name.endswith(".db"):
            os.unlink(os.path.join(folder, name))


__all__ = ["init_app", "licence_issued", "database_error", "CountingVerifier", "prepare_multiprocess_dir", "bp"]
