"""A SoftHSM2 token for the tests: its own configuration and token folder under the test
session's temporary folder, ``library.reset_on_fork = true`` (a session inherited across a
fork is refused, as an HSM's client library may do), initialised with ``softhsm2-util``.

Skipped locally when SoftHSM2 or python-pkcs11 is missing; in CI (``CI`` set) that fails.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Iterator

import pytest

from service_fixtures import require_in_ci

TOKEN = "certfree-test"
PIN = "4821-test-pin"
SO_PIN = "so-9930-test-pin"
MODULES = ("/usr/lib/softhsm/libsofthsm2.so", "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so")


def softhsm_module() -> str:
    for module in MODULES:
        if Path(module).is_file():
            return module
    require_in_ci("SoftHSM2 (apt-get install softhsm2)")
    raise AssertionError("not reached")


@pytest.fixture(scope="session")
def softhsm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """The environment that points certfree (and any child process) at the test token."""
    module = softhsm_module()
    if shutil.which("softhsm2-util") is None:
        require_in_ci("softhsm2-util")
    try:
        import pkcs11  # noqa: F401
    except ImportError:
        require_in_ci("python-pkcs11 (the test extra)")
    home = tmp_path_factory.mktemp("softhsm")
    (home / "tokens").mkdir()
    conf = home / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {home / 'tokens'}\nobjectstore.backend = file\n"
                    "log.level = ERROR\nlibrary.reset_on_fork = true\n")
    env = {"SOFTHSM2_CONF": str(conf), "CERTFREE_PKCS11_MODULE": module, "CERTFREE_PKCS11_PIN": PIN}
    subprocess.run(["softhsm2-util", "--init-token", "--free", "--label", TOKEN, "--so-pin", SO_PIN, "--pin", PIN],
                   env={**os.environ, **env}, check=True, capture_output=True)
    saved = {name: os.environ.get(name) for name in env}
    os.environ.update(env)
    yield env
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
