"""Shell completion goes through Click's own ``main`` (``_NORMCLI_COMPLETE``)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from conftest import run_main


def _complete(monkeypatch: pytest.MonkeyPatch, instruction: str, words: str,
              cword: str) -> tuple[int, str]:
    monkeypatch.setenv("_NORMCLI_COMPLETE", instruction)
    monkeypatch.setenv("COMP_WORDS", words)
    monkeypatch.setenv("COMP_CWORD", cword)
    code, out, err = run_main([])
    assert err == ""
    return code, out.decode()


@pytest.mark.parametrize(("shell", "marker"), [
    ("bash", "complete -o nosort -F _normcli_completion normcli"),
    ("zsh", "#compdef normcli"),
    ("fish", "complete --no-files --command normcli"),
])
def test_source_script_printed(shell: str, marker: str) -> None:
    # The real program, as a shell's start-up file runs it.
    env = {**os.environ, "_NORMCLI_COMPLETE": f"{shell}_source"}
    proc = subprocess.run([sys.executable, "-m", "normcli"], env=env, capture_output=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == b""
    script = proc.stdout.decode()
    assert marker in script
    assert "_NORMCLI_COMPLETE" in script


def test_bash_completes_commands(monkeypatch: pytest.MonkeyPatch) -> None:
    code, out = _complete(monkeypatch, "bash_complete", "normcli nor", "1")
    assert code == 0
    assert out.splitlines() == ["plain,norm", "plain,normalize"]


def test_zsh_completes_commands(monkeypatch: pytest.MonkeyPatch) -> None:
    code, out = _complete(monkeypatch, "zsh_complete", "normcli nor", "1")
    assert code == 0
    lines = out.splitlines()
    # zsh gets type, value and help, three lines per candidate.
    assert [lines[i] for i in range(1, len(lines), 3)] == ["norm", "normalize"]
    assert lines[0] == lines[3] == "plain"


def test_fish_completes_commands(monkeypatch: pytest.MonkeyPatch) -> None:
    code, out = _complete(monkeypatch, "fish_complete", "normcli nor", "nor")
    assert code == 0
    values = [line.split("\t")[0] for line in out.splitlines()]
    assert values == ["plain,norm", "plain,normalize"]


def test_bash_completes_options_and_choices(monkeypatch: pytest.MonkeyPatch) -> None:
    code, out = _complete(monkeypatch, "bash_complete", "normcli normalize --sca", "2")
    assert code == 0 and out.splitlines() == ["plain,--scale"]
    code, out = _complete(monkeypatch, "bash_complete", "normcli normalize --scale ", "3")
    assert code == 0 and out.splitlines() == ["plain,minmax", "plain,zscore", "plain,maxabs"]
