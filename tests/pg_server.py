"""A throw-away PostgreSQL server for tests: ``with PostgresServer() as url: ...``.

The server lives in a fresh temporary folder, listens on a free loopback port with
``trust`` authentication (any role may connect without a password), runs with
``fsync=off`` (nothing in it must survive a crash) and is stopped and deleted on exit,
even when the block raises. PostgreSQL refuses to run as root, so as root every server
command runs through ``su postgres``; that user must be able to reach the folder, hence
``tempfile.mkdtemp()`` (not pytest's root-only ``tmp_path``) and a ``chmod``.
"""

from __future__ import annotations

import glob
import os
import secrets
import shlex
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["PostgresServer", "database", "database_url", "find_bin_dir", "role_url"]

# Debian and Ubuntu install each major version side by side here.
_BIN_GLOB = "/usr/lib/postgresql/*/bin"
_RUN_AS = "postgres"  # the account that owns the server when we are root


def find_bin_dir() -> Path | None:
    """The ``bin`` folder of the newest PostgreSQL installed, or ``None``."""
    found = [Path(d) for d in glob.glob(_BIN_GLOB) if (Path(d) / "initdb").exists()]
    if not found:
        return None

    def major(path: Path) -> tuple[int, ...]:
        try:
            return tuple(int(part) for part in path.parent.name.split("."))
        except ValueError:
            return (0,)

    return max(found, key=major)


def _free_port() -> int:
    # The port may be taken again before the server binds it; tests are not run
    # against a busy port range, and a clash shows as a clear start failure.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PostgresServer:
    """Start a private PostgreSQL server on enter; stop it and delete its folder on exit.

    ``url`` is ``postgresql://postgres@127.0.0.1:PORT/postgres`` (the superuser, the
    default database). ``start()`` / ``stop()`` are there for use outside ``with``.
    """

    def __init__(self, bin_dir: Path | None = None):
        self.bin_dir = bin_dir or find_bin_dir()
        if self.bin_dir is None:
            raise FileNotFoundError(f"No PostgreSQL binaries in {_BIN_GLOB}")
        self.folder: Path | None = None
        self.port: int | None = None
        self._running = False

    @property
    def data_dir(self) -> Path:
        return self.folder / "data"

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        """Run a server program, as ``postgres`` when we are root; raise with its output."""
        command = [str(self.bin_dir / args[0]), *args[1:]]
        if os.geteuid() == 0:
            command = ["su", _RUN_AS, "-s", "/bin/sh", "-c", shlex.join(command)]
        done = subprocess.run(command, capture_output=True, text=True, timeout=60,
                              cwd=self.folder)
        if done.returncode != 0:
            log = self.folder / "server.log"
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise RuntimeError(f"{args[0]} failed ({done.returncode}):\n{done.stdout}"
                               f"{done.stderr}{tail}")

    def start(self) -> str:
        """Create the cluster and start the server; return its URL."""
        self.folder = Path(tempfile.mkdtemp(prefix="circus-pg-"))
        try:
            if os.geteuid() == 0:
                shutil.chown(self.folder, _RUN_AS, _RUN_AS)
            self.folder.chmod(0o700)
            self.port = _free_port()
            self._run("initdb", "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync",
                      "--no-instructions", "-D", str(self.data_dir))
            options = (f"-k {self.folder} -p {self.port} -c listen_addresses=127.0.0.1"
                       " -c fsync=off -c synchronous_commit=off -c full_page_writes=off")
            self._run("pg_ctl", "-D", str(self.data_dir), "-l", str(self.folder / "server.log"),
                      "-o", options, "-w", "start")
            self._running = True
        except BaseException:
            self.stop()
            raise
        return self.url

    def stop(self) -> None:
        """Stop the server (immediately: nothing needs saving) and delete its folder."""
        try:
            if self._running:
                self._running = False
                self._run("pg_ctl", "-D", str(self.data_dir), "-m", "immediate", "-w", "stop")
        finally:
            if self.folder is not None:
                shutil.rmtree(self.folder, ignore_errors=True)
                self.folder = None

    def __enter__(self) -> str:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def database_url(server_url: str, name: str) -> str:
    """The URL of database ``name`` on the server of ``server_url``."""
    return server_url.rsplit("/", 1)[0] + f"/{name}"


@contextmanager
def database(server_url: str, template: str | None = None) -> Iterator[str]:
    """A new database (a copy of ``template`` if given: far faster than building one);
    its URL, dropped afterwards."""
    import psycopg

    name = f"t_{secrets.token_hex(6)}"
    copy = f' TEMPLATE "{template}"' if template else ""
    with psycopg.connect(server_url, autocommit=True) as con:
        con.execute(f'CREATE DATABASE "{name}"{copy}')
    try:
        yield database_url(server_url, name)
    finally:
        with psycopg.connect(server_url, autocommit=True) as con:
            con.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def role_url(url: str, email: str) -> str:
    """``url`` logged in as the circus user's own role (the test server trusts loopback,
    so no password is needed)."""
    from circus_nb.store.postgres.security import role_name

    scheme, rest = url.split("://", 1)
    return f"{scheme}://{role_name(email)}@{rest.split('@', 1)[1]}"
