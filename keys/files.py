"""Crash-safe file writes: a reader sees the old file or the new one, never half of either."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def atomic_write(path: Path, data: bytes, *, mode: int = 0o644) -> None:
    """Write ``data`` to a temp file in the same folder, fsync it, rename it over ``path``."""
    path = Path(path)
    tmp = _synced_temp(path, data, mode)
    try:
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
    if os.name == "nt":  # Windows cannot open a folder to fsync it
        return
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _synced_temp(path: Path, data: bytes, mode: int) -> str:
    """A temp file beside ``path`` holding ``data`` with ``mode``, fsynced; its name.
    Nothing is left behind if writing it fails."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        if hasattr(os, "fchmod"):  # not on Windows before Python 3.13: there the folder's ACL decides
            os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return tmp


def create_once(path: Path, data: bytes, *, mode: int = 0o600) -> bytes:
    """Create ``path`` holding ``data`` unless it exists; return what the file holds.

    Safe when several processes start at once: the data is written whole to a temp file
    and hard-linked into place, so the first writer wins and no reader ever sees a
    half-written file.
    """
    path = Path(path)
    try:
        return path.read_bytes()
    except FileNotFoundError:
        pass
    tmp = _synced_temp(path, data, mode)
    try:
        os.link(tmp, path)  # atomic; fails if another process created it first
    except FileExistsError:
        pass
    finally:
        os.unlink(tmp)
    return path.read_bytes()


def private_file(path: Path) -> None:
    """Create the SQLite file ``path`` readable by its owner alone (600), in a folder made
    700 if it is new, before SQLite would create it with the usual 644: the service's
    database holds residents' credentials, a desk's register their names and ID numbers.
    SQLite gives the -wal and -shm files the database file's mode. An existing file or
    folder keeps the mode it has."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass


def read_capped(path: str | Path, limit: int, error: type[Exception]) -> bytes:
    """The bytes of ``path``, refused with ``error`` (its message naming the file, in English
    and Chinese) if it cannot be read or holds more than ``limit``: a larger file is never
    read whole."""
    name = Path(path).name
    try:
        with open(path, "rb") as fh:
            data = fh.read(limit + 1)
    except OSError as exc:
        raise error(f"cannot read {name} ({type(exc).__name__}) / 无法读取 {name}") from None
    if len(data) > limit:
        raise error(f"{name} is too large / {name} 过大")
    return data


SECRET_MAX = 64 * 1024  # a passphrase, a session secret or a database URL: a few hundred bytes


def secret_from_env(name: str) -> str | None:
    """``$NAME``, or the content of the file ``$NAME_FILE`` (one trailing newline dropped),
    as container secrets are mounted; ``ValueError`` if both are set or the file cannot be
    read (the message names the variable or the file, never the value)."""
    value = os.environ.get(name)
    path = os.environ.get(f"{name}_FILE")
    if value and path:
        raise ValueError(f"both {name} and {name}_FILE are set: keep one / {name} 与 {name}_FILE 只能设置一个")
    if not path:
        return value
    data = read_capped(path, SECRET_MAX, ValueError)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:  # its message would quote a byte of the secret
        raise ValueError(f"{name}_FILE {path}: not UTF-8 text / {name}_FILE 不是 UTF-8 文本") from None
    return text[:-1] if text.endswith("\n") else text
