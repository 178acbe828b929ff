"""The service's JSON answers (issuer.service.jsonout): orjson writes exactly the bytes the
standard library writes with sorted keys, compact separators and raw UTF-8, for any value
of JSON's own types; Flask's ``default`` still writes dates and dataclasses; a value JSON
cannot hold is refused rather than written as invalid JSON."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from typing import Any

import pytest
from flask import Flask, jsonify
from hypothesis import given, settings
from hypothesis import strategies as st

from issuer.service.jsonout import OrjsonProvider

TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=20)  # no lone surrogates: not UTF-8
VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**63), max_value=2**64 - 1) | TEXT,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(TEXT, inner, max_size=5),
    max_leaves=25,
)


@pytest.fixture(scope="module")
def app() -> Flask:
    app = Flask(__name__)
    app.json = OrjsonProvider(app)
    return app


def _standard(value: Any) -> bytes:
    return (json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False) + "\n").encode()


@settings(max_examples=400, deadline=None)
@given(value=VALUES)
def test_an_answer_is_the_standard_librarys_json_byte_for_byte(app: Flask, value: Any) -> None:
    with app.app_context():
        answer = jsonify(value)
    assert answer.mimetype == "application/json"
    assert answer.get_data() == _standard(value)


def test_a_verdict_keeps_its_chinese_as_utf8_and_its_keys_sorted(app: Flask) -> None:
    verdict = {"verdict": "rejected", "failures": [{"code": "replayed", "message_zh": "该二维码已使用过，请持证人刷新"}]}
    with app.app_context():
        body = jsonify(verdict).get_data()
        assert body == _standard(verdict)
        assert "该二维码已使用过".encode() in body and b"\\u" not in body
        assert jsonify(a=1, b=[2]).get_data() == b'{"a":1,"b":[2]}\n'  # keyword arguments: one object
        assert jsonify(1, 2).get_data() == b"[1,2]\n" and jsonify().get_data() == b"null\n"
        with pytest.raises(TypeError):
            jsonify(1, b=2)


def test_dates_and_dataclasses_go_to_flasks_default_as_before(app: Flask) -> None:
    @dataclasses.dataclass
    class Entry:
        id: str
        at: dt.datetime

    value = {"when": dt.datetime(2026, 12, 7, 12, 0, tzinfo=dt.timezone.utc), "entry": Entry("x", dt.datetime(2026, 1, 2, 3, 4, 5))}
    standard = Flask("standard")  # Flask's own provider, made ASCII-free to compare
    standard.json.ensure_ascii = False  # type: ignore[attr-defined]
    with app.app_context():
        ours = jsonify(value).get_data()
    with standard.app_context():
        theirs = jsonify(value).get_data()
    assert ours == theirs
    assert json.loads(ours)["when"] == "Mon, 07 Dec 2026 12:00:00 GMT"


@pytest.mark.parametrize("value", [2**64, "lone \ud800"])
def test_what_json_cannot_hold_is_refused_not_written(app: Flask, value: Any) -> None:
    with app.app_context(), pytest.raises(TypeError):
        jsonify({"v": value})


def test_a_non_finite_number_is_written_as_null_not_as_invalid_json(app: Flask) -> None:
    with app.app_context():
        assert jsonify({"v": float("nan"), "w": float("inf")}).get_data() == b'{"v":null,"w":null}\n'
