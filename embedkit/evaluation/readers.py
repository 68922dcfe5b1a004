"""Readers for every supported evaluation-set layout, into :class:`AnalogySet` and
:class:`SimilaritySet`.  The registry of shipped sets is :mod:`embedkit.evaluation.datasets`.

Analogy layouts
    ``google``  questions-words text: ``: section`` header lines, then ``a b c d`` lines.
    ``csv``     MSR/vecto csv: a header naming ``word1,word2,word3,target`` (and optionally
                ``type``, used as the section); headerless rows of 4 (or ``type`` + 4) fields.
    ``bats``    BATS 3.0 directory: ``<family>/<relation>.txt`` files of ``word<TAB>answer``
                lines, answers separated by ``/``; a question is built from every ordered pair
                of distinct lines of one relation.

Similarity layout
    three fields a line, ``word1 word2 score``, separated by a tab, spaces or commas; ``#``
    comment lines and a csv header row (``word1,word2,similarity`` in any order) are skipped.
"""

from __future__ import annotations

import csv
import io
import logging
import os
import pathlib
from dataclasses import dataclass, field

import numpy as np

from embedkit._io import decompression_errors, open_file
from embedkit._validate import existing_path
from embedkit.errors import FormatError, ParameterError

log = logging.getLogger(__name__)

__all__ = ["AnalogySet", "SimilaritySet", "read_analogies", "read_pairs", "sniff_layout"]

# The Google set's semantic sections; the syntactic ones are named gram1-... .
_SYNTACTIC_PREFIX = "gram"


@dataclass
class AnalogySet:
    """Analogy questions ``a : b :: c : d``.

    Each of ``a``, ``b``, ``c`` and ``d`` is a list with one tuple of acceptable spellings per
    question (a single word for Google and MSR; BATS lists several answers).  ``section`` gives
    each question's section number into ``section_names``; ``section_families`` names the
    family (group of sections) of each section.
    """

    name: str
    a: list
    b: list
    c: list
    d: list
    section: np.ndarray
    section_names: list
    section_families: list
    source: str = ""

    def __len__(self) -> int:
        return len(self.a)

    @property
    def families(self) -> list[str]:
        """Family names in order of first appearance."""
        return list(dict.fromkeys(self.section_families))


@dataclass
class SimilaritySet:
    """Word pairs with a human similarity score."""

    name: str
    word1: list
    word2: list
    gold: list
    line_numbers: list = field(default_factory=list)
    source: str = ""

    def __len__(self) -> int:
        return len(self.word1)


# name -> (kind, path relative to the data folder, layout)
# -- layout detection ------------------------------------------------------------------------
def _read_text(path: pathlib.Path) -> str:
    """The text of an evaluation file (plain, or ``.gz``/``.bz2``/``.xz`` recognised by its
    first bytes); a truncated or corrupt compressed file or text that is not UTF-8 is a
    :class:`FormatError` naming the file."""
    with decompression_errors(path), open_file(path, "rb") as f:
        data = f.read()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise FormatError(f"{path}, line {line}: not valid UTF-8; save the file as UTF-8") from None


def sniff_layout(path: pathlib.Path) -> str:
    if path.is_dir():
        return "bats"
    text = _read_text(path)
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if raw.startswith(": ") or raw.startswith(":"):
            return "google"
        fields = _split_fields(line)
        header = [f.strip().lower() for f in fields]
        if "word3" in header or "target" in header:
            return "csv"
        if "word1" in header:
            return "pairs"
        if len(fields) == 3 and _is_float(fields[2]):
            return "pairs"
        if len(fields) == 2 and path.suffix != ".csv":
            return "bats"
        if path.suffix == ".csv" or "," in line:
            return "csv"
        return "google"
    raise FormatError(f"{path} is empty: a dataset needs at least one question or word pair")


def _is_float(s: str) -> bool:
    try:
        float(s)
    except ValueError:
        return False
    return True


def _split_fields(line: str) -> list[str]:
    if "\t" in line:
        return [f.strip() for f in line.split("\t")]
    if "," in line:
        return [f.strip() for f in next(csv.reader([line]))]
    return line.split()


def _bad_line(path, line_no: int, what: str, line: str, skip: bool) -> None:
    msg = (f"{path}, line {line_no}: {what}, got {line.strip()[:80]!r}; "
           "fix or delete the line (or pass skip_bad_lines=True / --skip-bad-lines)")
    if not skip:
        raise FormatError(msg)
    log.warning("skipping %s", msg.split("; fix")[0])


def _family_of_google_section(name: str) -> str:
    return "syntactic" if name.startswith(_SYNTACTIC_PREFIX) else "semantic"


# -- analogy readers -------------------------------------------------------------------------
def read_analogies(path, layout: str | None = None, name: str | None = None,
                   skip_bad_lines: bool = False) -> AnalogySet:
    """Read analogy questions from a questions-words file, an MSR-style csv or a BATS directory.

    Parameters
    ----------
    path : str or path-like
        The file (or BATS directory).
    layout : {"google", "csv", "bats"}, optional
        Detected from the content when omitted.
    name : str, optional
        Name reported in results (default: the file name without suffix).
    skip_bad_lines : bool, default False
        Skip malformed lines with a warning instead of raising :class:`FormatError`.

    Returns
    -------
    AnalogySet
    """
    path = existing_path(path, "analogy dataset {path!r} does not exist: check the path")
    if layout is None:
        layout = sniff_layout(path)
    readers = {"google": _read_google, "csv": _read_analogy_csv, "bats": _read_bats}
    if layout not in readers:
        raise ParameterError(f"analogy layout must be one of {', '.join(readers)}, got {layout!r}")
    if layout == "bats" and not path.is_dir():
        sets = _read_bats_files([path], path.parent, skip_bad_lines)
    else:
        sets = readers[layout](path, skip_bad_lines)
    a, b, c, d, section, names, families = sets
    if not a:
        raise FormatError(f"{path} holds no analogy questions: expected lines of four words "
                          "(a b c d), csv rows or BATS word pairs")
    return AnalogySet(name=name or path.stem, a=a, b=b, c=c, d=d,
                      section=np.asarray(section, dtype=np.int32), section_names=names,
                      section_families=families, source=str(path))


def _read_google(path, skip):
    text = _read_text(path)
    a, b, c, d, section = [], [], [], [], []
    names, families = [], []
    current = -1
    for line_no, raw in enumerate(text.splitlines(), start=1):
        if raw.startswith(": "):
            # like gensim: the name is the line without leading ': ' characters
            sec = raw.lstrip(": ").strip()
            names.append(sec)
            families.append(_family_of_google_section(sec))
            current = len(names) - 1
            continue
        words = raw.split()
        if not words:
            continue
        if len(words) != 4:
            _bad_line(path, line_no, f"expected 4 words (a b c d) or a ': section' header "
                      f"but found {len(words)} words", raw, skip)
            continue
        if current < 0:  # questions before any header get a section named after the file
            names.append(pathlib.Path(path).stem)
            families.append("all")
            current = 0
        a.append((words[0],))
        b.append((words[1],))
        c.append((words[2],))
        d.append((words[3],))
        section.append(current)
    return a, b, c, d, section, names, families


def _read_analogy_csv(path, skip):
    text = _read_text(path)
    rows = list(csv.reader(io.StringIO(text)))
    cols = None
    a, b, c, d, section = [], [], [], [], []
    names: dict[str, int] = {}
    stem = pathlib.Path(path).stem
    for line_no, row in enumerate(rows, start=1):
        row = [f.strip() for f in row]
        if not any(row) or row[0].startswith("#"):
            continue
        if cols is None:
            low = [f.lower() for f in row]
            if "word1" in low and "target" in low:
                try:
                    cols = [low.index(k) for k in ("word1", "word2", "word3", "target")]
                except ValueError:
                    raise FormatError(f"{path}, line {line_no}: a csv header needs the columns "
                                      "word1, word2, word3 and target") from None
                cols.append(low.index("type") if "type" in low else -1)
                continue
            cols = [0, 1, 2, 3, -1] if len(row) == 4 else [1, 2, 3, 4, 0]
        need = max(cols) + 1
        if len(row) < need or any(not row[i] for i in cols[:4]):
            _bad_line(path, line_no, f"expected {need} comma-separated fields", ",".join(row), skip)
            continue
        sec = row[cols[4]] if cols[4] >= 0 else stem
        sid = names.setdefault(sec, len(names))
        a.append((row[cols[0]],))
        b.append((row[cols[1]],))
        c.append((row[cols[2]],))
        d.append((row[cols[3]],))
        section.append(sid)
    sec_names = list(names)
    families = [stem if "msr" not in stem.lower() else "syntactic" for _ in sec_names]
    if stem.lower() in ("google-analogies", "questions-words"):
        families = [_family_of_google_section(s) for s in sec_names]
    return a, b, c, d, section, sec_names, families


def _read_bats(path, skip):
    path = pathlib.Path(path)
    files = sorted(p for p in path.rglob("*.txt") if not p.name.startswith("."))
    if not files:
        raise FormatError(f"{path} holds no relation files: a BATS directory has "
                          "<family>/<relation>.txt files of 'word<TAB>answer' lines")
    return _read_bats_files(files, path, skip)


def _family_name(folder: str) -> str:
    head, _, tail = folder.partition("_")
    return tail.replace("_", " ") if head.isdigit() and tail else folder


def _read_bats_files(files, root, skip):
    a, b, c, d, section = [], [], [], [], []
    names, families = [], []
    for f in files:
        pairs = []
        for line_no, raw in enumerate(_read_text(f).splitlines(), start=1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            fields = line.split("\t") if "\t" in line else line.split()
            if len(fields) != 2:
                _bad_line(f, line_no, "expected 'word<TAB>answer[/answer...]'", raw, skip)
                continue
            src = tuple(w for w in fields[0].strip().split("/") if w)
            tgt = tuple(w for w in fields[1].strip().split("/") if w)
            if not src or not tgt:
                _bad_line(f, line_no, "empty word", raw, skip)
                continue
            pairs.append((src, tgt))
        if len(pairs) < 2:
            log.warning("%s has fewer than two word pairs: no questions from it", f)
            continue
        rel = os.path.relpath(f, root)
        folder = pathlib.Path(rel).parent.name
        names.append(f.stem)
        families.append(_family_name(folder) if folder else "all")
        sid = len(names) - 1
        for i, (x, y) in enumerate(pairs):
            for j, (z, w) in enumerate(pairs):
                if i == j:
                    continue
                a.append(x)
                b.append(y)
                c.append(z)
                d.append(w)
                section.append(sid)
    return a, b, c, d, section, names, families


# -- similarity reader -----------------------------------------------------------------------
def read_pairs(path, name: str | None = None, delimiter: str | None = None,
               skip_bad_lines: bool = False) -> SimilaritySet:
    """Read ``word1 word2 score`` lines (tab, space or comma separated; csv header allowed).

    Parameters
    ----------
    path : str or path-like
    name : str, optional
        Name reported in results (default: the file name without suffix).
    delimiter : str, optional
        Field separator; by default a tab if the line has one, else a comma, else whitespace.
    skip_bad_lines : bool, default False
        Skip malformed lines with a warning instead of raising :class:`FormatError`.

    Returns
    -------
    SimilaritySet
    """
    path = existing_path(path, "similarity dataset {path!r} does not exist: check the path",
                         "{path} is a directory: a similarity dataset is one file of "
                         "'word1 word2 score' lines")
    text = _read_text(path)
    w1, w2, gold, lines = [], [], [], []
    cols = (0, 1, 2)
    first = True
    for line_no, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if delimiter is not None:
            fields = [f.strip() for f in line.split(delimiter)]
        else:
            fields = _split_fields(line)
        if first:
            first = False
            low = [f.lower() for f in fields]
            if "word1" in low and "word2" in low:
                score_col = next((low.index(k) for k in ("similarity", "score", "sim", "relatedness")
                                  if k in low), None)
                if score_col is None:
                    raise FormatError(f"{path}, line {line_no}: the header names no score column "
                                      "(similarity, score, sim or relatedness)")
                cols = (low.index("word1"), low.index("word2"), score_col)
                continue
            if len(fields) >= 4 and not _is_float(fields[2]) and _is_float(fields[3]):
                cols = (1, 2, 3)  # an index column in front
        if len(fields) <= max(cols) or (cols == (0, 1, 2) and len(fields) != 3):
            _bad_line(path, line_no, "expected three fields 'word1 word2 score'", raw,
                      skip_bad_lines)
            continue
        try:
            score = float(fields[cols[2]])
        except ValueError:
            _bad_line(path, line_no, "the score is not a number", raw, skip_bad_lines)
            continue
        if not fields[cols[0]] or not fields[cols[1]]:
            _bad_line(path, line_no, "empty word", raw, skip_bad_lines)
            continue
        w1.append(fields[cols[0]])
        w2.append(fields[cols[1]])
        gold.append(score)
        lines.append(line_no)
    if not w1:
        raise FormatError(f"{path} holds no word pairs: expected lines 'word1 word2 score'")
    return SimilaritySet(name=name or path.stem, word1=w1, word2=w2, gold=gold,
                         line_numbers=lines, source=str(path))
