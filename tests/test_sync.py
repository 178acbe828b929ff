"""Sync: fetch, verify, then replace atomically; failures and interruptions leave old files whole."""

from __future__ import annotations

import functools
import http.server
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import Any, Iterator

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from conftest import NOW
from issuer import example
from issuer.db import Base, make_engine, session_factory
from issuer.records import issue_licence, publish_status_lists, set_status
from issuer.status_list import status_list_claims
from keys import KeyDir
from keys.jose import TYP_STATUS_LIST, key_id, sign_compact
from keys.sync import SyncError, sync
from verifier import VerificationFailed, load_status_lists, load_trust_list

PASS = b"sync tests"


@pytest.fixture
def issuer(tmp_path: Path) -> Iterator[tuple[KeyDir, Any]]:
    keys = KeyDir.init(tmp_path / "keys", passphrase=PASS, now=NOW - 365 * 86400)
    engine = make_engine(tmp_path / "issuer.db")
    Base.metadata.create_all(engine)
    with session_factory(engine)() as session:
        for t in ("id_card", "driving_license", "ebike_registration"):
            issue_licence(session, keys, t, example(t), now=NOW - 86400)
        session.commit()
        yield keys, session
    engine.dispose()


def serve_layout(keys: KeyDir, session: Any, src: Path, now: int) -> Path:
    """The service's layout in a folder: trust-list.jws, status/index.json, status/<id>.jws."""
    src.mkdir(parents=True, exist_ok=True)
    shutil.copy(keys.path / "trust_list.jws", src / "trust-list.jws")
    publish_status_lists(session, keys, src / "status", now=now)
    return src


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_sync_from_folder_then_verify(issuer: tuple[KeyDir, Any], tmp_path: Path) -> None:
    keys, session = issuer
    src = serve_layout(keys, session, tmp_path / "src", NOW - 60)
    result = sync(src, tmp_path / "desk", keys.root_public_jwk())
    assert len(result.lists) == 3 and result.trust_seq == 1
    trust = load_trust_list((tmp_path / "desk" / "trust_list.jws").read_text(), keys.root_public_jwk())
    store = load_status_lists(tmp_path / "desk" / "status", trust)
    assert set(store.lists) == set(result.lists)
    assert (tmp_path / "desk" / "root.jwk.json").is_file()
    # the cached index maps each list's URI (its token's signed sub) to its file, and the
    # verifier finds every list by that URI
    cached = json.loads((tmp_path / "desk" / "status" / "index.json").read_text())["lists"]
    assert [e["id"] for e in cached] == sorted(result.lists)
    for entry in cached:
        assert entry["uri"] == f"http://127.0.0.1:8000/status/{entry['id']}.jws" and entry["file"] == f"{entry['id']}.jws"
        assert store.get(entry["uri"]) is store.lists[entry["id"]]


def test_sync_refuses_a_list_that_is_not_at_the_uri_the_index_names(issuer: tuple[KeyDir, Any], tmp_path: Path) -> None:
    keys, session = issuer
    src = serve_layout(keys, session, tmp_path / "src", NOW - 60)
    index = json.loads((src / "status" / "index.json").read_text())
    index["lists"][0]["uri"] = "http://127.0.0.1:8000/status/elsewhere.jws"
    (src / "status" / "index.json").write_text(json.dumps(index))
    with pytest.raises(SyncError) as exc:
        sync(src, tmp_path / "desk", keys.root_public_jwk())
    assert exc.value.code == "source_malformed" and not (tmp_path / "desk").exists()


@pytest.fixture
def http_base(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    root = tmp_path / "www"
    root.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a, **k: None  # type: ignore[attr-defined]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/api", root / "api"
    finally:
        server.shutdown()
        server.server_close()


def test_sync_over_http(issuer: tuple[KeyDir, Any], tmp_path: Path, http_base: tuple[str, Path]) -> None:
    keys, session = issuer
    base, folder = http_base
    serve_layout(keys, session, folder, NOW - 60)
    result = sync(base, tmp_path / "desk", keys.root_public_jwk(), timeout=5)
    assert len(result.lists) == 3
    with pytest.raises(SyncError):
        sync(base + "/missing", tmp_path / "desk", keys.root_public_jwk(), timeout=5)


def test_sync_refuses_older_trust_list_and_keeps_cache(issuer: tuple[KeyDir, Any], tmp_path: Path) -> None:
    keys, session = issuer
    old_src = serve_layout(keys, session, tmp_path / "old", NOW - 120)
    keys.rotate("police_station", now=NOW - 100)
    new_src = serve_layout(keys, session, tmp_path / "new", NOW - 60)
    desk = tmp_path / "desk"
    sync(new_src, desk, keys.root_public_jwk())
    before = snapshot(desk)
    with pytest.raises(VerificationFailed) as exc:
        sync(old_src, desk, keys.root_public_jwk())
    assert exc.value.codes == ["trust_list_rollback"]
    assert snapshot(desk) == before


def test_sync_refuses_status_list_by_unknown_key_and_keeps_cache(issuer: tuple[KeyDir, Any], tmp_path: Path) -> None:
    keys, session = issuer
    src = serve_layout(keys, session, tmp_path / "src", NOW - 120)
    desk = tmp_path / "desk"
    sync(src, desk, keys.root_public_jwk())
    before = snapshot(desk)
    set_status(session, _any_licence(session), "revoked", reason="lost")
    session.commit()
    src2 = serve_layout(keys, session, tmp_path / "src2", NOW - 60)
    rogue = Ed25519PrivateKey.generate()
    victim = sorted((src2 / "status").glob("*.jws"))[-1]
    token = sign_compact(status_list_claims(victim.stem, "household_registration", 1024, [], NOW),
                         rogue, kid=key_id(rogue.public_key()), typ=TYP_STATUS_LIST)
    victim.write_text(token)
    with pytest.raises(VerificationFailed) as exc:
        sync(src2, desk, keys.root_public_jwk())
    assert exc.value.codes == ["status_list_invalid"]
    assert snapshot(desk) == before  # not even the good lists were half-applied


def _any_licence(session: Any) -> str:
    from issuer.records import list_licences

    return list_licences(session)[0].id


def test_copy_failing_midway_leaves_cache_intact(issuer: tuple[KeyDir, Any], tmp_path: Path) -> None:
    keys, session = issuer
    src = serve_layout(keys, session, tmp_path / "src", NOW - 120)
    desk = tmp_path / "desk"
    sync(src, desk, keys.root_public_jwk())
    before = snapshot(desk)
    src2 = serve_layout(keys, session, tmp_path / "src2", NOW - 60)
    sorted((src2 / "status").glob("*.jws"))[1].unlink()  # the source breaks after the first list
    with pytest.raises(SyncError):
        sync(src2, desk, keys.root_public_jwk())
    assert snapshot(desk) == before


def test_killed_sync_leaves_old_files_byte_identical(issuer: tuple[KeyDir, Any], tmp_path: Path) -> None:
    """A real sync in a subprocess is SIGKILLed while writing (its fsync made to block):
    every cached file is still the old one, byte for byte."""
    keys, session = issuer
    src = serve_layout(keys, session, tmp_path / "src", NOW - 120)
    desk = tmp_path / "desk"
    sync(src, desk, keys.root_public_jwk())
    before = snapshot(desk)
    keys.rotate("traffic_police", now=NOW - 90)  # so the trust list really changes
    src2 = serve_layout(keys, session, tmp_path / "src2", NOW - 60)
    # The handshake: the subprocess's first fsync says so on stdout and blocks; the test reads
    # that line (no polling, no clock: pytest-timeout caps a sync that never gets there).
    script = textwrap.dedent(f"""
        import json, os, sys, time
        from pathlib import Path
        def blocking_fsync(fd):
            print("WRITING", flush=True)
            time.sleep(3600)
        os.fsync = blocking_fsync
        from keys.sync import sync
        sync({str(src2)!r}, {str(desk)!r}, json.loads(Path({str(keys.path / 'root.jwk.json')!r}).read_text()))
        print("SYNCED WITHOUT AN FSYNC", flush=True)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=str(Path(__file__).resolve().parents[1]),
                            stdout=subprocess.PIPE, text=True)
    try:
        said = proc.stdout.readline() if proc.stdout else ""
        assert said == "WRITING\n", f"the sync subprocess said {said!r} (exit {proc.poll()}) instead of blocking in fsync"
        # the new trust list is fully written to its temp file and waits for fsync
        temps = list(desk.rglob(".*.tmp"))
        assert temps and temps[0].stat().st_size > 0
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stdout:
            proc.stdout.close()
    after = {k: v for k, v in snapshot(desk).items() if not Path(k).name.startswith(".")}
    assert after == before
    # the leftover temp file is ignored by the verifier, and the next sync succeeds
    trust = load_trust_list((desk / "trust_list.jws").read_text(), keys.root_public_jwk())
    load_status_lists(desk / "status", trust)
    assert sync(src2, desk, keys.root_public_jwk()).trust_seq == trust.seq + 1


def test_cli_sync(issuer: tuple[KeyDir, Any], tmp_path: Path) -> None:
    keys, session = issuer
    src = serve_layout(keys, session, tmp_path / "src", NOW - 60)
    cli = str(Path(sys.executable).with_name("certfree"))
    res = subprocess.run([cli, "sync", "--from", str(src), "--to", str(tmp_path / "desk"), "--root", str(keys.path / "root.jwk.json")],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    assert "trust list seq 1; 3 status list(s)" in res.stdout
    bad = subprocess.run([cli, "sync", "--from", str(tmp_path / "nowhere"), "--to", str(tmp_path / "desk"), "--root", str(keys.path / "root.jwk.json")],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 1 and "unchanged" in bad.stderr


@pytest.mark.parametrize("index", [b"[" * 100_000, b'["L1\\n"]', b'{"lists": [{"id": "L1\\n"}]}'])
def test_a_hostile_status_index_is_a_sync_error(issuer: tuple[KeyDir, Any], tmp_path: Path, index: bytes) -> None:
    """100 KB of nested arrays (under the 256 KB cap; the JSON parser runs out of stack)
    and a list id with a final newline are refused as SyncError, with the cache untouched."""
    keys, session = issuer
    src = serve_layout(keys, session, tmp_path / "src", NOW - 60)
    (src / "status" / "index.json").write_bytes(index)
    with pytest.raises(SyncError):
        sync(src, tmp_path / "cache", keys.root_public_jwk())
    assert not (tmp_path / "cache").exists() or snapshot(tmp_path / "cache") == {}


def test_a_reply_cut_off_mid_chunk_is_a_sync_error(tmp_path: Path) -> None:
    import socket

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)

    def reply() -> None:
        conn, _ = server.accept()
        conn.recv(65536)
        conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nZZZ\r\n")  # not a chunk size
        conn.close()

    threading.Thread(target=reply, daemon=True).start()
    try:
        with pytest.raises(SyncError, match="cannot fetch"):
            sync(f"http://127.0.0.1:{server.getsockname()[1]}", tmp_path / "cache", {"kty": "OKP", "crv": "Ed25519", "x": "A" * 43})
    finally:
        server.close()


def test_an_unreachable_source_is_a_coded_bilingual_error_without_a_python_repr(tmp_path: Path) -> None:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    port = server.getsockname()[1]
    server.close()  # nothing listens there now: the connection is refused
    with pytest.raises(SyncError) as caught:
        sync(f"http://127.0.0.1:{port}", tmp_path / "cache", {"kty": "OKP", "crv": "Ed25519", "x": "A" * 43})
    text = str(caught.value)
    assert caught.value.code == "source_unreachable"
    assert "无法读取同步来源" in text and "Connection refused" in text
    assert "URLError(" not in text and "ConnectionRefusedError(" not in text
    assert not (tmp_path / "cache").exists()
