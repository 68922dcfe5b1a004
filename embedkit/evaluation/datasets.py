"""The registry of the evaluation sets shipped in ``embedkit.evaluations`` (names, aliases,
files), and :func:`load_dataset`, which reads a shipped set by name or a user's file by path
with the readers of :mod:`embedkit.evaluation.readers`."""

from __future__ import annotations

import pathlib

from embedkit.errors import MissingFileError, ParameterError
from embedkit.evaluation.readers import (AnalogySet, SimilaritySet, read_analogies, read_pairs,
                                         sniff_layout)

__all__ = [
    "AnalogySet", "SimilaritySet", "DATASETS", "list_datasets", "load_dataset",
    "read_analogies", "read_pairs", "dataset_path",
]

DATASETS: dict[str, tuple[str, str, str]] = {
    "google": ("analogy", "google/questions-words.txt", "google"),
    "msr": ("analogy", "msr/msr.csv", "csv"),
    "bats": ("analogy", "bats", "bats"),
    "ws353": ("similarity", "similarity/EN-WS-353-ALL.txt", "pairs"),
    "ws353-sim": ("similarity", "similarity/EN-WS-353-SIM.txt", "pairs"),
    "ws353-rel": ("similarity", "similarity/EN-WS-353-REL.txt", "pairs"),
    "simlex999": ("similarity", "similarity/EN-SIMLEX-999.txt", "pairs"),
    "men": ("similarity", "similarity/EN-MEN-TR-3k.txt", "pairs"),
    "rw": ("similarity", "similarity/EN-RW-STANFORD.txt", "pairs"),
    "mturk287": ("similarity", "similarity/EN-MTurk-287.txt", "pairs"),
    "mturk771": ("similarity", "similarity/EN-MTurk-771.txt", "pairs"),
    "simverb3500": ("similarity", "similarity/EN-SimVerb-3500.txt", "pairs"),
    "rg65": ("similarity", "similarity/EN-RG-65.txt", "pairs"),
    "mc30": ("similarity", "similarity/EN-MC-30.txt", "pairs"),
    "yp130": ("similarity", "similarity/EN-YP-130.txt", "pairs"),
    "verb143": ("similarity", "similarity/EN-VERB-143.txt", "pairs"),
}

_ALIASES = {
    "questions-words": "google", "google-analogy": "google", "wordsim353": "ws353",
    "ws-353": "ws353", "wordsim353-sim": "ws353-sim", "wordsim353-rel": "ws353-rel",
    "simlex": "simlex999", "simlex-999": "simlex999", "men3000": "men", "rw-stanford": "rw",
    "mturk-287": "mturk287", "mturk-771": "mturk771", "simverb": "simverb3500",
    "simverb-3500": "simverb3500", "rg-65": "rg65", "mc-30": "mc30", "yp-130": "yp130",
    "verb-143": "verb143", "bats3": "bats", "bats-3.0": "bats",
}


def _data_dir() -> pathlib.Path:
    from importlib import resources

    return pathlib.Path(str(resources.files("embedkit.evaluations") / "data"))


def list_datasets(kind: str | None = None) -> list[str]:
    """Names of the shipped datasets, optionally only ``"analogy"`` or ``"similarity"`` ones."""
    if kind not in (None, "analogy", "similarity"):
        raise ParameterError(f"kind must be 'analogy', 'similarity' or None, got {kind!r}")
    return [n for n, (k, _, _) in DATASETS.items() if kind is None or k == kind]


def canonical_name(name: str) -> str | None:
    """The registry name for ``name`` (case-insensitive, aliases accepted), or None."""
    key = name.strip().lower()
    key = _ALIASES.get(key, key)
    return key if key in DATASETS else None


def dataset_path(name: str) -> pathlib.Path:
    """Path of a shipped dataset's file (or directory, for BATS)."""
    key = canonical_name(name)
    if key is None:
        raise ParameterError(f"unknown dataset {name!r}: choose one of "
                             f"{', '.join(DATASETS)} or give the path of your own file")
    return _data_dir() / DATASETS[key][1]


def dataset_kind(spec: str) -> str:
    """``"analogy"`` or ``"similarity"`` for a registry name or a file path."""
    key = canonical_name(spec)
    if key is not None:
        return DATASETS[key][0]
    path = pathlib.Path(spec)
    if not path.exists():
        raise MissingFileError(f"dataset {spec!r} is neither a shipped set ({', '.join(DATASETS)}) "
                               "nor an existing file: check the name or the path")
    return "analogy" if sniff_layout(path) != "pairs" else "similarity"


def load_dataset(spec: str, skip_bad_lines: bool = False):
    """Read a shipped dataset by name, or a user file (layout detected), into a set object.

    Parameters
    ----------
    spec : str
        A registry name (see :func:`list_datasets`) or the path of a file or BATS directory.
    skip_bad_lines : bool, default False
        Skip malformed lines with a warning instead of raising :class:`FormatError`.

    Returns
    -------
    AnalogySet or SimilaritySet
    """
    key = canonical_name(spec)
    if key is not None:
        kind, rel, layout = DATASETS[key]
        path = _data_dir() / rel
        if kind == "analogy":
            return read_analogies(path, layout=layout, name=key, skip_bad_lines=skip_bad_lines)
        return read_pairs(path, name=key, skip_bad_lines=skip_bad_lines)
    path = pathlib.Path(spec)
    if not path.exists():
        raise MissingFileError(f"dataset {spec!r} is neither a shipped set ({', '.join(DATASETS)}) "
                               "nor an existing file: check the name or the path")
    layout = sniff_layout(path)
    if layout == "pairs":
        return read_pairs(path, skip_bad_lines=skip_bad_lines)
    return read_analogies(path, layout=layout, skip_bad_lines=skip_bad_lines)
