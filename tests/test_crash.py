"""Crash safety: a batch issuance and a status-list publish killed with SIGKILL leave a
consistent database and whole, valid files; re-running completes without duplicates or
lost revocations."""

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
from service_fixtures import database_url  # noqa: F401  (fixture: SQLite and PostgreSQL)
from verifier import load_trust_list
from verifier._status import load_status_lists

CERTFREE = str(Path(sys.executable).with_name("certfree"))


def certfree(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CERTFREE, *args], capture_output=True, text=True, env=env, timeout=300)


def _published_ok(out: Path, keys: KeyDir) -> dict[str, object]:
    """Every file in ``out`` is whole: index.json parses and each list verifies."""
    trust = load_trust_list(keys.trust_list(), keys.root_public_jwk())
    index = json.loads((out / "index.json").read_text())
    files = sorted(p.name for p in out.glob("*.jws"))
    assert {f"{entry['id']}.jws" for entry in index["lists"]} <= set(files)
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


BENCH_ISSUE = Path(__file__).resolve().parent.parent / "bench" / "issue.py"


def _counts(url: str) -> dict[str, int]:
    """What the issuer's records hold, and every way a torn batch could show in them."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            q = lambda sql: conn.execute(text(sql)).scalar_one()  # noqa: E731
            return {
                # a resident is their device key: the bench resumes from licences.holder
                "records": q("SELECT count(*) FROM licences"),
                "distinct_residents": q("SELECT count(DISTINCT holder) FROM licences"),
                "entries": q("SELECT count(*) FROM status_entries"),
                "dup_indexes": q("SELECT count(*) FROM (SELECT list_id, idx FROM status_entries "
                                 "GROUP BY list_id, idx HAVING count(*) > 1) AS d"),
                "orphans": q("SELECT count(*) FROM status_entries WHERE licence_id NOT IN (SELECT id FROM licences)"),
                # a gap: a licence short of its six entries, or a list's counter that differs
                # from the entries it holds, or a licence whose own reference is not its entry
                "short": q("SELECT count(*) FROM licences l WHERE "
                           "(SELECT count(*) FROM status_entries e WHERE e.licence_id = l.id) <> 6"),
                "miscounted": q("SELECT count(*) FROM status_lists s WHERE s.used <> "
                                "(SELECT count(*) FROM status_entries e WHERE e.list_id = s.id)"),
                "unlinked": q("SELECT count(*) FROM licences l WHERE NOT EXISTS (SELECT 1 FROM status_entries e "
                              "WHERE e.licence_id = l.id AND e.scope = 'credential' "
                              "AND e.list_id = l.status_list AND e.idx = l.status_idx)"),
            }
    finally:
        engine.dispose()


# bench/issue.py as it runs, with one hook: in its transaction STOP_IN (record_batch call), once its
# licence rows are written and before their status entries are, it says so on stdout and
# waits to be killed. The kill thus lands inside an open write transaction, at a known
# batch, however fast or loaded the machine is (no polling, no clock).
_KILL_MIDWAY = r"""
import sys, time
from pathlib import Path
bench, stop_in, argv = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3:]
sys.path.insert(0, str(bench.parent))
import issuer.batch as batch
import issue
real_record, real_insert = issue.record_batch, batch._insert_many
recorded = [0]

def record_batch(*args, **kwargs):
    recorded[0] += 1
    return real_record(*args, **kwargs)

def insert_many(conn, table, columns, rows):
    real_insert(conn, table, columns, rows)
    if recorded[0] == stop_in and table is batch._LICENCES:
        print(f"KILL ME: batch {stop_in} half written", flush=True)
        time.sleep(3600)

issue.record_batch, batch._insert_many = record_batch, insert_many
issue.main(argv)
print("FINISHED WITHOUT BEING KILLED", flush=True)
"""


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_batch_issuance_killed_midway_resumes_without_duplicates(database_url: str, tmp_path: Path) -> None:  # noqa: F811
    """On SQLite and on PostgreSQL: the bench killed inside a batch's transaction, then run
    again, ends with exactly N licences, none twice, none missing a status entry."""
    n, batch, stop_in = 1200, 100, 4
    size = 2 * batch  # licences a transaction: two signed batches
    args = [str(n), "--database", database_url, "--keys", str(tmp_path / "keys"), "--batch", str(batch),
            "--commit-every", "2", "--raw-seconds", "0.2"]
    log = tmp_path / "first-run.stderr"
    with log.open("wb") as stderr:
        # its own process group: the kill takes the parent and its signing workers together
        proc = subprocess.Popen([sys.executable, "-c", _KILL_MIDWAY, str(BENCH_ISSUE), str(stop_in), *args],
                                stdout=subprocess.PIPE, stderr=stderr, text=True, start_new_session=True)
    try:
        seen = []
        for line in proc.stdout or ():  # blocks until the hook speaks (pytest-timeout caps it)
            seen.append(line)
            if line.startswith("KILL ME"):
                break
        assert seen and seen[-1].startswith("KILL ME"), "".join(seen) + log.read_text()
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    killed = _counts(database_url)
    # The batches before stop_in are committed whole; the one killed half-written left nothing.
    assert killed["records"] == (stop_in - 1) * size, killed
    # Consistent: every committed licence is a distinct resident's, with its 6 status entries.
    assert killed["records"] == killed["distinct_residents"]
    assert killed["entries"] == 6 * killed["records"]
    assert killed["dup_indexes"] == killed["orphans"] == killed["short"] == killed["miscounted"] == 0, str(killed)
    assert killed["unlinked"] == 0
    rerun = subprocess.run([sys.executable, str(BENCH_ISSUE), *args], capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr  # the script has no exit code but an error's
    assert "Traceback" not in rerun.stderr and "INTERRUPTED" not in rerun.stdout, rerun.stdout + rerun.stderr
    done = _counts(database_url)
    assert done["records"] == done["distinct_residents"] == n
    assert done["entries"] == 6 * n
    assert done["dup_indexes"] == done["orphans"] == done["short"] == done["miscounted"] == done["unlinked"] == 0
    assert f"{killed['records']:,} already issued (resumed), {n - killed['records']:,} to issue" in rerun.stdout
    assert f"database now holds {n:,} id_card licence records for {n:,} distinct device keys (no duplicate)" in rerun.stdout
    assert "(whole;" in rerun.stdout
