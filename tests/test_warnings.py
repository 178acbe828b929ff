"""The test configuration turns deprecations in the project's own code into errors
(setup.cfg ``filterwarnings``), and only there: a library's own deprecations stay warnings."""

from __future__ import annotations

import warnings

import pytest

PROJECT = ["keys", "keys.store", "issuer", "issuer.service.api", "verifier", "verifier._core", "wallet.store",
           "scenarios", "scenarios.register", "app"]
OTHERS = ["keystone", "issuers", "verifiers", "wallets.x", "scenarios_extra", "application", "flask.app", "sqlalchemy.orm"]


def _warn(module: str, category: type[Warning] = DeprecationWarning) -> None:
    warnings.warn_explicit("this path is deprecated", category, f"{module.replace('.', '/')}.py", 1, module=module,
                           registry={})


@pytest.mark.parametrize("module", PROJECT)
def test_a_deprecation_in_the_project_is_an_error(module: str) -> None:
    for category in (DeprecationWarning, PendingDeprecationWarning):
        with pytest.raises(category):
            _warn(module, category)


@pytest.mark.parametrize("module", OTHERS)
def test_a_deprecation_elsewhere_stays_a_warning(module: str) -> None:
    with pytest.warns(DeprecationWarning):
        _warn(module)


def test_a_deprecation_warned_by_project_code_fails_its_test() -> None:
    """A real call path: ``warnings.warn`` inside a project function (default stacklevel)."""
    import verifier._core as core

    source = "def deprecated_path():\n    warnings.warn('deprecated path', DeprecationWarning)\n"
    namespace = {"warnings": warnings, "__name__": core.__name__}
    exec(compile(source, core.__file__, "exec"), namespace)
    with pytest.raises(DeprecationWarning):
        namespace["deprecated_path"]()
