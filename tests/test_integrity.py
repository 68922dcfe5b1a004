"""Integrity regressions (issue 21): saved data is never lost, bad files are clean errors.

Each test pins one finding of the integrity probe; see docs/design/integrity.md.
"""

import json
import os

import numpy as np
import pytest

import embedkit
from helpers import integrity as F
from embedkit.errors import EmbedkitError, FormatError, ParameterError
from embedkit import _io
from embedkit.training import checkpoint as CK
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


def test_native_nan_row_behind_stored_norms_is_refused(tmp_path):
    """The stored norms were written from finite rows; a NaN put in later is still found."""
    v = F.vectors(200, 8)
    embedkit.save(v, tmp_path / "v.ekv")
    assert (tmp_path / "v.ekv" / "norms.npy").exists()
    m = np.load(tmp_path / "v.ekv" / "vectors.npy")
    m[100, 2] = np.inf  # not among the rows whose norms are recomputed
    np.save(tmp_path / "v.ekv" / "vectors.npy", m)
    with pytest.raises(FormatError, match="row 101 .* holds NaN"):
        embedkit.load(tmp_path / "v.ekv")


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
    CK.save_checkpoint(tmp_path / "ck", {"w": np.zeros(3)}, {"position": 1})
    real = _io.write_atomic

    def killed_before_the_json(path, write, mode="wb", fsync=False):
        if str(path).endswith(".json"):
            raise KeyboardInterrupt  # the process dies between the two renames
        real(path, write, mode, fsync)

    monkeypatch.setattr(_io, "write_atomic", killed_before_the_json)
    with pytest.raises(KeyboardInterrupt):
        CK.save_checkpoint(tmp_path / "ck", {"w": np.ones(3)}, {"position": 2})
    monkeypatch.setattr(_io, "write_atomic", real)
    arrays, state = CK.load_checkpoint(tmp_path / "ck")
    assert state["position"] == 2 and arrays["w"].tolist() == [1, 1, 1]


def test_word2vec_resume_with_fewer_rows_is_a_format_error_not_a_crash(tmp_path):
    proc = F.run_isolated(f"""
        import sys, numpy as np
        sys.path.insert(0, {os.path.dirname(__file__)!r})
        from helpers import integrity as F
        from embedkit.training import Word2Vec, checkpoint as CK
        from embedkit.errors import FormatError
        ckpt, enc = F.word2vec_checkpoint({str(tmp_path)!r})
        arrays, state = CK.load_checkpoint(ckpt)
        arrays["w_in"] = arrays["w_in"][:2]
        arrays["w_out"] = arrays["w_out"][:2]
        CK.save_checkpoint(ckpt, arrays, state)
        try:
            Word2Vec(**F.W2V_FAST).fit(enc, resume=ckpt, progress=False)
        except FormatError as exc:
            print("CLEAN", exc)
    """)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "CLEAN" in proc.stdout and "w_in" in proc.stdout


def test_word2vec_resume_with_a_malformed_state_is_a_format_error(tmp_path):
    ckpt, enc = F.word2vec_checkpoint(tmp_path)
    arrays, state = CK.load_checkpoint(ckpt)
    state["position"]["history"] = [{"epoch": "one"}]
    CK.save_checkpoint(ckpt, arrays, state)
    from embedkit.training import Word2Vec

    with pytest.raises(FormatError, match="history"):
        Word2Vec(**F.W2V_FAST).fit(enc, resume=ckpt, progress=False)


def test_word2vec_resume_with_invalid_params_is_a_format_error(tmp_path):
    ckpt, enc = F.word2vec_checkpoint(tmp_path)
    arrays, state = CK.load_checkpoint(ckpt)
    state["params"]["dim"] = "big"
    CK.save_checkpoint(ckpt, arrays, state)
    from embedkit.training import Word2Vec

    with pytest.raises(FormatError, match="dim"):
        Word2Vec(**F.W2V_FAST).fit(enc, resume=ckpt, progress=False)


def test_checkpoint_with_a_corrupt_npz_is_a_format_error(tmp_path):
    CK.save_checkpoint(tmp_path / "ck", {"w": np.arange(1000.0)}, {})
    data = bytearray((tmp_path / "ck.npz").read_bytes())
    data[200:260] = b"\xff" * 60
    (tmp_path / "ck.npz").write_bytes(bytes(data))
    with pytest.raises(EmbedkitError, match="ck.npz"):
        CK.load_checkpoint(tmp_path / "ck")


# -- corpus cache ---------------------------------------------------------------------------

def _cached(tmp_path, name="c.txt"):
    from embedkit.corpus import prepare

    src = F.corpus_file(tmp_path / name)
    enc = prepare(str(src), min_count=1, cache_dir=tmp_path / "cache")
    return src, enc


@pytest.mark.parametrize("damage", ["id_too_big", "negative_id", "offset_past_end",
                                    "offsets_decrease"])
def test_corpus_cache_with_bad_ids_or_offsets_is_a_format_error(tmp_path, damage):
    from embedkit.corpus.encode import EncodedCorpus

    _, enc = _cached(tmp_path)
    path = enc.path
    ids = np.load(path / "ids.npy")
    offsets = np.load(path / "offsets.npy")
    if damage == "id_too_big":
        ids[5] = len(enc.vocab) + 1000
    elif damage == "negative_id":
        ids[5] = -3
    elif damage == "offset_past_end":
        offsets[-1] = len(ids) + 10000
    else:
        offsets[2], offsets[3] = offsets[3], offsets[2]
    del enc
    np.save(path / "ids.npy", ids)
    np.save(path / "offsets.npy", offsets)
    with pytest.raises(FormatError, match="ids|offsets"):
        EncodedCorpus.open(path)


def test_a_damaged_corpus_cache_entry_is_rebuilt(tmp_path, caplog):
    from embedkit.corpus import prepare

    src, enc = _cached(tmp_path)
    good = np.array(enc.ids).copy()
    path = enc.path
    del enc
    ids = np.load(path / "ids.npy")
    ids[:] = 10 ** 6
    np.save(path / "ids.npy", ids)
    again = prepare(str(src), min_count=1, cache_dir=tmp_path / "cache")
    assert again.path == path and np.array_equal(again.ids, good)
    assert "damaged" in caplog.text


def test_corpus_cache_sees_a_same_size_edit_with_the_mtime_restored(tmp_path):
    from embedkit.corpus import prepare

    src, enc = _cached(tmp_path)
    st = os.stat(src)
    text = src.read_text()
    src.write_text(text.replace("w1 ", "w2 ", 1))  # same size
    os.utime(src, ns=(st.st_atime_ns, st.st_mtime_ns))
    again = prepare(str(src), min_count=1, cache_dir=tmp_path / "cache")
    assert again.path != enc.path
    assert again.vocab.counts.tolist() != enc.vocab.counts.tolist()


def test_corpus_cache_is_bounded_least_recently_used_first(tmp_path, monkeypatch):
    from embedkit.corpus import prepare

    _, first = _cached(tmp_path, "a.txt")
    os.utime(first.path, (1, 1))  # used long ago
    monkeypatch.setenv("EMBEDKIT_CACHE_MAX", "1")
    _, second = _cached(tmp_path, "b.txt")
    left = sorted(p.name for p in (tmp_path / "cache" / "encoded").iterdir())
    assert left == [second.path.name]


def test_cache_cli_lists_and_clears(tmp_path):
    from click.testing import CliRunner

    from embedkit.cli.main import cli

    (tmp_path / "cache" / "encoded").mkdir(parents=True)
    (tmp_path / "cache" / "encoded" / "notes").mkdir()  # not ours: never removed
    _, enc = _cached(tmp_path)
    runner = CliRunner()
    res = runner.invoke(cli, ["cache", "list", "--cache-dir", str(tmp_path / "cache")])
    assert res.exit_code == 0 and enc.path.name in res.output and "c.txt" in res.output
    res = runner.invoke(cli, ["cache", "clear", "--cache-dir", str(tmp_path / "cache")])
    assert res.exit_code == 0 and "removed 1" in res.output
    assert [p.name for p in (tmp_path / "cache" / "encoded").iterdir()] == ["notes"]


# -- downstream models ----------------------------------------------------------------------

def _resave_weights(path, **changes):
    weights = dict(np.load(path / "weights.npz"))
    weights.update(changes)
    np.savez(path / "weights.npz", **weights)
    # keep model.json's tie to the weights, as a careful tamperer would
    from embedkit import _validate as V

    meta = json.loads((path / "model.json").read_text())
    if "weights_sha256" in meta:
        meta["weights_sha256"] = V.file_digest(path / "weights.npz")
        (path / "model.json").write_text(json.dumps(meta))


def test_model_weights_of_the_wrong_shape_are_a_format_error_not_a_crash(tmp_path):
    # gru_f_WhT 2x3 corrupted the heap (SIGSEGV); gru_f_Wi 24x37 and emb with half its
    # columns predicted from out-of-bounds memory.  One subprocess runs the three cases.
    proc = F.run_isolated(f"""
        import sys, json, numpy as np
        sys.path.insert(0, {os.path.dirname(__file__)!r})
        from helpers import integrity as F
        from embedkit import _validate as V
        from embedkit.downstream import load_model
        from embedkit.errors import FormatError
        from pathlib import Path
        path = Path({str(tmp_path)!r}) / "model"
        m, texts = F.sentiment_model(path)
        good = dict(np.load(path / "weights.npz"))
        for name, shape in [("gru_f_WhT", (2, 3)), ("gru_f_Wi", (24, 37)), ("emb", None)]:
            w = dict(good)
            if shape is None:
                w[name] = np.ascontiguousarray(w[name][:, : w[name].shape[1] // 2])
            else:
                w[name] = np.ones(shape, np.float32)
            np.savez(path / "weights.npz", **w)
            meta = json.loads((path / "model.json").read_text())
            if "weights_sha256" in meta:
                meta["weights_sha256"] = V.file_digest(path / "weights.npz")
                (path / "model.json").write_text(json.dumps(meta))
            try:
                print("LOADED", name, load_model(path).predict(texts[:5]), flush=True)
            except FormatError as exc:
                print("CLEAN", name, exc, flush=True)
    """)
    assert proc.returncode == 0, proc.stdout + proc.stderr[-2000:]
    for name in ("gru_f_WhT", "gru_f_Wi", "emb"):
        assert f"CLEAN {name}" in proc.stdout, proc.stdout


def test_model_with_every_part_round_trips_and_checks_each_array(tmp_path):
    from embedkit.downstream import load_model

    m, sents = F.ner_model(tmp_path / "ner")
    assert load_model(tmp_path / "ner").predict(sents[:3]) == m.predict(sents[:3])
    for name in ("cnn_W_1", "l2_gru_b_WhT", "crf_trans", "char_emb", "case_emb"):
        w = np.load(tmp_path / "ner" / "weights.npz")[name]
        _resave_weights(tmp_path / "ner", **{name: w[:-1]})
        with pytest.raises(FormatError, match=name):
            load_model(tmp_path / "ner")
        _resave_weights(tmp_path / "ner", **{name: w})


def test_model_json_and_weights_from_different_saves_are_refused(tmp_path):
    from embedkit.downstream import load_model

    F.sentiment_model(tmp_path / "a")
    F.sentiment_model(tmp_path / "b", seed=5)
    (tmp_path / "a" / "weights.npz").write_bytes((tmp_path / "b" / "weights.npz").read_bytes())
    with pytest.raises(FormatError, match="different saves"):
        load_model(tmp_path / "a")


@pytest.mark.parametrize("field,value", [("config", []), ("labels", "pos"), ("vocab", [1, 2]),
                                         ("n_pretrained", "x"), ("task", 3)])
def test_model_json_fields_of_the_wrong_type_are_format_errors(tmp_path, field, value):
    from embedkit.downstream import load_model

    F.sentiment_model(tmp_path / "m")
    meta = json.loads((tmp_path / "m" / "model.json").read_text())
    meta[field] = value
    (tmp_path / "m" / "model.json").write_text(json.dumps(meta))
    with pytest.raises(FormatError, match=field):
        load_model(tmp_path / "m")


def test_model_config_of_the_wrong_type_is_a_format_error(tmp_path):
    from embedkit.downstream import load_model

    F.sentiment_model(tmp_path / "m")
    meta = json.loads((tmp_path / "m" / "model.json").read_text())
    meta["config"]["hidden"] = "many"
    (tmp_path / "m" / "model.json").write_text(json.dumps(meta))
    with pytest.raises(FormatError, match="hidden"):
        load_model(tmp_path / "m")


def test_model_nan_weights_are_refused(tmp_path):
    from embedkit.downstream import load_model

    F.sentiment_model(tmp_path / "m")
    w = np.load(tmp_path / "m" / "weights.npz")["out_W"].copy()
    w[0, 0] = np.nan
    _resave_weights(tmp_path / "m", out_W=w)
    with pytest.raises(FormatError, match="out_W"):
        load_model(tmp_path / "m")


# -- search indexes -------------------------------------------------------------------------

def _index_setup(tmp_path, kind="exact"):
    from embedkit.search import Index

    v = F.vectors(200, 8, seed=3)
    path = tmp_path / "v.ekv"
    Index(v, kind).save(path)
    return v, path


def test_index_with_a_tampered_row_is_not_trusted(tmp_path):
    from embedkit.search import Index
    from embedkit.search.store import index_paths

    v, path = _index_setup(tmp_path)
    index_file = index_paths(path)[0]
    data = bytearray(open(index_file, "rb").read())
    row5 = np.ascontiguousarray(v.normalized[5]).tobytes()
    row0 = np.ascontiguousarray(v.normalized[0]).tobytes()
    at = bytes(data).find(row5)
    assert at > 0
    data[at:at + len(row5)] = row0  # word 5 now looks exactly like word 0
    open(index_file, "wb").write(bytes(data))
    with pytest.raises(FormatError, match="rebuild"):
        Index.load(path, v)
    ids, scores = Index.open(v, path).search(v.normalized[:1], k=2)
    assert ids[0, 0] == 0 and scores[0, 1] < 0.999


def test_index_with_an_unknown_kind_is_rebuilt(tmp_path):
    from embedkit.search import Index
    from embedkit.search.store import index_paths

    v, path = _index_setup(tmp_path, "hnsw")
    meta_file = index_paths(path)[1]
    meta = json.loads(open(meta_file).read())
    meta["kind"] = "hnsw2"
    open(meta_file, "w").write(json.dumps(meta))
    with pytest.raises(FormatError, match="unknown index kind"):
        Index.load(path, v)
    index = Index.open(v, path)
    assert index.kind == "exact"
    assert index.search_words([v.vectors[7]], k=1)[0][0][0] == v.words[7]


@pytest.mark.parametrize("field,value", [("params", [1, 2]), ("kind", ["exact"]),
                                         ("params", {"rerank": "x"})])
def test_index_descriptor_fields_of_the_wrong_type_are_format_errors(tmp_path, field, value):
    from embedkit.search import Index
    from embedkit.search.store import index_paths

    v, path = _index_setup(tmp_path, "hnsw")
    meta_file = index_paths(path)[1]
    meta = json.loads(open(meta_file).read())
    meta[field] = value
    open(meta_file, "w").write(json.dumps(meta))
    with pytest.raises(FormatError):
        Index.load(path, v)
    assert len(Index.open(v, path)) == len(v)


def test_index_write_on_a_full_disk_is_a_clean_error(tmp_path, monkeypatch):
    import faiss

    from embedkit.search import Index

    def full_disk(index, path):
        raise RuntimeError("Error in faiss::FileIOWriter: write error (no space left)")

    v = F.vectors(50, 8)
    index = Index(v, "exact")
    monkeypatch.setattr(faiss, "write_index", full_disk)
    with pytest.raises(EmbedkitError, match="cannot write the index"):
        index.save(tmp_path / "v.ekv")
    assert not list(tmp_path.iterdir())
    assert len(Index.open(v, tmp_path / "v.ekv")) == 50  # used in memory, with a warning
