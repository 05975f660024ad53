"""Project habits: one version, a license matching the metadata, typed package, markers."""

from __future__ import annotations

import tomllib
from pathlib import Path

from click.testing import CliRunner

import normcli
from normcli.cli import cli

ROOT = Path(__file__).resolve().parent.parent


def test_version_written_once() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "version" not in project["project"]
    assert project["project"]["dynamic"] == ["version"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "normcli.__version__"}
    out = CliRunner().invoke(cli, ["--version"]).output
    assert out == f"normcli, version {normcli.__version__}\n"
    assert f"## [{normcli.__version__}]" in (ROOT / "CHANGELOG.md").read_text()


def test_license_and_typed_package() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert project["project"]["license"] == "MIT"
    assert (ROOT / "LICENSE").read_text().startswith("MIT License\n")
    assert "Typing :: Typed" in project["project"]["classifiers"]
    assert project["tool"]["setuptools"]["package-data"]["normcli"] == ["py.typed"]
    assert (ROOT / "normcli" / "py.typed").exists()
    markers = project["tool"]["pytest"]["ini_options"]["markers"]
    assert any(m.startswith("slow:") for m in markers)
