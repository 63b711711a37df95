"""The program starts as `spectrogen` and as `python -m spectrogen`, and every sub-command has help."""

import subprocess
import sys

import pytest

from spectrogen.cli.main import COMMANDS, main


def test_python_dash_m_runs_the_cli():
    result = subprocess.run([sys.executable, "-m", "spectrogen", "--help"], capture_output=True, text=True)
    assert result.returncode == 0
    for name in ("prepare", "train", "sample", "convert", "evaluate", "demo"):
        assert name in result.stdout


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_command_explains_itself(command, capsys):
    with pytest.raises(SystemExit) as info:
        main([command, "--help"])
    assert info.value.code == 0
    assert len(capsys.readouterr().out) > 100
