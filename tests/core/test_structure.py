"""The app layers hold (DESIGN.md "Layers", README "Layout"): import-linter's contracts in
pyproject.toml pass, cover every app, and ignore no import."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _config() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]


def test_every_app_has_a_place_in_the_layers():
    layers = next(c for c in _config()["contracts"] if c["type"] == "layers")["layers"]
    named = {layer.strip("()") for layer in layers}
    apps = {f"apps.{p.name}" for p in (ROOT / "apps").iterdir() if (p / "__init__.py").exists()}
    assert apps - named == set(), "an app outside the layers contract escapes the check"
    assert not any(layer.startswith("(") for layer in layers), "no layer is optional"


def test_no_contract_ignores_an_import():
    for contract in _config()["contracts"]:
        assert not contract.get("ignore_imports"), contract["id"]


def test_the_contracts_pass():
    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]


def test_an_upward_import_breaks_the_layers(tmp_path):
    """The contract is not vacuous: a copy of the tree where core imports consent fails it."""
    subprocess.run(["cp", "-r", str(ROOT / "apps"), str(ROOT / "bench"), str(ROOT / "pyproject.toml"),
                    str(tmp_path)], check=True)
    copy = tmp_path
    (copy / "apps" / "core" / "upward.py").write_text("from apps.consent import models  # noqa: F401\n")
    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(lint), "--no-cache"], cwd=copy, capture_output=True, text=True, timeout=300,
                            env={"PYTHONPATH": str(copy), "PATH": "/usr/bin:/bin"})
    assert result.returncode != 0
    assert "apps.core.upward -> apps.consent.models" in result.stdout
