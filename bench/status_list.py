"""Status list size and lookup time: 1,000,000 entries, 1 % revoked at random positions.

    .venv/bin/python bench/status_list.py

Builds the list as the issuer does (2 bits per entry, DEFLATE), signs it with a fresh key,
loads it through the verifier (signature, caps, one capped inflate) and times lookups of
random entries (``StatusStore.lookup``, what ``Verifier.verify`` uses per scan).
"""

from __future__ import annotations

import logging
import random
import sys
import tempfile
import time
import timeit
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from issuer.status_list import _zopfli, compress, pack, sign_status_list  # noqa: E402
from keys import KeyDir  # noqa: E402
from verifier import load_status_lists, load_trust_list  # noqa: E402

N = 1_000_000
REVOKED = N // 100


def main() -> None:
    logging.getLogger("certfree").setLevel(logging.ERROR)  # the throwaway --insecure-dev key warning
    rng = random.Random(20261124)
    revoked = rng.sample(range(N), REVOKED)
    raw = pack(N, [(i, 1) for i in revoked])
    t0 = time.perf_counter()
    compressed = compress(raw)
    t_compress = time.perf_counter() - t0
    now = int(time.time())
    with tempfile.TemporaryDirectory() as tmp:
        keys = KeyDir.init(Path(tmp) / "keys", insecure_dev=True, now=now - 60)
        token = sign_status_list(keys, "household_registration", "BENCH1", N, [(i, 1) for i in revoked], now)
        trust = load_trust_list(keys.trust_list(), keys.root_public_jwk())
    t0 = time.perf_counter()
    store = load_status_lists([token], trust)
    t_load = time.perf_counter() - t0
    assert all(store.lookup("BENCH1", i) == 1 for i in revoked)
    probes = [rng.randrange(N) for _ in range(100_000)]
    lookup = store.lookup
    runs = timeit.repeat(lambda: [lookup("BENCH1", i) for i in probes], number=1, repeat=5)
    per_lookup = min(runs) / len(probes)
    print(f"entries            {N:,} at 2 bits ({len(raw):,} bytes raw), {REVOKED:,} revoked (1 %, random)")
    print(f"encoder            {'zopfli (DEFLATE, zlib stream)' if _zopfli else 'zlib level 9'}; compress {t_compress:.2f} s")
    print(f"compressed size    {len(compressed):,} bytes = {len(compressed) / 1024:.1f} KiB (target <= 14 KB)")
    print(f"signed token       {len(token):,} characters (base64url JWS)")
    print(f"load + verify      {t_load * 1000:.1f} ms (signature, caps, one inflate)")
    print(f"lookup             {per_lookup * 1e6:.3f} us per entry (target < 5 us)")


if __name__ == "__main__":
    main()
