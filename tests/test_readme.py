"""The README's Python quickstart runs and prints what the README says it prints."""

import doctest
import os
import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _quickstart_block() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index("## Quickstart: Python"):]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


@pytest.mark.slow
def test_python_quickstart_prints_what_the_readme_shows(tmp_path, capsys, monkeypatch):
    code, expected = [], []
    for line in _quickstart_block().splitlines():
        if line.startswith("# "):
            expected.append(line[2:])
        else:
            code.append(line)
    assert expected, "the quickstart shows no output to check"
    monkeypatch.chdir(tmp_path)
    exec(compile("\n".join(code), "README.md", "exec"), {})  # noqa: S102 (our own README)
    printed = capsys.readouterr().out.splitlines()
    checker = doctest.OutputChecker()
    assert len(printed) == len(expected), printed
    for got, want in zip(printed, expected):
        assert checker.check_output(want + "\n", got + "\n", doctest.ELLIPSIS), (got, want)
    assert os.path.isdir(tmp_path / "vectors.ekv")
