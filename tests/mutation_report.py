"""Print the score of the last `make mutate` run, per module and in total, and list the
mutants that survived with the line each one changes.

Reads mutmut's own result files (mutants/<module>.py.meta). A module counts when at least
one of its mutants was checked; mutants not checked yet (a run that was cut short, or
limited to some modules with MUTATE=...) are counted apart, not as survivors. Mutants
docs/security.md lists as equivalent are named here as such and left out of the score's
denominator; the exit status is 1 when any other mutant survived.

    python tests/mutation_report.py [--diffs]
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MUTANTS = ROOT / "mutants"
SECURITY = ROOT / "docs" / "security.md"
KILLED = {1, 3, 37}  # a failing test, pytest's internal error, the type checker
SURVIVED = {0}
UNCHECKED = {None}
_EQUIVALENT = re.compile(r"`([\w.]+__mutmut_\d+)`")


def equivalents() -> set[str]:
    """Mutant names docs/security.md lists as equivalent (in its "Mutation testing" part)."""
    text = SECURITY.read_text("utf-8")
    start = text.find("## Mutation testing")
    if start < 0:
        return set()
    end = text.find("\n## ", start + 1)
    return set(_EQUIVALENT.findall(text[start:end if end > 0 else None]))


def main(argv: list[str]) -> int:
    metas = sorted(MUTANTS.rglob("*.py.meta"))
    if not metas:
        print("no mutation results: run `make mutate` first")
        return 2
    equivalent = equivalents()
    rows, survivors, listed = [], [], []
    totals = [0, 0, 0, 0, 0]  # killed, survived, equivalent, other, unchecked
    for meta in metas:
        codes = json.loads(meta.read_text("utf-8"))["exit_code_by_key"]
        if not codes or all(code is None for code in codes.values()):
            continue
        counts = [0, 0, 0, 0, 0]
        for name, code in sorted(codes.items()):
            if code in KILLED:
                counts[0] += 1
            elif code in UNCHECKED:
                counts[4] += 1
            elif code in SURVIVED and name in equivalent:
                counts[2] += 1
                listed.append(name)
            elif code in SURVIVED:
                counts[1] += 1
                survivors.append(name)
            else:  # timeout, segfault, no tests: not a kill either
                counts[3] += 1
                survivors.append(f"{name} (exit {code})")
        rows.append((str(meta.relative_to(MUTANTS))[: -len(".meta")], counts))
        totals = [a + b for a, b in zip(totals, counts)]
    print(f"{'module':34} {'killed':>7} {'survived':>8} {'equiv.':>6} {'other':>5} {'unchecked':>9}  score")
    for module, c in [*rows, ("total", totals)]:
        checked = c[0] + c[1] + c[3]
        score = f"{100 * c[0] / checked:6.2f} %" if checked else "     -"
        print(f"{module:34} {c[0]:7} {c[1]:8} {c[2]:6} {c[3]:5} {c[4]:9}  {score}")
    print("score = killed / (killed + survived + other): the equivalent mutants are left out")
    if listed:
        print(f"\n{len(listed)} equivalent (docs/security.md): " + ", ".join(listed))
    if survivors:
        print(f"\n{len(survivors)} survived:")
        for name in survivors:
            print("  " + name)
            if "--diffs" in argv:
                diff = subprocess.run([sys.executable, "-m", "mutmut", "show", name.split()[0]], cwd=ROOT,
                                      capture_output=True, text=True).stdout
                print("    " + "\n    ".join(line for line in diff.splitlines() if line[:1] in "+-" and line[:3] not in ("+++", "---")))
    return 1 if survivors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
