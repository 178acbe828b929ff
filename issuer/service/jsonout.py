"""The service's JSON answers, written by orjson.

Flask's own provider writes an answer with the standard library's ``json.dumps`` (about 50
µs for a desk scan's verdict, a tenth of what the scan's verify costs); orjson writes the
same document in a few. The bytes are those of ``json.dumps(value, sort_keys=True,
separators=(",", ":"), ensure_ascii=False)`` plus Flask's closing newline, for every value
of JSON's own types (tests/test_json_answers.py holds the two equal on any such value), and
the types orjson would write otherwise (dates, dataclasses) go to Flask's own ``default``,
as before. Two things differ from Flask's provider:

* text is written as UTF-8, not as ``\\uXXXX`` escapes (the same JSON text, smaller for
  Chinese);
* a value JSON cannot hold raises ``TypeError`` (an integer beyond 64 bits, a lone
  surrogate) or is written as ``null`` (a NaN or an infinity), rather than being written out
  as invalid JSON (``NaN``). The service answers with neither.

An app in debug mode, or with ``app.json.compact = False``, keeps Flask's indented answers.
Reading JSON is left to Flask (and the issuer API's strict reader, ``jsonbody``).
"""

from __future__ import annotations

from typing import Any, cast

import orjson
from flask import Response
from flask.json.provider import DefaultJSONProvider

__all__ = ["OrjsonProvider"]

_OPTIONS = orjson.OPT_SORT_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


class OrjsonProvider(DefaultJSONProvider):
    """:class:`flask.json.provider.DefaultJSONProvider` with its compact answers written by
    orjson (see the module's text)."""

    def response(self, *args: Any, **kwargs: Any) -> Response:  # type: ignore[override]
        if (self.compact is None and self._app.debug) or self.compact is False:
            return cast(Response, super().response(*args, **kwargs))
        value = self._prepare_response_obj(args, kwargs)  # Flask's own reading of jsonify's arguments
        body = orjson.dumps(value, default=self.default, option=_OPTIONS)
        response_class = cast(type[Response], self._app.response_class)  # the app's: a flask.Response
        return response_class(body + b"\n", mimetype=self.mimetype)
