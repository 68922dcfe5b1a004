"""Integrity regressions (issue 21): saved data is never lost, bad files are clean errors.

Each test pins one finding of the integrity probe; see docs/design/integrity.md.
"""

import json
import os

import numpy as np
import pytest

import embedkit
import integrity_files as F  # tests/integrity_files.py
from embedkit.errors import EmbedkitError, FormatError, ParameterError
from embedkit.training import _common as C
from embedkit.vectors import native


# -- data loss: saving the native format ----------------------------------------------------

def test_native_save_refuses_a_tokenizer_folder_with_a_vocab_json(tmp_path):
    folder = tmp_path / "tokenizer"
    folder.mkdir()
    (folder / "vocab.json").write_text('{"the": 0, "cat": 1}')
    (folder / "tokenizer_config.json").write_text("{}")
    (folder / "merges.txt").write_text("t h\n")
    with pytest.raises(ParameterError, match="merges.txt"):
        embedkit.save(F.vectors(), folder, format="native")
    assert sorted(p.name for p in folder.iterdir()) == ["merges.txt", "tokenizer_config.json",
                                                        "vocab.json"]
    assert (folder / "vocab.json").read_text() == '{"the": 0, "cat": 1}'


def test_native_save_refuses_an_ekv_holding_other_files(tmp_path):
    out = F.write_native(tmp_path / "v.ekv")
    (out / "notes.txt").write_text("mine")
    with pytest.raises(ParameterError, match="notes.txt"):
        embedkit.save(F.vectors(seed=1), out, format="native")
    assert (out / "notes.txt").read_text() == "mine"


def test_native_save_replaces_its_own_directory(tmp_path):
    out = F.write_native(tmp_path / "v.ekv")
    new = F.vectors(seed=7)
    embedkit.save(new, out, format="native")
    assert np.array_equal(embedkit.load(out).vectors, new.vectors)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["v.ekv"]


def test_native_save_keeps_the_old_copy_when_the_final_rename_fails(tmp_path, monkeypatch):
    out = F.write_native(tmp_path / "v.ekv")
    before = embedkit.load(out, mmap=False).vectors.copy()
    real = os.replace
    calls = []

    def failing_replace(src, dst):
        calls.append((src, dst))
        if len(calls) == 2:  # the rename of the new directory into place
            raise OSError(28, "No space left on device")
        return real(src, dst)

    monkeypatch.setattr(native.os, "replace", failing_replace)
    with pytest.raises(OSError):
        embedkit.save(F.vectors(seed=5), out, format="native")
    monkeypatch.setattr(native.os, "replace", real)
    assert np.array_equal(embedkit.load(out).vectors, before)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["v.ekv"]


# -- native files that used to load wrong --------------------------------------------------

def _edit_vocab(path, **changes):
    data = json.loads((path / "vocab.json").read_text())
    data.update(changes)
    (path / "vocab.json").write_text(json.dumps(data))


def test_native_duplicate_words_are_refused(tmp_path):
    out = F.write_native(tmp_path / "v.ekv")
    words = list(F.WORDS)
    words[5] = words[1]
    _edit_vocab(out, words=words)
    with pytest.raises(FormatError, match="duplicate"):
        embedkit.load(out)


def test_native_non_string_words_are_refused(tmp_path):
    out = F.write_native(tmp_path / "v.ekv")
    _edit_vocab(out, words=F.WORDS[:-1] + [7])
    with pytest.raises(FormatError, match="not a string"):
        embedkit.load(out)


def test_native_counts_of_the_wrong_length_are_refused(tmp_path):
    out = F.write_native(tmp_path / "v.ekv")
    _edit_vocab(out, counts=[1, 2, 3])
    with pytest.raises(FormatError, match="counts"):
        embedkit.load(out)


def test_native_complex_matrix_is_refused(tmp_path):
    out = F.write_native(tmp_path / "v.ekv")
    np.save(out / "vectors.npy", np.ones((len(F.WORDS), F.DIM), np.complex64))
    with pytest.raises(FormatError, match="complex"):
        embedkit.load(out)


def test_native_nan_row_is_refused(tmp_path):
    out = F.write_native(tmp_path / "v.ekv")
    m = np.load(out / "vectors.npy")
    m[3, 1] = np.nan
    np.save(out / "vectors.npy", m)
    with pytest.raises(FormatError, match="row 4"):
        embedkit.load(out)


@pytest.mark.parametrize("field,value", [("count", "eight"), ("format_version", [1]),
                                         ("metadata", 3), ("words", {"a": 1})])
def test_native_vocab_fields_of_the_wrong_type_are_format_errors(tmp_path, field, value):
    out = F.write_native(tmp_path / "v.ekv")
    _edit_vocab(out, **{field: value})
    with pytest.raises(FormatError, match=field):
        embedkit.load(out)


def test_native_deeply_nested_vocab_json_is_a_format_error(tmp_path):
    out = F.write_native(tmp_path / "v.ekv")
    (out / "vocab.json").write_text("[" * 100000 + "]" * 100000)
    with pytest.raises(FormatError, match="vocab.json"):
        embedkit.load(out)


def test_native_truncated_npy_is_a_format_error(tmp_path):
    out = F.write_native(tmp_path / "v.ekv")
    data = (out / "vectors.npy").read_bytes()
    (out / "vectors.npy").write_bytes(data[:100])
    with pytest.raises(FormatError, match="vectors.npy"):
        embedkit.load(out)


# -- checkpoints ----------------------------------------------------------------------------

def test_checkpoint_kill_between_the_two_renames_resumes_consistently(tmp_path, monkeypatch):
    C.save_checkpoint(tmp_path / "ck", {"w": np.zeros(3)}, {"position": 1})
    real = C._atomic_write

    def killed_before_the_json(path, write, mode="wb"):
        if path.endswith(".json"):
            raise KeyboardInterrupt  # the process dies between the two renames
        real(path, write, mode)

    monkeypatch.setattr(C, "_atomic_write", killed_before_the_json)
    with pytest.raises(KeyboardInterrupt):
        C.save_checkpoint(tmp_path / "ck", {"w": np.ones(3)}, {"position": 2})
    monkeypatch.setattr(C, "_atomic_write", real)
    arrays, state = C.load_checkpoint(tmp_path / "ck")
    assert state["position"] == 2 and arrays["w"].tolist() == [1, 1, 1]


def test_word2vec_resume_with_fewer_rows_is_a_format_error_not_a_crash(tmp_path):
    proc = F.run_isolated(f"""
        import sys, numpy as np
        sys.path.insert(0, {os.path.dirname(__file__)!r})
        import integrity_files as F
        from embedkit.training import Word2Vec, _common as C
        from embedkit.errors import FormatError
        ckpt, enc = F.word2vec_checkpoint({str(tmp_path)!r})
        arrays, state = C.load_checkpoint(ckpt)
        arrays["w_in"] = arrays["w_in"][:2]
        arrays["w_out"] = arrays["w_out"][:2]
        C.save_checkpoint(ckpt, arrays, state)
        try:
            Word2Vec(**F.W2V_FAST).fit(enc, resume=ckpt, progress=False)
        except FormatError as exc:
            print("CLEAN", exc)
    """)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "CLEAN" in proc.stdout and "w_in" in proc.stdout


def test_word2vec_resume_with_a_malformed_state_is_a_format_error(tmp_path):
    ckpt, enc = F.word2vec_checkpoint(tmp_path)
    arrays, state = C.load_checkpoint(ckpt)
    state["position"]["history"] = [{"epoch": "one"}]
    C.save_checkpoint(ckpt, arrays, state)
    from embedkit.training import Word2Vec

    with pytest.raises(FormatError, match="history"):
        Word2Vec(**F.W2V_FAST).fit(enc, resume=ckpt, progress=False)


def test_word2vec_resume_with_invalid_params_is_a_format_error(tmp_path):
    ckpt, enc = F.word2vec_checkpoint(tmp_path)
    arrays, state = C.load_checkpoint(ckpt)
    state["params"]["dim"] = "big"
    C.save_checkpoint(ckpt, arrays, state)
    from embedkit.training import Word2Vec

    with pytest.raises(FormatError, match="dim"):
        Word2Vec(**F.W2V_FAST).fit(enc, resume=ckpt, progress=False)


def test_checkpoint_with_a_corrupt_npz_is_a_format_error(tmp_path):
    C.save_checkpoint(tmp_path / "ck", {"w": np.arange(1000.0)}, {})
    data = bytearray((tmp_path / "ck.npz").read_bytes())
    data[200:260] = b"\xff" * 60
    (tmp_path / "ck.npz").write_bytes(bytes(data))
    with pytest.raises(EmbedkitError, match="ck.npz"):
        C.load_checkpoint(tmp_path / "ck")
