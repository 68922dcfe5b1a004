"""The package map in pyproject.toml matches the folders, and nothing generic is installed."""

import pathlib

try:
    import tomllib
except ImportError:  # Python 3.10: the same parser, from PyPI (a dev dependency there)
    import tomli as tomllib

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _pyproject():
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_every_package_folder_is_listed():
    tool = _pyproject()["tool"]["setuptools"]
    dirs = tool["package-dir"]
    found = set()
    for name, folder in dirs.items():
        base = ROOT / folder
        for init in base.rglob("__init__.py"):
            rel = init.parent.relative_to(base)
            parts = [p for p in rel.parts]
            if any(p.startswith(".") or p == "__pycache__" for p in parts):
                continue
            found.add(".".join([name, *parts]))
        # data-only folders: setuptools wants each folder that holds package data listed
        for folder in base.rglob("*"):
            rel = folder.relative_to(base)
            if (not folder.is_dir() or not rel.parts or (folder / "__init__.py").exists()
                    or not all(p.isidentifier() for p in rel.parts)
                    or not any(f.is_file() for f in folder.iterdir())):
                continue
            if any(p.startswith(".") or p == "__pycache__" for p in rel.parts):
                continue
            found.add(".".join([name, *rel.parts]))
    # subpackages of a mapped package that are themselves mapped count once
    assert found == set(tool["packages"])


def test_only_embedkit_is_installed_top_level():
    tool = _pyproject()["tool"]["setuptools"]
    assert {p.split(".")[0] for p in tool["packages"]} == {"embedkit"}


def test_py_typed_ships():
    assert (ROOT / "embedkit" / "py.typed").exists()
    assert "py.typed" in _pyproject()["tool"]["setuptools"]["package-data"]["embedkit"]


def test_no_package_is_listed_twice():
    packages = _pyproject()["tool"]["setuptools"]["packages"]
    assert len(packages) == len(set(packages))


def test_top_level_train_is_the_function_even_after_importing_the_trainers():
    # a subpackage named like a top-level function would replace it once imported
    import importlib

    import embedkit

    for module in ("embedkit.training", "embedkit.training.word2vec"):
        importlib.import_module(module)
    assert callable(embedkit.train)
    assert callable(embedkit.load)
