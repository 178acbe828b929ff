"""gunicorn's settings for ``certfree serve`` (``-c python:issuer.service.gunicorn_conf``):
JSON logs with the request id, the access log on (JSON, no query strings, made from the few
fields it writes), and the Prometheus multiprocess clean-up when a worker exits."""

from __future__ import annotations

import os
from typing import Any

from gunicorn.glogging import Logger

from issuer.service.logs import gunicorn_logconfig

logconfig_dict = gunicorn_logconfig()  # at CERTFREE_LOG_LEVEL


class AccessLogger(Logger):
    """gunicorn's logger, with an access line's atoms cut to what
    :class:`issuer.service.logs.AccessFormatter` writes (and ``access_log_format`` names).
    gunicorn's own ``atoms`` copies every request and response header and every WSGI
    environ variable, cookies and credentials among them, into a dict for every request,
    only for the formatter to pick seven (gunicorn's access logging was 7 % of a desk scan's
    samples under py-spy: docs/benchmarks.md, "Load")."""

    def atoms(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any) -> dict[str, Any]:
        status = resp.status
        if isinstance(status, str):
            status = status.split(None, 1)[0]
        request_id = next((value for name, value in resp.headers if name.lower() == "x-request-id"), None)
        return {
            "h": environ.get("REMOTE_ADDR", "-"),
            "m": environ.get("REQUEST_METHOD"),
            "U": environ.get("PATH_INFO"),
            "s": status,
            "B": getattr(resp, "sent", None),
            "D": request_time.seconds * 1_000_000 + request_time.microseconds,
            "{x-request-id}o": request_id,
        }


logger_class = AccessLogger
access_log_format = '%(m)s %(U)s %(s)s'  # the JSON access line takes its fields from the atoms


def child_exit(_server: Any, worker: Any) -> None:
    """A worker that exits leaves its live gauges out of /metrics (its counters stay)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
