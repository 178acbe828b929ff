"""Shared set-up for the benches: development keys in a temporary folder, residents with
their own device keys, fresh presentations, and a small timing helper. Nothing here is a
test, and nothing in tests/ is timed."""

from __future__ import annotations

import gc
import os
import platform
import random
import secrets
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
from issuer.records import DEFAULT_LIST_SIZE  # noqa: E402
from issuer.status_list import sign_status_list, status_ref  # noqa: E402
from keys import KeyDir  # noqa: E402
from keys.authorities import authority_for  # noqa: E402
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


@dataclass
class StatusList:
    """A city-sized status list the benches' licences have their entries in: ``size``
    entries, a few of them (``revoked``, none of the residents') revoked, signed by the
    licence type's authority; ``token`` is what a desk holds."""

    list_id: str
    size: int
    taken: set[int]
    token: str = ""


def status_list(size: int = DEFAULT_LIST_SIZE) -> StatusList:
    return StatusList(secrets.token_urlsafe(6), size, set())


def sign_list(keys: KeyDir, lst: StatusList, licence_type: str = "id_card", *, revoked: float = 0.01,
              now: int = NOW) -> str:
    """Sign ``lst`` with ``revoked`` of its entries (not the residents') revoked; the token."""
    others = [i for i in random.sample(range(lst.size), int(lst.size * revoked) + len(lst.taken)) if i not in lst.taken]
    entries = {i: 1 for i in others[: int(lst.size * revoked)]}
    lst.token = sign_status_list(keys, authority_for(licence_type).name, lst.list_id, lst.size, entries, now - 60)
    return lst.token


def presentations(
    keys: KeyDir,
    count: int,
    *,
    residents: int,
    scenario: str = "internet_cafe",
    licence_type: str = "id_card",
    now: int = NOW,
    status: StatusList | None = None,
) -> list[Presented]:
    """``count`` fresh presentations made at ``now`` by ``residents`` distinct holders
    (each with its own device key), each holder presenting several times with a new
    proof (a new nonce) each time. With ``status``, each licence and view has an entry
    of its own in that list, at a random index, as the issuer gives them."""
    claims = example(licence_type)
    holders = []
    for _ in range(residents):
        device = Ed25519PrivateKey.generate()
        refs: dict[str, Any] = {}
        if status is not None:
            idx = [i for i in random.sample(range(status.size), 32) if i not in status.taken][:2]
            status.taken.update(idx)
            refs = {"status": status_ref(status.list_id, idx[0]),
                    "view_status": {scenario: status_ref(status.list_id, idx[1])}}
        issued = issue(keys, licence_type, claims, holder_jwk=public_jwk(device.public_key()), now=now - 3600, **refs)
        holders.append((device, issued.views[scenario]))
    out = []
    for i in range(count):
        device, view = holders[i % residents]
        p = present_view(view, device, licence_type=licence_type, scenario=scenario, now=now)
        out.append(Presented(p.text, p.view, p.proof, device))
    return out


def per_call(fn: Callable[[Any], Any], items: Iterable[Any], *, repeats: int = 5, setup: Callable[[], None] | None = None,
             clock: Callable[[], float] = time.perf_counter) -> float:
    """Seconds per item of ``fn(item)`` over ``items``: the best of ``repeats`` passes
    (the least disturbed by other work on the machine), with the garbage collector on.
    ``clock=time.thread_time`` counts the thread's CPU time only: on a machine shared with
    other work, not the time spent waiting for a core."""
    items = list(items)
    best = float("inf")
    for _ in range(repeats):
        if setup is not None:
            setup()
        gc.collect()
        start = clock()
        for item in items:
            fn(item)
        best = min(best, clock() - start)
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
