"""The program starts as `spectrogen` and as `python -m spectrogen`, and every sub-command has help."""

import subprocess
import sys

import pytest

from spectrogen.cli.main import COMMANDS, main


def test_python_dash_m_lists_the_commands_without_loading_them_nor_torch():
    result = subprocess.run([sys.executable, "-X", "importtime", "-m", "spectrogen", "--help"], capture_output=True,
                            text=True)
    assert result.returncode == 0 and all(name in result.stdout for name in COMMANDS), result.stdout
    imported = {line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines() if "|" in line}
    assert "torch" not in imported and "spectrogen.cli.main" in imported
    assert not {name for name in imported if name.startswith("spectrogen.cli.")} - {"spectrogen.cli.main"}


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_command_shows_its_own_description(command, capsys):
    with pytest.raises(SystemExit) as info:
        main([command, "--help"])
    assert info.value.code == 0
    assert sys.modules[COMMANDS[command][0]].__doc__.splitlines()[0] in capsys.readouterr().out.replace("\n", " ")
