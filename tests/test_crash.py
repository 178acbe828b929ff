"""Crash safety: a status-list publish killed with SIGKILL at any moment leaves every
published file whole and valid, and re-running publishes every revocation."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from issuer.schemas import example
from keys import KeyDir
from verifier import load_trust_list
from verifier._status import load_status_lists

CERTFREE = str(Path(sys.executable).with_name("certfree"))


def certfree(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CERTFREE, *args], capture_output=True, text=True, env=env, timeout=300)


def _published_ok(out: Path, keys: KeyDir) -> dict[str, object]:
    """Every file in ``out`` is whole: index.json parses and each list verifies."""
    trust = load_trust_list(keys.trust_list(), keys.root_public_jwk())
    index = json.loads((out / "index.json").read_text())
    files = sorted(p.stem for p in out.glob("*.jws"))
    assert set(index["lists"]) <= set(files)
    load_status_lists(out, trust)  # raises on a torn or unsigned file
    return index


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_publish_killed_midway_leaves_old_lists_and_rerun_publishes_revocation(tmp_path: Path) -> None:
    env = {**os.environ, "CERTFREE_DATABASE_URL": f"sqlite:///{tmp_path / 'issuer.db'}"}
    assert certfree("keys", "init", "--dir", str(tmp_path / "keys"), "--insecure-dev", env=env).returncode == 0
    keys = KeyDir(tmp_path / "keys")
    (tmp_path / "id.json").write_text(json.dumps(example("id_card"), ensure_ascii=False))
    issued = certfree("issue", "id_card", "--keys", str(tmp_path / "keys"), "--claims", str(tmp_path / "id.json"), "--out", str(tmp_path / "id.jws"), env=env)
    assert issued.returncode == 0, issued.stderr
    licence_id = issued.stderr.split("licence id ")[1].split()[0]
    out = tmp_path / "published"
    assert certfree("status", "publish", "--keys", str(tmp_path / "keys"), "--out", str(out), env=env).returncode == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    assert certfree("status", "revoke", "--licence", licence_id, "--reason", "lost", env=env).returncode == 0

    # Kill publishes at several moments: before, during and after the writes.
    for delay in (0.05, 0.2, 0.4, 0.7, 1.0):
        proc = subprocess.Popen([CERTFREE, "status", "publish", "--keys", str(tmp_path / "keys"), "--out", str(out)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        _published_ok(out, keys)
        for name, data in before.items():  # each file is the old one or a whole new one
            current = (out / name).read_bytes()
            assert current == data or current.endswith(b"\n")

    # The revocation was committed before publishing: a complete re-run publishes it.
    assert certfree("status", "publish", "--keys", str(tmp_path / "keys"), "--out", str(out), env=env).returncode == 0
    _published_ok(out, keys)
    res = certfree("verify", str(tmp_path / "id.jws"), "--keys", str(tmp_path / "keys"), "--status", str(out), "--json", env=env)
    assert res.returncode == 1
    assert "revoked" in [f["code"] for f in json.loads(res.stdout)["failures"]]
