"""The documentation stays true: the generated CLI and Python API references are current, the
README's links resolve, and the package's public names are all listed and importable."""

import importlib.util
import pathlib
import re

import pytest

import embedkit

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_cli_reference_is_current():
    from embedkit.cli.reference import render_markdown

    page = ROOT / "docs" / "cli.md"
    assert page.read_text(encoding="utf-8") == render_markdown(), (
        "docs/cli.md is stale: run `python -m embedkit.cli.reference --write docs/cli.md`")


def test_python_api_reference_is_current():
    script = ROOT / "docs" / "tools" / "api_reference.py"
    spec = importlib.util.spec_from_file_location("api_reference", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    page = ROOT / "docs" / "python-api.md"
    assert page.read_text(encoding="utf-8") == module.render(), (
        "docs/python-api.md is stale: run "
        "`python docs/tools/api_reference.py --write docs/python-api.md`")


@pytest.mark.parametrize("doc", ["README.md", *[str(p.relative_to(ROOT)) for p in
                                                sorted((ROOT / "docs").rglob("*.md"))]])
def test_relative_links_resolve(doc):
    text = (ROOT / doc).read_text(encoding="utf-8")
    base = (ROOT / doc).parent
    missing = [target for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text)
               if "://" not in target and not target.startswith("mailto:")
               and not (base / target).exists()]
    assert not missing, f"{doc} links to missing files: {missing}"


def test_public_names_are_listed_and_importable():
    assert set(embedkit.__all__) <= set(dir(embedkit))
    for name in embedkit.__all__:
        assert getattr(embedkit, name) is not None, name
