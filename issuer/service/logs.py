"""Logs as one JSON object per line (python-json-logger), each with the request's id.

The request id comes from the ``X-Request-ID`` header when it is short and plain (at most
64 characters of ``A-Z a-z 0-9 . _ -``), else it is made here; the response returns it.
Every line logged while a request runs carries it (:class:`RequestIdFilter`, set on the
handlers); the access log line takes it from the response header. The access log holds the
method, the path without its query string, the status, the size and the time: never the
query string, the referrer, the headers or the cookies (a query string or a referrer can
carry a name, an ID number or a token)."""

from __future__ import annotations

import logging
import os
import re
import uuid
from typing import Any

from flask import Flask, g, has_request_context, request
from pythonjsonlogger.json import JsonFormatter as _JsonFormatter

HEADER = "X-Request-ID"
_SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_RENAMED = {"asctime": "time", "levelname": "level", "name": "logger"}


def init_app(app: Flask) -> None:
    app.before_request(_take_request_id)
    app.after_request(_return_request_id)


def request_id() -> str | None:
    """The current request's id (None outside a request)."""
    return g.get("request_id") if has_request_context() else None


def _take_request_id() -> None:
    given = request.headers.get(HEADER, "")
    g.request_id = given if _SAFE_ID.fullmatch(given) else uuid.uuid4().hex


def _return_request_id(response: Any) -> Any:
    if "request_id" in g:
        response.headers[HEADER] = g.request_id
    return response


class RequestIdFilter(logging.Filter):
    """Adds ``request_id`` to every record (None outside a request). Set on handlers, so it
    sees the records of every logger that propagates to them."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = request_id()
        return True


class JsonFormatter(_JsonFormatter):
    """``{"time", "level", "logger", "message", "request_id", ...}``; a traceback goes into
    ``exc_info`` as one JSON string, so a line stays a line."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s",
                         rename_fields=_RENAMED, **kwargs)


class AccessFormatter(_JsonFormatter):
    """gunicorn's access line (its record's ``args`` are gunicorn's log atoms), from chosen
    atoms only: the formatted message, the query string, headers and cookies are left out."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s", rename_fields=_RENAMED, **kwargs)

    def add_fields(self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]) -> None:
        super().add_fields(log_data, record, message_dict)
        atoms = record.args if isinstance(record.args, dict) else {}
        log_data.update({
            "message": "request",
            "request_id": atoms.get("{x-request-id}o") or None,
            "remote": atoms.get("h"),
            "method": atoms.get("m"),
            "path": atoms.get("U"),
            "status": _int(atoms.get("s")),
            "bytes": _int(atoms.get("B")),
            "duration_ms": round(int(atoms.get("D") or 0) / 1000, 3),
        })


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def gunicorn_logconfig(level: str | None = None) -> dict[str, Any]:
    """gunicorn's ``logconfig_dict``: every logger (the app's, SQLAlchemy's, gunicorn's
    error log) as JSON on stderr, the access log as JSON on stdout; at ``level``, by default
    ``CERTFREE_LOG_LEVEL`` (INFO if unset)."""
    if level is None:
        level = os.environ.get("CERTFREE_LOG_LEVEL", "INFO").upper()
    handler = {"class": "logging.StreamHandler", "filters": ["request_id"]}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": RequestIdFilter}},
        "formatters": {"json": {"()": JsonFormatter}, "access": {"()": AccessFormatter}},
        "handlers": {
            "json": {**handler, "formatter": "json", "stream": "ext://sys.stderr"},
            "access": {**handler, "formatter": "access", "stream": "ext://sys.stdout"},
        },
        "root": {"level": level, "handlers": ["json"]},
        "loggers": {
            "gunicorn.error": {"level": level, "handlers": ["json"], "propagate": False},
            "gunicorn.access": {"level": "INFO", "handlers": ["access"], "propagate": False},
        },
    }


__all__ = ["HEADER", "init_app", "request_id", "RequestIdFilter", "JsonFormatter", "AccessFormatter",
           "gunicorn_logconfig"]
