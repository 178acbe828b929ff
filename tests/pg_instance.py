"""A private PostgreSQL server for one test: initdb into a fresh folder, pg_ctl on a free
port of 127.0.0.1, and the test may stop, start, freeze (SIGSTOP) and thaw it. Never the
shared cluster.

initdb refuses to run as root: as root, the folder is given to the ``postgres`` user and
every server command runs as that user (``runuser``). Without the binaries the fixture skips
locally and fails in CI (``service_fixtures.require_in_ci``)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Iterator

import pytest

from local_servers import free_port
from service_fixtures import require_in_ci

USER = "certfree"
DATABASE = "certfree"


def _bin_dir() -> Path | None:
    root = Path("/usr/lib/postgresql")
    versions = sorted((p for p in root.glob("*/bin") if (p / "initdb").exists()),
                      key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0) if root.exists() else []
    return versions[-1] if versions else None


def _as_postgres(argv: list[str]) -> list[str]:
    """``argv`` run as the postgres user when the tests run as root: the server and
    PgBouncer both refuse to run as root."""
    return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else argv


class PrivatePostgres:
    def __init__(self, bin_dir: Path, root: Path) -> None:
        self.bin = bin_dir
        self.root = root
        self.data = root / "data"
        self.port = free_port()
        self.as_postgres = os.geteuid() == 0

    def run(self, tool: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(_as_postgres([str(self.bin / tool), *args]), capture_output=True, text=True,
                                timeout=120, cwd=self.root)
        if check and result.returncode != 0:
            raise AssertionError(f"{tool} failed ({result.returncode}): {result.stderr.strip()[-800:]}")
        return result

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://{USER}@127.0.0.1:{self.port}/{DATABASE}"

    def client_args(self) -> list[str]:
        return ["-h", "127.0.0.1", "-p", str(self.port), "-U", USER]

    def init(self) -> None:
        self.run("initdb", "-D", str(self.data), "-U", USER, "-A", "trust", "-E", "UTF8", "--no-sync")
        self.start()
        self.run("createdb", *self.client_args(), DATABASE)

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        self.run("pg_ctl", "-D", str(self.data), "-l", str(self.root / "server.log"), "-o", options, "-w", "start")

    def stop(self) -> None:
        self.run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def postmaster_pid(self) -> int:
        return int((self.data / "postmaster.pid").read_text().split()[0])

    def freeze(self) -> None:
        """SIGSTOP the postmaster: it takes no new connection (its listen queue fills, no
        answer comes), as a hung server would."""
        os.kill(self.postmaster_pid(), signal.SIGSTOP)

    def thaw(self) -> None:
        os.kill(self.postmaster_pid(), signal.SIGCONT)


@pytest.fixture
def private_pg() -> Iterator[PrivatePostgres]:
    bin_dir = _bin_dir()
    if bin_dir is None:
        require_in_ci("PostgreSQL server binaries (/usr/lib/postgresql/*/bin/initdb)")
    assert bin_dir is not None
    root = Path(tempfile.mkdtemp(prefix="certfree-pg-"))  # pytest's tmp_path is root's alone (700)
    server = PrivatePostgres(bin_dir, root)
    if server.as_postgres:
        shutil.chown(root, "postgres", "postgres")
    try:
        server.init()
        yield server
    finally:
        if (server.data / "postmaster.pid").exists():
            try:
                server.thaw()
            except (OSError, ValueError):
                pass
            server.run("pg_ctl", "-D", str(server.data), "-m", "immediate", "-w", "stop", check=False)
        shutil.rmtree(root, ignore_errors=True)


class PrivatePgBouncer:
    """PgBouncer in transaction mode on a free port of 127.0.0.1, in front of a private
    PostgreSQL server (trust authentication, as the server)."""

    def __init__(self, server: PrivatePostgres, root: Path) -> None:
        self.server, self.root, self.port = server, root, free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://{USER}@127.0.0.1:{self.port}/{DATABASE}"

    def start(self, executable: str) -> None:
        (self.root / "users.txt").write_text(f'"{USER}" ""\n')
        (self.root / "pgbouncer.ini").write_text(
            f"[databases]\n{DATABASE} = host=127.0.0.1 port={self.server.port} dbname={DATABASE}\n"
            f"[pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = {self.port}\nunix_socket_dir =\n"
            f"auth_type = trust\nauth_file = {self.root / 'users.txt'}\npool_mode = transaction\n"
            f"logfile = {self.root / 'pgbouncer.log'}\n")
        if self.server.as_postgres:  # it runs as postgres too: its files are postgres's
            for path in (self.root, *self.root.iterdir()):
                shutil.chown(path, "postgres", "postgres")
        self.process = subprocess.Popen(_as_postgres([executable, str(self.root / "pgbouncer.ini")]),
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"pgbouncer did not start: {self.log()[-800:]}") from None
                time.sleep(0.05)

    def log(self) -> str:
        path = self.root / "pgbouncer.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)


@pytest.fixture
def pgbouncer(private_pg: PrivatePostgres) -> Iterator[PrivatePgBouncer]:
    """PgBouncer (Debian's ``pgbouncer``) in front of ``private_pg``. Skipped locally without
    it, a failure in CI."""
    executable = shutil.which("pgbouncer") or ("/usr/sbin/pgbouncer" if Path("/usr/sbin/pgbouncer").exists() else None)
    if executable is None:
        require_in_ci("pgbouncer (Debian's pgbouncer package)")
    assert executable is not None
    root = Path(tempfile.mkdtemp(prefix="certfree-pgbouncer-"))
    bouncer = PrivatePgBouncer(private_pg, root)
    try:
        bouncer.start(executable)
        yield bouncer
    finally:
        bouncer.stop()
        shutil.rmtree(root, ignore_errors=True)


__all__ = ["PrivatePgBouncer", "PrivatePostgres", "pgbouncer", "private_pg"]
