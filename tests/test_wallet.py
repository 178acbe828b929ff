"""The holder's wallet on disk: several licences of a type, expired views, file modes, and
the errors a resident reads. Real keys, real signatures, a real QR image and decoder."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import NOW
from issuer import issue
from issuer.credential import VIEW_DAYS
from issuer.schemas import example
from keys import KeyDir
from scenarios import get_policy
from verifier import Verifier
from wallet import Wallet, WalletError, png_bytes, present, write
from wallet.store import claims_of

ROOT = Path(__file__).resolve().parent.parent
DAY = 86400


def _wallet(tmp_path: Path) -> Wallet:
    return Wallet.init(tmp_path / "wallet", passphrase=b"wallet pass")


def _ebike(keydir: KeyDir, w: Wallet, plate: str, at: int) -> str:
    claims = {**example("ebike_registration"), "plate": plate}
    issued = issue(keydir, "ebike_registration", claims, holder_jwk=w.device_jwk(), now=at)
    w.store(issued.licence_type, issued.jti, issued.credential, issued.views)
    return issued.jti


def test_two_licences_of_one_type_are_both_kept_and_each_can_be_shown(
    tmp_path: Path, keydir: KeyDir, verifier: Verifier
) -> None:
    w = _wallet(tmp_path)
    first = _ebike(keydir, w, "京AH37022", NOW - 7200)
    second = _ebike(keydir, w, "京BH67890", NOW - 3600)
    held = {s.jti: claims_of(s.credential)["plate"] for s in w.licences()}
    assert held == {first: "京AH37022", second: "京BH67890"}
    # By default the licence issued last is shown; it verifies through a real QR image.
    result = verifier.verify(png_bytes(present(w, "ebike_check", now=NOW).text), "ebike_check")
    assert result.claims["plate"] == "京BH67890"
    assert claims_of(w.licence("ebike_registration").credential)["plate"] == "京BH67890"


def test_a_re_issue_replaces_only_the_licence_it_names(tmp_path: Path, keydir: KeyDir) -> None:
    w = _wallet(tmp_path)
    first = _ebike(keydir, w, "京AH37022", NOW - 7200)
    second = _ebike(keydir, w, "京BH67890", NOW - 3600)
    new = issue(keydir, "ebike_registration", {**example("ebike_registration"), "plate": "京AH37022"},
                holder_jwk=w.device_jwk(), now=NOW)
    w.store(new.licence_type, new.jti, new.credential, new.views, replaces=first)
    assert sorted(s.jti for s in w.licences()) == sorted([second, new.jti])


def test_a_wallet_in_the_old_layout_is_read_and_moved_when_stored_again(tmp_path: Path, keydir: KeyDir) -> None:
    w = _wallet(tmp_path)
    issued = issue(keydir, "id_card", example("id_card"), holder_jwk=w.device_jwk(), now=NOW - 3600)
    record = {"licence_type": "id_card", "jti": issued.jti, "credential": issued.credential, "views": dict(issued.views)}
    (w.path / "licences" / "id_card.json").write_text(json.dumps(record))  # as older versions wrote it
    assert [s.jti for s in w.licences()] == [issued.jti]
    w.store("id_card", issued.jti, issued.credential, issued.views)
    assert sorted(p.name for p in (w.path / "licences").iterdir()) == [f"id_card-{issued.jti}.json"]


def test_an_expired_view_is_not_chosen_over_one_a_desk_accepts(tmp_path: Path, keydir: KeyDir, verifier: Verifier) -> None:
    w = _wallet(tmp_path)
    old = issue(keydir, "id_card", example("id_card"), holder_jwk=w.device_jwk(), now=NOW - (VIEW_DAYS + 5) * DAY)
    w.store(old.licence_type, old.jti, old.credential, old.views)
    assert claims_of(old.views["hotel"])["exp"] < NOW < claims_of(old.credential)["exp"]
    book = issue(keydir, "household_book", example("household_book"), holder_jwk=w.device_jwk(), now=NOW - 3600)
    w.store(book.licence_type, book.jti, book.credential, book.views)
    prefer = get_policy("hotel").accepts
    assert prefer.index("id_card") < prefer.index("household_book")  # the ID card ranks first...
    p = present(w, "hotel", prefer=prefer, now=NOW)
    assert p.licence_type == "household_book"  # ...but its view has expired
    assert verifier.verify(png_bytes(p.text), "hotel").licence_type == "household_book"


def test_only_expired_views_say_so_in_both_languages(tmp_path: Path, keydir: KeyDir) -> None:
    w = _wallet(tmp_path)
    old = issue(keydir, "id_card", example("id_card"), holder_jwk=w.device_jwk(), now=NOW - (VIEW_DAYS + 5) * DAY)
    w.store(old.licence_type, old.jti, old.credential, old.views)
    with pytest.raises(WalletError) as caught:
        present(w, "hotel", now=NOW)
    assert "expired" in str(caught.value) and "已过期" in str(caught.value)
    with pytest.raises(WalletError) as caught:
        w.licence("driving_license")
    assert caught.value.message_zh == "钱包中没有驾驶证"


def test_wallet_folder_licences_and_qr_files_are_the_residents_alone(tmp_path: Path, keydir: KeyDir) -> None:
    """Under a usual desktop umask, nothing a wallet writes about its licences is readable by
    anyone else: the licence files hold the full credential and every view (name, ID number,
    address), however they were stored (new, a second of a type, a re-issue, the old layout
    moved)."""
    old_umask = os.umask(0o022)  # a usual desktop umask: files 644, folders 755 unless set
    try:
        w = _wallet(tmp_path)
        first = _ebike(keydir, w, "京AH37022", NOW - 3600)
        second = _ebike(keydir, w, "京BH67890", NOW - 3000)
        again = issue(keydir, "ebike_registration", {**example("ebike_registration"), "plate": "京AH37022"},
                      holder_jwk=w.device_jwk(), now=NOW - 60)
        w.store(again.licence_type, again.jti, again.credential, again.views, replaces=first)
        card = issue(keydir, "id_card", example("id_card"), holder_jwk=w.device_jwk(), now=NOW - 3600)
        record = {"licence_type": "id_card", "jti": card.jti, "credential": card.credential, "views": dict(card.views)}
        (w.path / "licences" / "id_card.json").write_text(json.dumps(record))  # as older versions wrote it (644)
        w.store("id_card", card.jti, card.credential, card.views)  # ... moved to the new layout
        png = write(present(w, "ebike_check", now=NOW).text, tmp_path / "code.png")
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(w.path.stat().st_mode) == 0o700
    assert stat.S_IMODE((w.path / "licences").stat().st_mode) == 0o700
    assert stat.S_IMODE(png.stat().st_mode) == 0o600
    assert stat.S_IMODE((w.path / "device.key.pem").stat().st_mode) & 0o077 == 0
    held = sorted((w.path / "licences").glob("*.json"))
    assert len(held) == 3 and {s.jti for s in w.licences()} == {second, again.jti, card.jti}
    assert not (w.path / "licences" / "id_card.json").exists()
    for path in held:
        assert path.stat().st_mode & 0o077 == 0, f"{path.name} is {stat.S_IMODE(path.stat().st_mode):o}"
    assert not [p.name for p in (w.path / "licences").iterdir() if p.suffix != ".json"]  # no temp file left over


@pytest.mark.parametrize("content", [b"eyJhbGciOi.truncated", b"eyJ" + "凭证".encode("utf-8"), b"\x89PNG\r\n\x1a\n\x00\x00"])
def test_qr_command_refuses_a_file_that_is_no_credential_with_a_usage_error(tmp_path: Path, content: bytes) -> None:
    source = tmp_path / "bad.jws"
    source.write_bytes(content)
    res = subprocess.run([sys.executable, str(ROOT / "app.py"), "qr", str(source), "--out", str(tmp_path / "x.png")],
                         capture_output=True, text=True, cwd=ROOT)
    assert res.returncode == 2, res.stderr
    assert "Traceback" not in res.stderr
    assert "not a certfree credential" in res.stderr and "不是 certfree 凭证" in res.stderr
    assert not (tmp_path / "x.png").exists()


def test_a_licence_id_cannot_name_a_file_outside_the_wallet(tmp_path: Path) -> None:
    w = _wallet(tmp_path)
    with pytest.raises(WalletError):
        w.store("id_card", "../../escape", "eyJ.x.y", {})
    assert not (tmp_path / "escape.json").exists() and not list(tmp_path.glob("**/*escape*"))
