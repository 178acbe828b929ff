#!/usr/bin/env python3
"""atheris (libFuzzer) fuzz target for reading QR codes out of images:
``fuzz/image_target.py`` under coverage-guided fuzzing. Run with ``make fuzz-image``.

    python fuzz/fuzz_image.py --write-corpus      # the seeds, into fuzz/image_corpus
"""

from __future__ import annotations

import sys
from pathlib import Path

import atheris

with atheris.instrument_imports():  # instruments certfree's modules, imported by the target
    import image_target


def main() -> None:
    if "--write-corpus" in sys.argv:
        image_target.write_seeds(Path(__file__).parent / "image_corpus")
        return
    atheris.Setup(sys.argv, image_target.test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
