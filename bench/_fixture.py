"""Shared set-up for the benches: development keys in a temporary folder, residents with
their own device keys, fresh presentations, and a small timing helper. Nothing here is a
test, and nothing in tests/ is timed."""

from __future__ import annotations

import gc
import os
import platform
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as `python bench/x.py` from anywhere
    sys.path.insert(0, str(ROOT))

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402

from issuer import example, issue  # noqa: E402
from keys import KeyDir  # noqa: E402
from keys.jose import public_jwk  # noqa: E402
from wallet import present_view  # noqa: E402

#: The benches use the real clock (so PyJWT's own time checks pass too).
NOW = int(time.time())


@dataclass
class Presented:
    text: str  # the QR text
    view: str  # the bare view JWS
    proof: str  # the holder proof JWS
    holder: Ed25519PrivateKey


def quiet_logs() -> None:
    import logging

    logging.getLogger().setLevel(logging.ERROR)
    logging.disable(logging.WARNING)


def keydir(path: Path | None = None) -> KeyDir:
    quiet_logs()
    path = Path(tempfile.mkdtemp(prefix="certfree-bench-")) if path is None else path
    return KeyDir.init(path / "keys", insecure_dev=True, now=NOW - 3 * 365 * 86400)


def presentations(
    keys: KeyDir,
    count: int,
    *,
    residents: int,
    scenario: str = "internet_cafe",
    licence_type: str = "id_card",
    now: int = NOW,
) -> list[Presented]:
    """``count`` fresh presentations made at ``now`` by ``residents`` distinct holders
    (each with its own device key), each holder presenting several times with a new
    proof (a new nonce) each time."""
    claims = example(licence_type)
    holders = []
    for _ in range(residents):
        device = Ed25519PrivateKey.generate()
        issued = issue(keys, licence_type, claims, holder_jwk=public_jwk(device.public_key()), now=now - 3600)
        holders.append((device, issued.views[scenario]))
    out = []
    for i in range(count):
        device, view = holders[i % residents]
        p = present_view(view, device, licence_type=licence_type, scenario=scenario, now=now)
        out.append(Presented(p.text, p.view, p.proof, device))
    return out


def per_call(fn: Callable[[Any], Any], items: Iterable[Any], *, repeats: int = 5, setup: Callable[[], None] | None = None) -> float:
    """Seconds per item of ``fn(item)`` over ``items``: the best of ``repeats`` passes
    (the least disturbed by other work on the machine), with the garbage collector on."""
    items = list(items)
    best = float("inf")
    for _ in range(repeats):
        if setup is not None:
            setup()
        gc.collect()
        start = time.perf_counter()
        for item in items:
            fn(item)
        best = min(best, time.perf_counter() - start)
    return best / len(items)


def timing_args(doc: str, argv: list[str] | None, *, repeats: int, count_help: str) -> Any:
    """``--repeats`` (passes, the best kept) and ``--count``, parsed; then the process is
    pinned to one core, as bench/verify.py is."""
    import argparse

    ap = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=repeats, help="passes; the best is kept")
    ap.add_argument("--count", type=int, default=5, help=count_help)
    args = ap.parse_args(argv)
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    return args


def dist_version(dist: str) -> str:
    from importlib.metadata import version

    return version(dist)


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, {platform.system()} {platform.release()}"


def us(seconds: float) -> str:
    return f"{seconds * 1e6:8.1f} µs"
