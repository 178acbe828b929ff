"""The verifier core imports neither flask nor sqlalchemy and opens no socket."""

from __future__ import annotations

import subprocess
import sys


def test_verifier_imports_no_flask_or_sqlalchemy() -> None:
    code = (
        "import sys, verifier, verifier.testing\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in {'flask', 'sqlalchemy', 'requests', 'urllib3', 'http'})\n"
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_every_package_ships_py_typed() -> None:
    from importlib.resources import files

    for package in ("keys", "issuer", "wallet", "verifier", "scenarios"):
        assert files(package).joinpath("py.typed").is_file(), package


def test_every_error_has_a_code_and_two_languages() -> None:
    from verifier import ALL_ERRORS

    codes = [cls.code for cls in ALL_ERRORS]
    assert len(codes) == len(set(codes))
    for cls in ALL_ERRORS:
        assert cls.code.replace("_", "").isalpha() and cls.code.islower()
        assert cls.message and cls.message_zh and cls.message != cls.message_zh
        assert any("\u4e00" <= ch <= "\u9fff" for ch in cls.message_zh), cls.code
