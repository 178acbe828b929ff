"""``make audit``: the locked dependencies checked for known vulnerabilities by pip-audit,
against PyPI's advisory data (its JSON API). When that data cannot be reached, this says
so and exits 2: nothing was audited, which is not the same as "no known vulnerabilities".
"""

from __future__ import annotations

import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

PROBE = "https://pypi.org/pypi/pip/json"  # what pip-audit's PyPI service reads, for one package


def main() -> int:
    lock = Path(__file__).resolve().parent.parent / "requirements.lock"
    try:
        with urllib.request.urlopen(PROBE, timeout=15) as answer:
            reachable = answer.status == 200
    except (urllib.error.URLError, OSError):
        reachable = False
    if not reachable:
        print(f"certfree audit: PyPI's vulnerability data ({PROBE}) cannot be reached from here: "
              "nothing was audited / 无法访问 PyPI 漏洞数据，未进行审计", file=sys.stderr)
        return 2
    done = subprocess.run([sys.executable, "-m", "pip_audit", "--strict", "--require-hashes", "--disable-pip",
                           "-r", str(lock)], capture_output=True, text=True)
    sys.stdout.write(done.stdout)
    sys.stderr.write(done.stderr)
    if "could not be audited" in done.stderr:  # --strict stops at the first package it cannot look up
        print("certfree audit: PyPI's vulnerability data is not served for every locked package here: "
              "the audit is incomplete / 部分依赖无法查询漏洞数据，审计未完成", file=sys.stderr)
        return 2
    return done.returncode


if __name__ == "__main__":
    raise SystemExit(main())
