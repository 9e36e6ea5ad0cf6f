"""A throwaway PostgreSQL cluster for the demo and the tests: initdb into a fresh directory, postgres
on a loopback port.

No system service is involved. As root the cluster belongs to the ``postgres`` user (the server
refuses to run as root): initdb runs through ``runuser -u postgres --`` and the server is started
as that user directly (no runuser in between, so the postmaster is our own child); otherwise they
run as the current user. The server can be stopped and started again (same port, same data), so a
test can take the database away and bring it back.

The server dies with the process that started it: on Linux it gets SIGINT (a fast shutdown, as
`stop()` does) when its parent goes, even by SIGKILL, so a killed demo or test leaves no postgres
behind (its temporary directory does stay). The kernel sends that signal when the *thread* that
started the server ends, so start it from a thread that outlives it (the main thread, or an
executor that lives as long, as asyncio's default one does).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import ctypes
import glob
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
from functools import partial
from pathlib import Path
from urllib.parse import quote

SERVER_USER = "postgres"  # the OS user the server runs as when the tests run as root
SUPERUSER = "postgres"  # the database superuser initdb creates
START_TIMEOUT = 30.0
STOP_TIMEOUT = 30.0


def _version_key(bindir: str) -> tuple[int, ...]:
    # /usr/lib/postgresql/15/bin -> (15,); a name that is not a version sorts last
    name = Path(bindir).parent.name
    return tuple(int(part) for part in re.findall(r"\d+", name)) or (-1,)


MISSING = (
    "PostgreSQL server binaries (initdb, postgres) are not installed (apt-get install postgresql)"
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def find_bindir() -> Path | None:
    """The directory holding initdb and postgres: the newest /usr/lib/postgresql/*/bin, else PATH;
    None when they are not installed."""
    for bindir in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=_version_key, reverse=True):
        if all(os.access(os.path.join(bindir, name), os.X_OK) for name in ("initdb", "postgres")):
            return Path(bindir)
    initdb, postgres = shutil.which("initdb"), shutil.which("postgres")
    if initdb and postgres and Path(initdb).parent == Path(postgres).parent:
        return Path(initdb).parent
    return None


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def quote_literal(text: str) -> str:
    # standard_conforming_strings is on (the default since 9.1): only quotes need doubling
    return "'" + text.replace("'", "''") + "'"


def _recv_exact(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionResetError("closed mid-message")
        data += chunk
    return data


PR_SET_PDEATHSIG = 1  # linux/prctl.h
DEATH_SIGNAL = signal.SIGINT  # the postmaster's fast shutdown: sessions are cut, nothing waits


def _die_with_parent(parent: int) -> None:
    """In the child, before exec: get DEATH_SIGNAL when the parent (thread) dies, however it dies.

    Runs after the child took the server user's uid (a change of credentials clears the setting,
    so it must come after). Linux only; elsewhere nothing is set.
    """
    if not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, int(DEATH_SIGNAL), 0, 0, 0) != 0:
        # nothing can be reported from here: the server then merely lacks the safety net
        return
    if os.getppid() != parent:  # the parent died before prctl took effect: follow it now
        os.kill(os.getpid(), DEATH_SIGNAL)


def _run_sync(coro):
    """Run a coroutine to completion from sync code, also when called inside a running loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    # asyncio.run refuses to nest: run it on a helper thread (blocking the caller's loop meanwhile)
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


class PostgresServer:
    """A PostgreSQL cluster in a temporary directory, serving on 127.0.0.1:`port`.

    The cluster is created (initdb) by the first `start()`. `stop()` is a fast shutdown; `start()`
    afterwards brings the same cluster back on the same port. `cleanup()` stops it and removes
    the directory.
    """

    def __init__(self, bindir: str | os.PathLike | None = None) -> None:
        found = Path(bindir) if bindir is not None else find_bindir()
        if found is None:
            raise FileNotFoundError(MISSING)
        self.bindir = found
        self.port = free_port()
        self.password = secrets.token_urlsafe(18)
        self.dsn = self.dsn_for(SUPERUSER, self.password)
        self.as_root = os.geteuid() == 0
        self.dir: Path | None = None  # socket directory, log and data/ live here
        self.datadir: Path | None = None
        self.log_path: Path | None = None
        self.proc: subprocess.Popen | None = None

    # -- addressing -------------------------------------------------------------------------

    def dsn_for(self, user: str, password: str, database: str = "postgres") -> str:
        """A DSN for any role and database on this server."""
        user, password, database = (quote(part, safe="") for part in (user, password, database))
        return f"postgresql://{user}:{password}@127.0.0.1:{self.port}/{database}"

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    # -- lifecycle --------------------------------------------------------------------------

    def _command(self, *argv: str) -> list[str]:
        if self.as_root:
            return ["runuser", "-u", SERVER_USER, "--", *argv]
        return list(argv)

    def _ensure_server_user(self) -> None:
        try:
            pwd.getpwnam(SERVER_USER)
        except KeyError:  # the Debian package creates it; a bare image may not have it
            subprocess.run(["useradd", "--system", SERVER_USER], check=True)

    def _init_cluster(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="vigil-pg-"))
        self.datadir = self.dir / "data"
        self.log_path = self.dir / "postgres.log"
        if self.as_root:
            self._ensure_server_user()
            entry = pwd.getpwnam(SERVER_USER)
            os.chown(self.dir, entry.pw_uid, entry.pw_gid)
        pwfile = self.dir / "pwfile"
        pwfile.write_text(self.password + "\n")
        try:
            os.chmod(pwfile, 0o600)
            if self.as_root:
                os.chown(pwfile, entry.pw_uid, entry.pw_gid)
            result = subprocess.run(
                self._command(
                    str(self.bindir / "initdb"),
                    "-D",
                    str(self.datadir),
                    "-U",
                    SUPERUSER,
                    "--auth=md5",
                    f"--pwfile={pwfile}",
                    "-E",
                    "UTF8",
                    "--locale=C",  # independent of the machine's LANG and the locales it has
                    "--no-sync",  # a throwaway cluster needs no fsync of its fresh files
                ),
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                timeout=120,
            )
        finally:
            pwfile.unlink(missing_ok=True)
        if result.returncode != 0:
            raise AssertionError(f"initdb failed ({result.returncode}):\n{result.stdout[-3000:]}")

    def start(self) -> None:
        """Start the server (creating the cluster the first time); return once it takes logins."""
        if self.running:
            return
        if self.datadir is None:
            self._init_cluster()
        assert self.dir is not None and self.datadir is not None and self.log_path is not None
        log = open(self.log_path, "ab")  # noqa: SIM115 - kept open by the child
        as_user: dict = {}
        if self.as_root:
            entry = pwd.getpwnam(SERVER_USER)
            as_user = {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}
        try:
            self.proc = subprocess.Popen(
                [
                    str(self.bindir / "postgres"),
                    "-D",
                    str(self.datadir),
                    "-p",
                    str(self.port),
                    "-k",
                    str(self.dir),
                    "-c",
                    "listen_addresses=127.0.0.1",
                    "-c",
                    "fsync=off",
                    "-c",
                    "full_page_writes=off",
                    "-c",
                    "synchronous_commit=off",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=self.dir,  # readable by the server user, unlike root's working directory
                # its own process group: a Ctrl-C at the terminal leaves it to the fixture's
                # teardown, and a hung server can be killed along with its backends
                start_new_session=True,
                preexec_fn=partial(_die_with_parent, os.getpid()),  # after the uid change
                **as_user,
            )
        finally:
            log.close()
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(
                    f"postgres exited ({self.proc.returncode}):\n{self.log_tail()}"
                )
            if self._accepting():
                return
            time.sleep(0.05)
        self.stop()
        raise AssertionError(
            f"postgres did not accept logins within {START_TIMEOUT}s:\n{self.log_tail()}"
        )

    def _accepting(self) -> bool:
        """Whether the server answers a startup packet with an authentication request.

        A starting (or stopping) server answers with an error instead. The whole answer is read
        before closing (unread data would make the close a reset, which the server logs); a
        client leaving before the password exchange is not logged.
        """
        body = struct.pack("!i", 3 << 16) + f"user\0{SUPERUSER}\0database\0postgres\0\0".encode()
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                sock.sendall(struct.pack("!i", len(body) + 4) + body)
                header = _recv_exact(sock, 5)
                _recv_exact(sock, struct.unpack("!i", header[1:])[0] - 4)
                return header[:1] == b"R"
        except OSError:
            return False

    @property
    def pid(self) -> int | None:
        """The postmaster's process id while it runs (our own child, also as root)."""
        return self.proc.pid if self.proc is not None else None

    def stop(self) -> None:
        """Fast shutdown (SIGINT to the postmaster: sessions are cut, no waiting for clients)."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                # the postmaster first, reaped at once: an unreaped one would keep its pid alive
                # and block the next start ("lock file already exists")
                with contextlib.suppress(ProcessLookupError):
                    self.proc.kill()
                try:
                    self.proc.wait(timeout=10)
                finally:
                    # backends the postmaster left behind (a fast shutdown waits for them itself)
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.proc = None

    def cleanup(self) -> None:
        """Stop the server and remove its directory (data, log, socket)."""
        self.stop()
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)
        self.dir = self.datadir = self.log_path = None

    def log_tail(self, chars: int = 3000) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        return self.log_path.read_text(errors="replace")[-chars:]

    def __enter__(self) -> PostgresServer:
        self.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.cleanup()

    # -- SQL as superuser -------------------------------------------------------------------

    async def asql(self, statement: str, *args, database: str = "postgres") -> list:
        """Run one statement as the superuser on a throwaway connection; its rows (asyncpg Records)."""
        import asyncpg

        conn = await asyncpg.connect(self.dsn_for(SUPERUSER, self.password, database), timeout=10)
        try:
            return await conn.fetch(statement, *args)
        finally:
            await conn.close()

    def sql(self, statement: str, *args, database: str = "postgres") -> list:
        """`asql` from sync code (also works inside a running loop, which it blocks meanwhile)."""
        return _run_sync(self.asql(statement, *args, database=database))

    async def acreate_role(self, name: str, password: str, *, login: bool = True) -> None:
        """CREATE ROLE name [LOGIN|NOLOGIN] PASSWORD password."""
        await self.asql(
            f"CREATE ROLE {quote_ident(name)} {'LOGIN' if login else 'NOLOGIN'}"
            f" PASSWORD {quote_literal(password)}"
        )

    def create_role(self, name: str, password: str, *, login: bool = True) -> None:
        _run_sync(self.acreate_role(name, password, login=login))
