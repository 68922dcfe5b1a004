"""The CLI's modules follow one naming convention (issue 14): every command group lives in
``<group>_cmd.py``; ``main.py`` and ``reference.py`` are the root group and the reference
renderer; a leading underscore marks a shared helper."""

import os

import embedkit.cli as cli
from embedkit.cli.main import COMMANDS


def test_every_command_module_ends_in_cmd():
    modules = {target.split(":")[0] for target in COMMANDS.values()}
    assert sorted(m for m in modules if not m.endswith("_cmd")) == []


def test_every_cli_module_is_a_command_module_or_named_exception():
    folder = os.path.dirname(cli.__file__)
    names = sorted(f[:-3] for f in os.listdir(folder) if f.endswith(".py"))
    odd = [n for n in names if not (n.endswith("_cmd") or n.startswith("_")
                                    or n in ("main", "reference"))]
    assert odd == []
