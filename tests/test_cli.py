"""The root command: version, help for every command, quiet/verbose, clean errors."""

import subprocess
import sys

from click.testing import CliRunner

import embedkit
from embedkit.cli.main import COMMANDS, cli


def test_version():
    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0
    assert embedkit.__version__ in result.output


def test_root_help_lists_every_command():
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    for name in COMMANDS:
        assert name in result.output


def _command_paths():
    """Every command and sub-command, as the argument list that reaches it."""
    import click

    paths = []
    ctx = click.Context(cli)

    def walk(group, prefix):
        for name in group.list_commands(ctx):
            cmd = group.get_command(ctx, name)
            paths.append(prefix + [name])
            if isinstance(cmd, click.Group):
                walk(cmd, prefix + [name])

    walk(cli, [])
    return paths


def test_every_command_has_help():
    for path in _command_paths():
        result = CliRunner().invoke(cli, [*path, "--help"])
        assert result.exit_code == 0, (path, result.output)
        assert "Usage:" in result.output
        cmd_help = result.output.split("Options:")[0]
        assert len(cmd_help.strip().splitlines()) >= 3, f"{path} has no help text"


def test_console_script_runs():
    out = subprocess.run([sys.executable, "-m", "embedkit.cli.main", "--version"],
                         capture_output=True, text=True)
    assert out.returncode == 0
    assert embedkit.__version__ in out.stdout


def test_unknown_command_is_an_error_without_traceback():
    result = CliRunner().invoke(cli, ["no-such-command"])
    assert result.exit_code != 0
    assert "Traceback" not in result.output
