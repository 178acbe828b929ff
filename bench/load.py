"""Load test: the service under gunicorn on 127.0.0.1, driven by wrk for a bounded time.

    .venv/bin/python bench/load.py [--seconds 20] [--connections 8] [--workers 2]

Needs Debian's ``wrk`` (``apt-get install wrk``). Not part of ``make test``: it prints
requests per second and p50/p99 latency for

* ``POST /desk/verify``: the demo desk clerk verifying pasted QR texts (internet cafe), cycling
  through fresh presentations made just before the run by the demo resident's phone (a
  device key enrolled through the wallet API, as the browser enrols one; the phone builds
  its presentations itself, the service signs none);
* ``GET /wallet/``: the resident's wallet page (the phone then runs it from its own storage).

It fails (exit 1) on any socket error or non-2xx response. Everything listens on and
talks to 127.0.0.1 only, and every run stops by itself after ``--seconds``.
"""

from __future__ import annotations

import argparse
import http.cookiejar
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as `python bench/load.py`

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402

from keys import public_jwk  # noqa: E402
from keys.jose import b64url_encode  # noqa: E402
from wallet import present_view  # noqa: E402

BIN = Path(sys.executable).parent
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


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


def wrk(url: str, seconds: int, connections: int, script: Path | None = None, headers: list[str] = ()) -> dict[str, object]:
    cmd = ["wrk", "-t", "2", "-c", str(connections), "-d", f"{seconds}s", "--timeout", "10s", "--latency"]
    for h in headers:
        cmd += ["-H", h]
    if script:
        cmd += ["-s", str(script)]
    out = subprocess.run(cmd + [url], capture_output=True, text=True, timeout=seconds + 60).stdout
    def grab(pattern: str) -> str | None:
        m = re.search(pattern, out)
        return m.group(1) if m else None
    return {
        "requests_per_second": float(grab(r"Requests/sec:\s+([\d.]+)") or 0),
        "p50": grab(r"\s50%\s+(\S+)"),
        "p90": grab(r"\s90%\s+(\S+)"),
        "p99": grab(r"\s99%\s+(\S+)"),
        "requests": int(grab(r"(\d+) requests in") or 0),
        "non_2xx": int(grab(r"Non-2xx or 3xx responses: (\d+)") or 0),
        "socket_errors": grab(r"Socket errors: (.*)"),
        "raw": out,
    }


def proven(op: urllib.request.OpenerDirector, base: str, device: Ed25519PrivateKey, path: str, purpose: str) -> Any:
    """A wallet API call signed by the phone's device key over a fresh challenge."""
    got = json.loads(op.open(base + "/wallet/api/challenge", timeout=30).read())
    message = b"certfree-device-proof/v1\n" + purpose.encode() + b"\n" + got["challenge"].encode()
    body = {"jwk": public_jwk(device.public_key()), "challenge": got["challenge"],
            "signature": b64url_encode(device.sign(message)), "label": "bench/load.py"}
    request = urllib.request.Request(base + path, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json", "X-CSRF-Token": got["csrf"]})
    return json.loads(op.open(request, timeout=30).read())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--texts", type=int, default=1500, help="fresh presentations to cycle through")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        print("wrk not found: apt-get install wrk", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="certfree-load-"))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "CERTFREE_INSTANCE_PATH": str(work / "instance"), "CERTFREE_INSECURE_COOKIES": "1",
           "CERTFREE_DATABASE_URL": f"sqlite:///{work / 'instance' / 'certfree.db'}", "CERTFREE_KEYS_DIR": str(work / "instance" / "keys")}
    log = open(work / "server.log", "w")
    server = subprocess.Popen([str(BIN / "certfree"), "serve", "--demo", "--bind", f"127.0.0.1:{port}", "--workers", str(args.workers)],
                              env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        for _ in range(120):
            try:
                urllib.request.urlopen(base + "/desk/", timeout=2)
                break
            except OSError:
                time.sleep(0.5)
        else:
            print("the service did not start; see", work / "server.log", file=sys.stderr)
            return 1
        # The resident logs in and enrols a phone, which fetches its views.
        resident, jar = opener()
        token = csrf(resident, base + "/wallet/login")
        resident.open(base + "/wallet/login", data=urllib.parse.urlencode({"username": "demo", "password": "certfree-resident", "csrf_token": token}).encode(), timeout=30)
        device = Ed25519PrivateKey.generate()
        proven(resident, base, device, "/wallet/api/devices", "enrol")
        views = proven(resident, base, device, "/wallet/api/sync", "sync")["licences"]
        cafe = next(item["views"]["internet_cafe"] for item in views if item["type"] == "id_card")
        # Fresh presentations for the desk, made just before the run.
        desk, desk_jar = opener()
        token = csrf(desk, base + "/desk/login")
        desk.open(base + "/desk/login", data=urllib.parse.urlencode({"username": "desk", "password": "certfree-clerk", "csrf_token": token}).encode(), timeout=30)
        desk_token = csrf(desk, base + "/desk/")
        bodies = []
        for _ in range(args.texts):
            text = present_view(cafe, device, licence_type="id_card", scenario="internet_cafe").text
            bodies.append(urllib.parse.urlencode({"scenario": "internet_cafe", "text": text, "csrf_token": desk_token}))
        (work / "bodies.txt").write_text("\n".join(bodies) + "\n")
        script = work / "desk.lua"
        script.write_text(
            'local bodies = {}\n'
            f'for line in io.lines("{work / "bodies.txt"}") do bodies[#bodies + 1] = line end\n'
            'local i = 0\n'
            'wrk.method = "POST"\n'
            'wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"\n'
            f'wrk.headers["Cookie"] = "{cookie_header(desk_jar)}"\n'
            'request = function()\n'
            '  i = i + 1\n'
            '  return wrk.format(nil, "/desk/verify", nil, bodies[(i % #bodies) + 1])\n'
            'end\n'
        )
        results = {
            "desk_verify": wrk(base + "/desk/verify", args.seconds, args.connections, script=script),
            "wallet_page": wrk(base + "/wallet/", args.seconds, args.connections, headers=[f"Cookie: {cookie_header(jar)}"]),
        }
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        log.close()
    ok = True
    print(f"gunicorn workers: {args.workers}, wrk: 2 threads, {args.connections} connections, {args.seconds} s each, all on one 2-core machine")
    for name, r in results.items():
        errors = r["non_2xx"] or r["socket_errors"]
        ok = ok and not errors
        print(f"{name:12} {r['requests_per_second']:8.1f} req/s  p50 {r['p50']}  p90 {r['p90']}  p99 {r['p99']}  "
              f"requests {r['requests']}  non-2xx {r['non_2xx']}  socket errors {r['socket_errors'] or 0}")
    print(f"distinct presentations cycled at the desk: {len(bodies)} (later passes are answered as replays)")
    shutil.rmtree(work, ignore_errors=True)
    print("zero errors" if ok else "ERRORS")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
