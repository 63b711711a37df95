"""The program starts as `spectrogen` and as `python -m spectrogen`, and every sub-command has help."""

import subprocess
import sys

import pytest

from spectrogen.cli.main import COMMANDS, main

LIST_COMMANDS = """
import sys
from spectrogen.cli.main import main
try:
    main(["--help"])
except SystemExit:
    print("torch" in sys.modules, sorted(name for name in sys.modules if name.startswith("spectrogen.cli.")))
"""


def test_python_dash_m_runs_the_cli():
    result = subprocess.run([sys.executable, "-m", "spectrogen", "--help"], capture_output=True, text=True)
    assert result.returncode == 0
    for name in COMMANDS:
        assert name in result.stdout


def test_listing_the_commands_loads_none_of_them_nor_torch():
    result = subprocess.run([sys.executable, "-c", LIST_COMMANDS], capture_output=True, text=True)
    assert result.stdout.splitlines()[-1] == "False ['spectrogen.cli.failures', 'spectrogen.cli.main']"


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_command_shows_its_own_description(command, capsys):
    with pytest.raises(SystemExit) as info:
        main([command, "--help"])
    assert info.value.code == 0
    module = sys.modules[COMMANDS[command][0]]
    assert module.__doc__.splitlines()[0] in capsys.readouterr().out.replace("\n", " ")
