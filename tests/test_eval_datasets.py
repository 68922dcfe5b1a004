"""Shipped datasets and the readers for every layout (including users' own files)."""

import logging

import numpy as np
import pytest

from embedkit.errors import FormatError, MissingFileError, ParameterError
from embedkit.evaluation import (AnalogySet, SimilaritySet, dataset_path, list_datasets,
                                 load_dataset, read_analogies, read_pairs)


def test_google_set_sections_and_families():
    ds = load_dataset("google")
    assert len(ds) == 19544
    assert len(ds.section_names) == 14
    fams = dict(zip(ds.section_names, ds.section_families))
    assert sum(f == "semantic" for f in fams.values()) == 5
    assert fams["capital-common-countries"] == "semantic"
    assert fams["gram9-plural-verbs"] == "syntactic"
    assert int((np.asarray(ds.section_families)[ds.section] == "semantic").sum()) == 8869


def test_msr_and_bats_sets():
    msr = load_dataset("msr")
    assert len(msr) == 8000 and len(msr.section_names) == 16
    assert msr.a[0] == ("good",) and msr.d[0] == ("rougher",)
    bats = load_dataset("bats")
    assert len(bats.section_names) == 40 and len(bats.families) == 4
    assert len(bats) == 40 * 50 * 49
    assert any(len(d) > 1 for d in bats.d)  # several acceptable answers


@pytest.mark.parametrize("name,n", [
    ("ws353", 353), ("ws353-sim", 203), ("ws353-rel", 252), ("simlex999", 999), ("men", 3000),
    ("rw", 2034), ("mturk287", 287), ("mturk771", 771), ("simverb3500", 3500), ("rg65", 65),
    ("mc30", 30), ("yp130", 130)])
def test_similarity_sets(name, n):
    ds = load_dataset(name)
    assert isinstance(ds, SimilaritySet) and len(ds) == n
    assert all(isinstance(g, float) for g in ds.gold)


def test_registry_names_and_aliases():
    assert set(list_datasets("analogy")) == {"google", "msr", "bats"}
    assert "simlex999" in list_datasets("similarity")
    assert dataset_path("WordSim353") == dataset_path("ws353")
    with pytest.raises(ParameterError, match="unknown dataset"):
        dataset_path("nope")
    with pytest.raises(ParameterError, match="kind must be"):
        list_datasets("other")


def test_google_layout_user_file(tmp_path):
    p = tmp_path / "mine.txt"
    p.write_text(": family\nking queen man woman\n\n:  gram-x \nbig bigger small smaller\n")
    ds = read_analogies(p)
    assert ds.section_names == ["family", "gram-x"]
    assert ds.section_families == ["semantic", "syntactic"]
    assert ds.d == [("woman",), ("smaller",)] and ds.name == "mine"


def test_google_layout_without_header(tmp_path):
    p = tmp_path / "plain.txt"
    p.write_text("king queen man woman\n")
    ds = load_dataset(str(p))
    assert isinstance(ds, AnalogySet) and ds.section_names == ["plain"]


def test_csv_layouts(tmp_path):
    p = tmp_path / "a.csv"
    p.write_text(",type,word1,word2,word3,target\n0,t1,a,b,c,d\n1,t2,e,f,g,h\n")
    ds = load_dataset(str(p))
    assert ds.section_names == ["t1", "t2"] and ds.a == [("a",), ("e",)]
    q = tmp_path / "b.csv"
    q.write_text("a,b,c,d\n")
    assert read_analogies(q).d == [("d",)]


def test_bats_directory_layout(tmp_path):
    fam = tmp_path / "1_Inflectional_morphology"
    fam.mkdir()
    (fam / "I01 [x - y].txt").write_text("cat\tcats\nmouse\tmice/mouses\nox\toxen\n")
    ds = load_dataset(str(tmp_path))
    assert len(ds) == 6 and ds.families == ["Inflectional morphology"]
    assert ("mice", "mouses") in ds.d


@pytest.mark.parametrize("text", ["a\tb\t1.5\n", "a b 1.5\n", "a,b,1.5\n",
                                  "# comment\nword1,word2,similarity\na,b,1.5\n",
                                  ",similarity,word1,word2\n0,1.5,a,b\n"])
def test_similarity_layouts(tmp_path, text):
    p = tmp_path / "s.txt"
    p.write_text(text)
    ds = load_dataset(str(p))
    assert (ds.word1, ds.word2, ds.gold) == (["a"], ["b"], [1.5])


def test_malformed_analogy_line_names_its_number(tmp_path):
    p = tmp_path / "q.txt"
    p.write_text(": s\na b c d\na b c\n")
    with pytest.raises(FormatError, match=r"line 3: expected 4 words"):
        read_analogies(p)


def test_malformed_similarity_line_names_its_number(tmp_path):
    p = tmp_path / "s.tsv"
    p.write_text("a\tb\t1\nc\td\tmany\n")
    with pytest.raises(FormatError, match=r"line 2: the score is not a number"):
        read_pairs(p)


def test_skip_bad_lines_warns(tmp_path, caplog):
    p = tmp_path / "s.tsv"
    p.write_text("a\tb\t1\nc\td\n")
    with caplog.at_level(logging.WARNING):
        ds = read_pairs(p, skip_bad_lines=True)
    assert len(ds) == 1 and "line 2" in caplog.text


def test_empty_dataset(tmp_path):
    p = tmp_path / "e.txt"
    p.write_text("\n\n")
    with pytest.raises(FormatError, match="empty"):
        load_dataset(str(p))
    q = tmp_path / "h.txt"
    q.write_text(": only a header\n")
    with pytest.raises(FormatError, match="no analogy questions"):
        read_analogies(q)


def test_missing_file():
    with pytest.raises(MissingFileError, match="neither a shipped set"):
        load_dataset("/no/such/file.txt")


def test_non_utf8_file(tmp_path):
    p = tmp_path / "bad.txt"
    p.write_bytes(b"a\tb\t1\n\xff\xfe\tc\t2\n")
    with pytest.raises(FormatError, match="line 2: not valid UTF-8"):
        read_pairs(p)


def _gzip_analogies(path, rows):
    import gzip

    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in range(5000)]
    lines = [" ".join(rng.choice(words, 4)) for _ in range(rows)]
    path.write_bytes(gzip.compress((": section\n" + "\n".join(lines) + "\n").encode()))
    return path


def test_gzipped_file_is_read_by_content(tmp_path):
    p = _gzip_analogies(tmp_path / "questions.dat", 50)
    assert len(load_dataset(str(p))) == 50


@pytest.mark.parametrize("reader", [load_dataset, read_analogies])
def test_truncated_gzip_names_the_file(tmp_path, reader):
    p = _gzip_analogies(tmp_path / "questions.txt.gz", 2000)
    data = p.read_bytes()
    p.write_bytes(data[: len(data) // 2])
    with pytest.raises(FormatError, match=r"questions\.txt\.gz: the compressed file is truncated"):
        reader(str(p) if reader is load_dataset else p)
