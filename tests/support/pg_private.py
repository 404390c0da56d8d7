"""A PostgreSQL server of a test's own, so a test may stop and restart it.

The machine's shared server (TEST_DATABASE_URL) is never restarted by a test: other
tests and other work use it. This one is made with the same installation's initdb in
tmp_path, listens on a free port of 127.0.0.1 with trust authentication, and is
stopped and deleted at the end. PostgreSQL refuses to run as root, so as root the
server runs as the ``postgres`` user (as Debian's own cluster does).
"""

from __future__ import annotations

import asyncio
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path


def postgres_binaries() -> Path | None:
    """The bin directory of the newest installed PostgreSQL, or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    return Path(found[-1]).parent if found else None


def why_no_private_server() -> str | None:
    if postgres_binaries() is None:
        return "no PostgreSQL installation (initdb) on this machine"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root and there is no postgres user to run a server as"
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class PrivateServer:
    directory: Path
    port: int

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        bins = postgres_binaries()
        assert bins is not None
        command = [str(bins / argv[0]), *argv[1:]]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        return subprocess.run(command, capture_output=True, text=True, check=check, timeout=120)

    @classmethod
    def create(cls) -> PrivateServer:
        """In a fresh directory of /tmp: the postgres user cannot enter pytest's tmp_path (root's, mode 700)."""
        base = Path(tempfile.mkdtemp(prefix="hyosan-pg-"))
        directory = base / "pgdata"
        if os.geteuid() == 0:
            owner = pwd.getpwnam("postgres")
            os.chown(base, owner.pw_uid, owner.pw_gid)
        server = cls(directory, free_port())
        server._run("initdb", "-D", str(directory), "-A", "trust", "-U", "postgres", "--no-sync")
        server.start()
        return server

    def start(self) -> None:
        options = f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run("pg_ctl", "-D", str(self.directory), "-o", options, "-l", str(self.directory / "log"), "-w", "start")

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.directory), "-m", mode, "-w", "stop", check=False)

    async def stop_async(self, mode: str = "fast") -> None:
        await asyncio.to_thread(self.stop, mode)

    async def start_async(self) -> None:
        await asyncio.to_thread(self.start)

    def destroy(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.directory.parent, ignore_errors=True)
