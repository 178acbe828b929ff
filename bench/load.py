"""Load test: desk scans over HTTP against the same server's floor, with fresh codes only.

    .venv/bin/python bench/load.py [--seconds 15] [--workers 2] [--stored 100000]

The service runs under gunicorn (``certfree serve --demo``, 2 workers) on 127.0.0.1 and
Debian's ``wrk`` drives it (``apt-get install wrk``); both share the machine. Before the
server starts, the desk's replay cache (its SQLite file) holds ``--stored`` proofs that
have not expired, as a busy desk's does. For each of 1, 8 and 32 connections it measures

* the *floor*: a trivial JSON endpoint of the same server (``/healthz`` when the server
  has one, else ``/.well-known/jwks.json``, which reads one small file), the web stack's
  own cost per request;
* ``POST /desk/verify.json``: the demo desk clerk's system verifying internet-café codes
  (its session cookie and CSRF header, as the desk page sends them). Every request carries
  a presentation never sent before: the demo resident's phone (a device key enrolled
  through the wallet API) makes a pool of them just before each measurement, sized to the
  floor's rate for the time (a desk cannot outrun the floor), split between wrk's
  threads so no code is sent twice. A response that is not ``accepted`` (a replay, a
  stale code) is counted, and so is any code sent after a thread's share ran out;
  either makes the run fail.

Each line also gives the workers' CPU per request while it ran (their user and system time
from ``/proc``, over the requests wrk counted): on a shared machine the rates move with
whatever else runs, the CPU a request costs the server much less.

And once, at 8 connections, the desk page's own scan (``POST /desk/verify``, the HTML
answer, fresh codes too) and the resident's wallet page. Then it prints the replay
table's size, and the target of issue 17: at 8 connections the desk scan reaches at
least 0.6 x the floor's rate with p99 at most 20 ms (MET or MISSED). Exit 1 on any
socket error, non-2xx response, refused code or reused code.
"""

from __future__ import annotations

import argparse
import http.cookiejar
import json
import math
import os
import re
import secrets
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as `python bench/load.py`

from cryptography.hazmat.primitives import serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402

from issuer.service.devices import signed_message  # noqa: E402
from keys import public_jwk  # noqa: E402
from keys.jose import b64url_encode  # noqa: E402
from verifier import SqliteReplayCache  # noqa: E402
from wallet import present_view  # noqa: E402

BIN = Path(sys.executable).parent
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
CONNECTIONS = (1, 8, 32)
TARGET_RATIO, TARGET_P99_MS, TARGET_CONNECTIONS = 0.6, 20.0, 8
FRESHNESS = 60  # the internet café's freshness window: a code must be used within it
STORED_FOR = 24 * 3600  # the pre-filled proofs do not expire during the run


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def opener() -> tuple[urllib.request.OpenerDirector, http.cookiejar.CookieJar]:
    jar = http.cookiejar.CookieJar()
    return urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar)), jar


def csrf(op: urllib.request.OpenerDirector, url: str) -> str:
    match = CSRF.search(op.open(url, timeout=30).read().decode())
    assert match, f"no CSRF token on {url}"
    return match.group(1)


def cookie_header(jar: http.cookiejar.CookieJar) -> str:
    return "; ".join(f"{c.name}={c.value}" for c in jar)


def ms(value: str | None) -> float:
    """wrk's latency ("812.00us", "3.41ms", "1.02s") in milliseconds."""
    if not value:
        return math.nan
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", value).groups()  # type: ignore[union-attr]
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def wrk(url: str, seconds: int, connections: int, script: Path | None = None, headers: tuple[str, ...] = ()) -> dict[str, Any]:
    threads = min(2, connections)
    cmd = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s", "--timeout", "10s", "--latency"]
    for h in headers:
        cmd += ["-H", h]
    if script:
        cmd += ["-s", str(script)]
    out = subprocess.run(cmd + [url], capture_output=True, text=True, timeout=seconds + 120).stdout

    def grab(pattern: str) -> str | None:
        m = re.search(pattern, out)
        return m.group(1) if m else None

    return {
        "rps": float(grab(r"Requests/sec:\s+([\d.]+)") or 0),
        "p50": ms(grab(r"\s50%\s+(\S+)")),
        "p99": ms(grab(r"\s99%\s+(\S+)")),
        "requests": int(grab(r"(\d+) requests in") or 0),
        "non_2xx": int(grab(r"Non-2xx or 3xx responses: (\d+)") or 0),
        "socket_errors": grab(r"Socket errors: (.*)"),
        "accepted": int(grab(r"LUA accepted=(\d+)") or 0),
        "refused": int(grab(r"LUA accepted=\d+ refused=(\d+)") or 0),
        "reused": int(grab(r"reused=(\d+)") or 0),
        "raw": out,
    }


def proof_body(device: Ed25519PrivateKey, challenge: str, purpose: str, label: str) -> dict[str, Any]:
    """The body of a wallet API call for ``purpose``: the phone's device key and its
    signature over ``challenge`` (the service's own ``signed_message``)."""
    return {"jwk": public_jwk(device.public_key()), "challenge": challenge,
            "signature": b64url_encode(device.sign(signed_message(purpose, challenge))), "label": label}


def proven(op: urllib.request.OpenerDirector, base: str, device: Ed25519PrivateKey, path: str, purpose: str) -> Any:
    """A wallet API call signed by the phone's device key over a fresh challenge."""
    got = json.loads(op.open(base + "/wallet/api/challenge", timeout=30).read())
    body = proof_body(device, got["challenge"], purpose, "bench/load.py")
    request = urllib.request.Request(base + path, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json", "X-CSRF-Token": got["csrf"]})
    return json.loads(op.open(request, timeout=30).read())


# ---- fresh presentations, made by the phone in two processes ----------------------------

_phone: dict[str, Any] = {}


def _phone_init(view: str, raw_key: bytes) -> None:
    _phone["view"], _phone["key"] = view, Ed25519PrivateKey.from_private_bytes(raw_key)


def _present(count: int) -> list[str]:
    return [present_view(_phone["view"], _phone["key"], licence_type="id_card", scenario="internet_cafe").text
            for _ in range(count)]


def fresh_codes(pool: ProcessPoolExecutor, count: int) -> list[str]:
    chunks = [min(2000, count - i) for i in range(0, count, 2000)]
    return [text for part in pool.map(_present, chunks) for text in part]


# ---- wrk's script: each thread sends its own share of the codes, once each ---------------

LUA = r"""
local threads, counter = {}, 0
function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end
function init(args)
  bodies, i, accepted, refused, reused = {}, 0, 0, 0, 0
  local n = 0
  for line in io.lines("%(bodies)s") do
    if n %% %(threads)d == id then bodies[#bodies + 1] = line end
    n = n + 1
  end
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "%(content_type)s"
  wrk.headers["Cookie"] = "%(cookie)s"
  wrk.headers["X-CSRF-Token"] = "%(csrf)s"
end
function request()
  i = i + 1
  if i > #bodies then reused = reused + 1 end
  return wrk.format(nil, "%(path)s", nil, bodies[((i - 1) %% #bodies) + 1])
end
function response(status, headers, body)
  if status == 200 and string.find(body, '%(accepted)s', 1, true) then accepted = accepted + 1 else refused = refused + 1 end
end
function done(summary, latency, requests)
  local a, r, u = 0, 0, 0
  for _, t in ipairs(threads) do a = a + t:get("accepted"); r = r + t:get("refused"); u = u + t:get("reused") end
  io.write(string.format("LUA accepted=%%d refused=%%d reused=%%d\n", a, r, u))
end
"""


def desk_script(work: Path, name: str, bodies: list[str], threads: int, *, path: str, content_type: str,
                accepted: str, cookie: str, token: str) -> Path:
    data = work / f"{name}.txt"
    data.write_text("\n".join(bodies) + "\n")
    script = work / f"{name}.lua"
    script.write_text(LUA % {"bodies": data, "threads": threads, "content_type": content_type, "cookie": cookie,
                             "csrf": token, "path": path, "accepted": accepted})
    return script


def prefill(db: Path, count: int) -> None:
    """``count`` proofs the desk has seen, not yet expired, in its replay cache's table."""
    db.parent.mkdir(parents=True, exist_ok=True)
    SqliteReplayCache(db).close()  # the cache makes its own file and table
    with sqlite3.connect(db) as conn:
        until = time.time() + STORED_FOR
        conn.executemany("INSERT INTO seen (k, exp) VALUES (?, ?)", ((secrets.token_bytes(32), until) for _ in range(count)))


def stored(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return int(conn.execute("SELECT count(*) FROM seen").fetchone()[0])


def floor_path(base: str) -> str:
    try:
        if urllib.request.urlopen(base + "/healthz", timeout=5).status == 200:
            return "/healthz"
    except urllib.error.HTTPError:
        pass
    return "/.well-known/jwks.json"


def workers_cpu(server: int) -> float:
    """CPU seconds (user + system) the server's workers, the children of gunicorn's
    master, have used so far."""
    ticks = os.sysconf("SC_CLK_TCK")
    pids = subprocess.run(["pgrep", "-P", str(server)], capture_output=True, text=True).stdout.split()
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        except OSError:  # a worker that has just exited
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    return total / ticks


def measured(server: int, run: Any) -> dict[str, Any]:
    """``run()``'s wrk result, with the workers' CPU per request (ms) while it ran: what a
    request costs the server, whatever else the machine was doing."""
    before = workers_cpu(server)
    result: dict[str, Any] = run()
    result["cpu_ms"] = 1000 * (workers_cpu(server) - before) / max(result["requests"], 1)
    return result


def line(name: str, r: dict[str, Any]) -> str:
    return (f"{name:30} {r['rps']:8.1f} req/s  p50 {r['p50']:6.2f} ms  p99 {r['p99']:6.2f} ms  "
            f"worker CPU {r['cpu_ms']:5.2f} ms/req  "
            f"requests {r['requests']}  non-2xx {r['non_2xx']}  socket errors {r['socket_errors'] or 0}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--stored", type=int, default=100_000, help="proofs in the replay cache before the run")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        print("wrk not found: apt-get install wrk", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="certfree-load-"))
    instance = work / "instance"
    replay_db = instance / "desk-replay.db"
    prefill(replay_db, args.stored)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "CERTFREE_INSTANCE_PATH": str(instance), "CERTFREE_INSECURE_COOKIES": "1",
           "CERTFREE_DATABASE_URL": f"sqlite:///{instance / 'certfree.db'}", "CERTFREE_KEYS_DIR": str(instance / "keys")}
    log = open(work / "server.log", "w")
    server = subprocess.Popen([str(BIN / "certfree"), "serve", "--demo", "--bind", f"127.0.0.1:{port}", "--workers", str(args.workers)],
                              env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    results: dict[str, dict[str, Any]] = {}
    try:
        for _ in range(240):
            try:
                urllib.request.urlopen(base + "/desk/login", timeout=2)
                break
            except OSError:
                time.sleep(0.5)
        else:
            print("the service did not start; see", work / "server.log", file=sys.stderr)
            return 1
        floor = floor_path(base)
        # The resident logs in and enrols a phone, which fetches its views.
        resident, jar = opener()
        token = csrf(resident, base + "/wallet/login")
        resident.open(base + "/wallet/login", data=urllib.parse.urlencode({"username": "demo", "password": "certfree-resident", "csrf_token": token}).encode(), timeout=30)
        device = Ed25519PrivateKey.generate()
        proven(resident, base, device, "/wallet/api/devices", "enrol")
        views = proven(resident, base, device, "/wallet/api/sync", "sync")["licences"]
        cafe = next(item["views"]["internet_cafe"] for item in views if item["type"] == "id_card")
        # The desk's system logs in as its clerk and takes the session's CSRF token.
        desk, desk_jar = opener()
        token = csrf(desk, base + "/desk/login")
        desk.open(base + "/desk/login", data=urllib.parse.urlencode({"username": "desk", "password": "certfree-clerk", "csrf_token": token}).encode(), timeout=30)
        desk_csrf = json.loads(desk.open(base + "/desk/session.json", timeout=30).read())["csrf"]
        cookie = cookie_header(desk_jar)
        raw = device.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption())
        with ProcessPoolExecutor(2, initializer=_phone_init, initargs=(cafe, raw)) as pool:
            for c in CONNECTIONS:
                results[f"floor {floor} c={c}"] = f = measured(server.pid, lambda: wrk(base + floor, args.seconds, c))
                started = time.time()
                codes = fresh_codes(pool, int(f["rps"] * args.seconds * 1.2) + 500)
                made_in = time.time() - started
                if made_in + args.seconds > FRESHNESS - 5:
                    print(f"making {len(codes)} codes took {made_in:.0f} s: the last would be stale; use fewer --seconds", file=sys.stderr)
                    return 1
                bodies = [json.dumps({"code": text, "scenario": "internet_cafe"}) for text in codes]
                script = desk_script(work, f"json-{c}", bodies, min(2, c), path="/desk/verify.json",
                                     content_type="application/json", accepted='"verdict":"accepted"', cookie=cookie, token=desk_csrf)
                results[f"desk verify.json c={c}"] = r = measured(server.pid, lambda: wrk(base + "/desk/verify.json", args.seconds, c,
                                                                                    script=script))
                r["pool"], r["made_in"] = len(codes), made_in
            c = TARGET_CONNECTIONS
            codes = fresh_codes(pool, int(results[f"desk verify.json c={c}"]["rps"] * args.seconds * 1.2) + 500)
            bodies = [urllib.parse.urlencode({"scenario": "internet_cafe", "code": t, "csrf_token": desk_csrf}) for t in codes]
            script = desk_script(work, "page", bodies, 2, path="/desk/verify", content_type="application/x-www-form-urlencoded",
                                 accepted='data-verdict="accepted"', cookie=cookie, token=desk_csrf)
            results[f"desk page (HTML) c={c}"] = r = measured(server.pid, lambda: wrk(base + "/desk/verify", args.seconds, c, script=script))
            r["pool"] = len(codes)
        results[f"wallet page c={c}"] = measured(server.pid, lambda: wrk(base + "/wallet/", args.seconds, c,
                                                                       headers=(f"Cookie: {cookie_header(jar)}",)))
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        log.close()
    ok = True
    print(f"gunicorn workers: {args.workers}; wrk: min(2, connections) threads, {args.seconds} s each; "
          f"all on one machine ({os.cpu_count()} cores); replay cache pre-filled with {args.stored} proofs; "
          f"floor endpoint {floor}")
    for name, r in results.items():
        ok = ok and not (r["non_2xx"] or r["socket_errors"] or r["refused"] or r["reused"])
        extra = ""
        if "pool" in r:
            extra = f"  fresh codes {r['pool']}: accepted {r['accepted']}  refused {r['refused']}  reused {r['reused']}"
        print(line(name, r) + extra)
    print("desk scan / floor:  " + "  ".join(
        f"c={c} {results[f'desk verify.json c={c}']['rps'] / results[f'floor {floor} c={c}']['rps']:.2f}" for c in CONNECTIONS))
    print("worker CPU a request, floor / desk scan (the rates' ratio where CPU is the only limit):  " + "  ".join(
        f"c={c} {results[f'floor {floor} c={c}']['cpu_ms'] / results[f'desk verify.json c={c}']['cpu_ms']:.2f}"
        for c in CONNECTIONS))
    print(f"replay table at the end: {stored(replay_db)} proofs (pre-filled {args.stored})")
    desk8, floor8 = results[f"desk verify.json c={TARGET_CONNECTIONS}"], results[f"floor {floor} c={TARGET_CONNECTIONS}"]
    ratio = desk8["rps"] / floor8["rps"]
    met = ratio >= TARGET_RATIO and desk8["p99"] <= TARGET_P99_MS
    print(f"target (issue 17): desk scan over HTTP >= {TARGET_RATIO} x floor and p99 <= {TARGET_P99_MS:.0f} ms at "
          f"{TARGET_CONNECTIONS} connections: ratio {ratio:.2f}, p99 {desk8['p99']:.2f} ms: {'MET' if met else 'MISSED'}")
    shutil.rmtree(work, ignore_errors=True)
    print("zero errors" if ok else "ERRORS")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
