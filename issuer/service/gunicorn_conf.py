"""gunicorn's settings for ``certfree serve`` (``-c python:issuer.service.gunicorn_conf``):
JSON logs with the request id, the access log on (JSON, no query strings), and the
Prometheus multiprocess clean-up when a worker exits."""

from __future__ import annotations

import os
from typing import Any

from issuer.service.logs import gunicorn_logconfig

logconfig_dict = gunicorn_logconfig(os.environ.get("CERTFREE_LOG_LEVEL", "INFO").upper())
access_log_format = '%(m)s %(U)s %(s)s'  # the JSON access line takes its fields from the atoms


def child_exit(_server: Any, worker: Any) -> None:
    """A worker that exits leaves its live gauges out of /metrics (its counters stay)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
