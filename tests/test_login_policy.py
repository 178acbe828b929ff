"""New accounts' names and passwords (issuer/service/login_policy.py), through the wallet's
enrol page: NIST SP 800-63B passwords (10+, not common, not holding the name), RFC 8265
user names (one name whatever its case), and no name that can pass for a taken one."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient
from service_fixtures import *  # noqa: F403
from service_fixtures import PASSWORD, csrf, enrol, login


def _enrol(client: FlaskClient, username: str, password: str) -> tuple[int, str]:
    answer = client.post("/wallet/enrol", data={"username": username, "password": password,
                                                 "csrf_token": csrf(client, "/wallet/enrol")})
    return answer.status_code, answer.get_data(as_text=True)


@pytest.mark.parametrize("password, says", [
    ("12345678", "至少10位"),             # short
    ("password12", "太容易被猜到"),       # long enough, but a common one
    ("1234567890", "太容易被猜到"),
    ("qwertyuiop", "太容易被猜到"),
    ("zora-keeps-her-bike-2026", "不能包含用户名"),  # holds the name
])
def test_a_weak_password_is_refused_saying_why_in_both_languages(app: Flask, password: str, says: str) -> None:
    status, html = _enrol(app.test_client(), "Zora", password)
    assert status == 400 and says in html and "password:" in html


def test_a_strong_password_and_a_case_mapped_name(app: Flask) -> None:
    client = app.test_client()
    assert _enrol(client, "  Zora ", PASSWORD)[0] == 302
    for typed in ("zora", "ZORA", "Zora"):  # one account, however it is typed
        assert login(app.test_client(), typed).status_code == 302, typed
    status, html = _enrol(app.test_client(), "ZORA", PASSWORD)
    assert status == 400 and "用户名已被使用" in html


@pytest.mark.parametrize("username, says", [
    ("dеmo", "容易混淆"),  # a Cyrillic е between Latin letters
    ("a b", "不含空格"),
    ("x" * 65, "1至64个"),
    ("\u200bdemo", "不含空格"),
])
def test_a_name_that_can_pass_for_another_is_refused(app: Flask, username: str, says: str) -> None:
    enrol(app, "demo")
    status, html = _enrol(app.test_client(), username, PASSWORD)
    assert status == 400 and says in html and "username:" in html, html[:400]


def test_a_name_whose_latin_look_alike_is_taken_is_refused(app: Flask) -> None:
    from issuer.service import login_policy

    enrol(app, "nino")
    assert login_policy.latin_skeleton("ninо") == "nino"  # the last letter is Cyrillic
    status, html = _enrol(app.test_client(), "ninо", PASSWORD)
    assert status == 400 and ("与已有用户名过于相似" in html or "容易混淆" in html)
