#!/usr/bin/env python3
"""atheris (libFuzzer) fuzz target for the verifier's QR parser and verification path:
``fuzz/qr_target.py`` under coverage-guided fuzzing. Run with ``make fuzz``; ``make
fuzz-merge`` shrinks the corpus to the inputs that still add coverage.

    python fuzz/fuzz_qr.py --write-corpus      # the seeds, into fuzz/corpus
    python fuzz/fuzz_qr.py --write-fixture     # new fixed keys and wallet, into fuzz/fixture
"""

from __future__ import annotations

import sys
from pathlib import Path

import atheris

with atheris.instrument_imports():  # instruments certfree's modules, imported by the target
    import qr_target


def main() -> None:
    if "--write-fixture" in sys.argv:
        qr_target.write_fixture(Path(__file__).parent / "fixture")
        return
    if "--write-corpus" in sys.argv:
        qr_target.write_seeds(Path(__file__).parent / "corpus")
        return
    atheris.Setup(sys.argv, qr_target.test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
