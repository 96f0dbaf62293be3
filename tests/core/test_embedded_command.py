"""`manage.py embedded status` only reports (it starts nothing), and `embedded stop
--delete-data` (what `make clean-data` runs) deletes the data directory of the servers it
stopped: ORCHESTRATE_DATA_DIR when set, not .data."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from apps.core import embedded

ROOT = Path(__file__).resolve().parents[2]


def manage(data_dir: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE",
                                                             "ORCHESTRATE_EMBEDDED_NO_START")}
    env["ORCHESTRATE_DATA_DIR"] = str(data_dir)
    return subprocess.run([sys.executable, "manage.py", "embedded", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)


def alive(pid: int) -> bool:
    """Running (a stopped daemon may stay a zombie until its new parent reaps it)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def test_status_reports_without_starting_anything(tmp_path):
    data = tmp_path / "scratch-data"
    result = manage(data, "status")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [f"data dir: {data}", "postgres: stopped", "redis: stopped"]
    assert not (data / "pg").exists() and not (data / "redis" / "redis.pid").exists()


def test_stop_with_delete_data_deletes_the_configured_directory_it_stopped(tmp_path, monkeypatch):
    data = tmp_path / "elsewhere"
    monkeypatch.setenv("ORCHESTRATE_DATA_DIR", str(data))
    embedded.redis_url()  # a real server, running from the scratch directory
    pid = embedded._redis_pid()
    assert pid is not None
    (data / "keep-me-not.txt").write_text("x")
    try:
        status = manage(data, "status")
        assert status.stdout.splitlines()[1:] == ["postgres: stopped", "redis: running"], status.stderr
        result = manage(data, "stop", "--delete-data")
        assert result.returncode == 0, result.stderr
        assert result.stdout.splitlines() == ["postgres: not running", "redis: stopped", f"data dir: {data} deleted"]
        assert not data.exists()
        assert not alive(pid)
    finally:
        if data.exists() and embedded._redis_pid():
            embedded.redis_stop()
    # the project's own .data is never what a configured directory's clean-up deletes
    assert (ROOT / "manage.py").exists()


def test_delete_data_refuses_the_project_home_and_root(tmp_path):
    assert embedded.deletable(tmp_path / "data")
    for directory in (ROOT, ROOT.parent, Path.home(), Path("/")):
        assert not embedded.deletable(directory)
    result = manage(ROOT, "stop", "--delete-data")
    assert result.returncode != 0 and "Not deleting" in result.stderr
    assert (ROOT / "manage.py").exists()
