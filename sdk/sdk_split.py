"""Which of the repository's modules the verifier SDK ships.

One tree, two distributions: ``certfree-verifier`` (built from ``sdk/pyproject.toml``) holds
``verifier/`` and only the shared code it imports; ``certfree`` (the repository's own
``setup.cfg``) holds the rest and depends on it. ``keys`` and ``scenarios`` are split
between the two, module by module, so no file belongs to both. Both ``setup.py`` files read
this one list (``sdk/`` put first on ``sys.path``); ``tests/test_sdk.py`` holds it equal to what ``import verifier`` imports.
"""

from __future__ import annotations

from typing import Any

# Packages the SDK ships whole.
SDK_PACKAGES = frozenset({"verifier", "scenarios.policies"})
# The modules of shared packages that the SDK ships; the rest of each is certfree's.
SDK_MODULES = {
    "keys": frozenset({"__init__", "envelope", "files", "jose"}),
    "scenarios": frozenset({"__init__", "licences", "matters", "policy"}),
}


def in_sdk(package: str, module: str) -> bool:
    """Whether module ``module`` of ``package`` belongs to certfree-verifier."""
    return package in SDK_PACKAGES or module in SDK_MODULES.get(package, ())


def build_py_keeping(sdk: bool) -> Any:
    """setuptools' ``build_py`` keeping only the SDK's modules (``sdk``), or only the others."""
    from setuptools.command.build_py import build_py

    class BuildPy(build_py):
        def find_package_modules(self, package: str, package_dir: str) -> list[tuple[str, str, str]]:
            found = super().find_package_modules(package, package_dir)
            return [m for m in found if in_sdk(m[0], m[1]) == sdk]

    return BuildPy

