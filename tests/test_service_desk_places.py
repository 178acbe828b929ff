"""Desks bound to their place on the central service: a hotel desk's clerk cannot verify as
a window or a street check, sees only the hotel scenario, and the desk's pages show how old
the trust list and status lists are. Desks and clerks set up with ``certfree desk``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from flask import Flask
from service_fixtures import *
from service_fixtures import add_clerk, csrf, desk_login, enrol, issue_via_api, login, wallet_code


def _window_code(app: Flask, operators: dict[str, str]) -> str:
    resident = enrol(app, "sun")
    licence = issue_via_api(app.test_client(), operators["household_registration"], resident, "id_card", "place-key-001").json["id"]
    wallet = app.test_client()
    login(wallet, "sun")
    return wallet_code(wallet, licence, "window")


def test_a_hotel_desk_refuses_to_verify_as_a_window_or_a_street_check(app: Flask, operators: dict[str, str]) -> None:
    add_clerk(app, "front", desk="Hotel Haishu 0807 front desk", scenarios=("hotel",))
    desk = app.test_client()
    assert desk_login(desk, "front").status_code == 302
    page = desk.get("/desk/").get_data(as_text=True)
    assert 'value="hotel"' in page and 'value="window"' not in page and 'id="matter"' not in page
    assert "Hotel Haishu 0807 front desk" in page and 'id="freshness"' in page
    code = _window_code(app, operators)
    for scenario in ("window", "street_check"):
        refused = desk.post("/desk/verify", data={"csrf_token": csrf(desk, "/desk/"), "scenario": scenario, "code": code})
        html = refused.get_data(as_text=True)
        assert refused.status_code == 403 and 'data-code="scenario_not_allowed"' in html, scenario
        assert "本核验台不能核验该场景 / this desk may not verify this scenario" in html
    # the code was not spent by the refusals: the window can still take it
    add_clerk(app, "window", desk="Haishu window 3", scenarios=("window",), matters=("birth_registration",))
    window = app.test_client()
    desk_login(window, "window")
    other = window.post("/desk/verify", data={"csrf_token": csrf(window, "/desk/"), "scenario": "window",
                                              "matter": "id_card_renewal", "code": code})
    assert other.status_code == 403 and 'data-code="matter_not_allowed"' in other.get_data(as_text=True)
    ok = window.post("/desk/verify", data={"csrf_token": csrf(window, "/desk/"), "scenario": "window", "code": code})
    assert ok.status_code == 200 and 'data-verdict="accepted"' in ok.get_data(as_text=True)


def test_a_clerk_without_a_desk_verifies_nothing(app: Flask) -> None:
    from issuer.service import db, residents

    with app.app_context(), db.sessions(app)() as session:
        residents.add_clerk(session, "loose", PASSWORD, now=0)
        session.commit()
    client = app.test_client()
    assert desk_login(client, "loose").status_code == 302
    page = client.get("/desk/")
    assert page.status_code == 403 and 'data-code="no_desk"' in page.get_data(as_text=True)


def test_desks_and_clerks_are_set_up_with_the_cli(app: Flask, tmp_path: Path) -> None:
    env = {**os.environ, "CERTFREE_DATABASE_URL": app.config["DATABASE_URL"], "CERTFREE_INSTANCE_PATH": str(tmp_path / "cli"),
           "CERTFREE_DESK_PASSWORD": "a desk password"}
    certfree = str(Path(sys.executable).with_name("certfree"))

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([certfree, "desk", *args], capture_output=True, text=True, env=env, timeout=120)

    added = run("add", "--name", "Internet cafe Tianyi 2F", "--scenario", "internet_cafe")
    assert added.returncode == 0, added.stderr
    assert run("clerk", "--desk", "Internet cafe Tianyi 2F", "--username", "cafe1").returncode == 0
    wrong = run("add", "--name", "Cafe", "--scenario", "internet_cafe", "--matter", "birth_registration")
    assert wrong.returncode == 2 and "办理事项仅适用于政务服务窗口" in wrong.stderr
    missing = run("clerk", "--desk", "No such desk", "--username", "x1")
    assert missing.returncode == 2 and "no desk named" in missing.stderr
    assert "Internet cafe Tianyi 2F  scenarios: internet_cafe" in run("list").stdout
    client = app.test_client()
    assert desk_login(client, "cafe1", "a desk password").status_code == 302
    page = client.get("/desk/").get_data(as_text=True)
    assert 'value="internet_cafe"' in page and 'value="hotel"' not in page


def test_a_process_that_imports_only_the_desk_s_models_makes_every_table(tmp_path: Path) -> None:
    """A process that imports the desk's models (the replay cache's, say) and not the
    service's, then creates the issuer's tables (``certfree issue`` on a new file, in a
    test worker that ran the replay tests first): ``desk_memberships``' key to
    ``desk_clerks`` resolves. Before, it raised NoReferencedTableError."""
    script = ("import sys, desk.models\n"
              "from issuer.db import Base, make_engine\n"
              "Base.metadata.create_all(make_engine(sys.argv[1]))\n")
    done = subprocess.run([sys.executable, "-c", script, f"sqlite:///{tmp_path / 'issuer.db'}"],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
