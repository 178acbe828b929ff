"""Builds certfree-verifier (its metadata is in pyproject.toml beside this file) from the
repository's own folders, keeping only the SDK's modules (sdk_split.py)."""

import sys
from pathlib import Path

from setuptools import setup

sys.path.insert(0, str(Path(__file__).resolve().parent))
from sdk_split import build_py_keeping  # noqa: E402

setup(cmdclass={"build_py": build_py_keeping(sdk=True)})
