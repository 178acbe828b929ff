"""The verifier SDK as its own distribution, certfree-verifier (README, "The verifier SDK"):
it ships exactly what ``import verifier`` imports, the full certfree distribution ships the
rest of the tree (no file in both), and the wheel installed alone in a new virtualenv runs
the README's example on a code made by the command line, with Flask and SQLAlchemy absent.

The last test installs the SDK's dependencies from the package index: ``-m "not network"``
deselects it offline; CI runs it."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "sdk"))
from sdk_split import SDK_MODULES, SDK_PACKAGES, in_sdk  # noqa: E402

SHARED = ("keys", "scenarios", "verifier")
# What building the two distributions reads; copied, as a clean clone has it, so that no
# build/ folder left in the working tree can slip a stale file into a wheel.
BUILD_INPUTS = ("setup.cfg", "setup.py", "pyproject.toml", "README.md", "app.py", "sdk", "verifier", "keys", "scenarios",
                "issuer", "wallet", "desk")


def _pip_wheel(project: Path, out: Path) -> Path:
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                    "--wheel-dir", str(out), f"{project}/"], check=True, capture_output=True, timeout=600)
    return out


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The two wheels, built from a copy of the tree's files (tracked or new, not ignored)."""
    tree = tmp_path_factory.mktemp("tree")
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"], cwd=ROOT,
                            capture_output=True, check=True).stdout.decode().split("\0")
    for name in listed:
        if name and name.split("/")[0] in BUILD_INPUTS and (ROOT / name).is_file():
            (tree / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, tree / name)
    out = tmp_path_factory.mktemp("wheels")
    _pip_wheel(tree / "sdk", out / "sdk")
    _pip_wheel(tree, out / "full")
    return {"sdk": next((out / "sdk").glob("certfree_verifier-*.whl")), "full": next((out / "full").glob("certfree-*.whl"))}


def _files(wheel: Path) -> set[str]:
    with zipfile.ZipFile(wheel) as z:
        return {n for n in z.namelist() if ".dist-info/" not in n}


def _metadata(wheel: Path) -> str:
    with zipfile.ZipFile(wheel) as z:
        return z.read(next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))).decode()


def test_the_sdk_ships_exactly_the_shared_modules_import_verifier_imports() -> None:
    code = ("import json, sys, verifier, verifier.testing\n"
            "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in ('keys', 'scenarios'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    imported: dict[str, set[str]] = {"keys": set(), "scenarios": set()}
    for name in json.loads(out.stdout):
        package, _, module = name.partition(".")
        imported[package].add(module or "__init__")
    assert imported == {package: set(modules) for package, modules in SDK_MODULES.items()}
    assert SDK_PACKAGES == {"verifier", "scenarios.policies"}


def test_the_two_distributions_split_the_tree_with_no_file_in_both(wheels: dict[str, Path]) -> None:
    sdk, full = _files(wheels["sdk"]), _files(wheels["full"])
    assert not sdk & full
    tree = {str(p.relative_to(ROOT)) for top in SHARED for p in (ROOT / top).rglob("*")
            if p.is_file() and "__pycache__" not in p.parts}
    assert tree <= sdk | full  # every module and data file of the shared folders ships once
    for name in sdk:
        package, module = name.rsplit("/", 1)
        assert package.split("/")[0] in SHARED
        if module.endswith(".py"):
            assert in_sdk(package.replace("/", "."), module[:-3]), name
    assert not {n for n in sdk if n.startswith(("issuer/", "wallet/", "desk/", "app.py"))}
    # the roles' own pages, assets and migrations ship in certfree (its package data)
    for name in ("wallet/web/templates/wallet/index.html", "wallet/web/static/wallet.js",
                 "issuer/service/templates/login.html", "issuer/service/openapi.yaml",
                 "issuer/service/migrations/versions/0001_initial_schema.py",
                 "desk/templates/desk/page.html", "desk/static/desk.js"):
        assert name in full, name
    sdk_meta, full_meta = _metadata(wheels["sdk"]), _metadata(wheels["full"])
    version = re.search(r"^Version: (.+)$", sdk_meta, re.M)
    assert version and f"Requires-Dist: certfree-verifier[fast,image]=={version[1]}" in full_meta
    required = set(re.findall(r"^Requires-Dist: ([A-Za-z0-9_.-]+)[^;\n]*$", sdk_meta, re.M))
    assert required == {"cryptography", "cbor2", "base45", "orjson"}  # the extras come with a marker


def _readme_sdk_example() -> str:
    text = (ROOT / "README.md").read_text("utf-8")
    section = text[text.index("## The verifier SDK"):]
    return section[section.index("```python\n") + len("```python\n"):section.index("\n```", section.index("```python"))]


def _lock_constraints(path: Path) -> Path:
    """requirements.lock's versions without its hashes: the SDK's dependencies as locked."""
    pins = re.findall(r"^([A-Za-z0-9_.-]+==[^ \\\n]+)", (ROOT / "requirements.lock").read_text(), re.M)
    path.write_text("\n".join(pins) + "\n")
    return path


@pytest.mark.network
def test_the_sdk_wheel_installed_alone_runs_the_readme_example(wheels: dict[str, Path], tmp_path: Path) -> None:
    from verifier import decode_qr_image

    venv = tmp_path / "window-venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    python = str(venv / "bin" / "python")
    constraints = _lock_constraints(tmp_path / "constraints.txt")
    pip = [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-c", str(constraints)]
    installed = subprocess.run([*pip, str(wheels["sdk"])], capture_output=True, text=True, timeout=600)
    assert installed.returncode == 0, installed.stderr[-2000:]

    # a code made by the command line: keys, a wallet, an ID card and its hotel presentation
    work = tmp_path / "window"
    work.mkdir()
    env = {**os.environ, "CERTFREE_KEY_PASSPHRASE": "sdk test issuer passphrase",
           "CERTFREE_WALLET_PASSPHRASE": "sdk test wallet passphrase", "PYTHONIOENCODING": "utf-8",
           "CERTFREE_DATABASE_URL": f"sqlite:///{tmp_path / 'issuer.db'}"}
    certfree = str(Path(sys.executable).with_name("certfree"))

    def cli(*args: str) -> str:
        done = subprocess.run([certfree, *args], cwd=work, env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        return done.stdout

    cli("keys", "init", "--dir", "keys")
    cli("wallet", "init", "--dir", "phone")
    (work / "id.json").write_text(cli("example", "id_card"), "utf-8")
    cli("issue", "id_card", "--keys", "keys", "--claims", "id.json", "--wallet", "phone")
    cli("present", "--wallet", "phone", "--scenario", "hotel", "--out", "hotel.png")
    text = decode_qr_image(work / "hotel.png")  # what a scanner gun types
    (work / "hotel.txt").write_text(text)
    shutil.copy(work / "keys" / "root.jwk.json", work / "root.jwk.json")  # the window's pinned root

    def window(code: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([python, "-c", code], cwd=work, capture_output=True, text=True, timeout=120,
                              env={k: v for k, v in env.items() if k != "PYTHONPATH"})

    example = window(_readme_sdk_example())
    assert example.returncode == 0, example.stderr
    name = json.loads((work / "id.json").read_text("utf-8"))["name"]
    assert example.stdout.startswith("id_card {") and name in example.stdout, example.stdout
    # the same code again: the example's replay cache refuses it, in both languages
    again = window(_readme_sdk_example())
    assert again.stdout.startswith("replayed ") and "已被使用过" in again.stdout, again.stdout

    # there, only the SDK: no service packages, and the extras are extras
    for module in ("flask", "sqlalchemy", "PIL", "zxingcpp", "nacl", "ed25519_zebra"):
        probe = window(f"import {module}")
        assert probe.returncode != 0 and "ModuleNotFoundError" in probe.stderr, module
    where = window("import verifier, keys, scenarios; print(verifier.__file__)")
    assert str(venv) in where.stdout and str(ROOT) not in where.stdout
    image = window("from pathlib import Path\nfrom verifier import VerificationFailed, decode_qr_image\n"
                   "try:\n    decode_qr_image(Path('hotel.png'))\nexcept VerificationFailed as exc:\n"
                   "    print(exc.codes, exc.failures[0].message, exc.failures[0].message_zh)")
    assert image.stdout.startswith("['image_support_missing']") and "certfree-verifier[image]" in image.stdout

    # with the image extra, the same SDK reads the code out of the PNG
    extra = subprocess.run([*pip, f"{wheels['sdk']}[image]"], capture_output=True, text=True, timeout=600)
    assert extra.returncode == 0, extra.stderr[-2000:]
    read = window("from pathlib import Path\nfrom verifier import decode_qr_image\nprint(decode_qr_image(Path('hotel.png')))")
    assert read.stdout.strip() == text
