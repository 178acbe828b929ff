"""Builds certfree (its metadata is in setup.cfg) without the modules of its verifier SDK,
certfree-verifier, which it depends on and which sdk/ builds from the same folders
(sdk/sdk_split.py names them)."""

import sys
from pathlib import Path

from setuptools import setup

sys.path.insert(0, str(Path(__file__).resolve().parent / "sdk"))
from sdk_split import build_py_keeping  # noqa: E402

setup(cmdclass={"build_py": build_py_keeping(sdk=False)})
