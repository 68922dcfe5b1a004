"""fastText's native .bin: reading both headers, fastText's word vectors, and vectors for
unseen words from character n-grams, checked against gensim, fastText itself and hand-made
models."""

from __future__ import annotations

import gzip
import logging
import pathlib
import random
import struct

import numpy as np
import pytest

import embedkit
from embedkit._kernels import subword as K
from embedkit.errors import FormatError, ParameterError, UnknownWordError
from embedkit.vectors.loader import detect_format
from embedkit.vectors.subword import Subwords
from ftbin import model_bytes, write_model

DATA = pathlib.Path(__file__).parent / "data"
# every fastText model in gensim's test data, and the encoding of its words
GENSIM_MODELS = {
    "lee_fasttext.bin": "utf-8",             # old header
    "lee_fasttext_new.bin": "utf-8",         # current header, version 11
    "crime-and-punishment.bin": "utf-8",     # version 12, Cyrillic
    "non_ascii_fasttext.bin": "utf-8",       # old header, Czech
    "cp852_fasttext.bin": "cp852",           # old header, words in cp852
    "toy-model.bin": "utf-8",
    "toy-model-pretrained.bin": "utf-8",     # written by gensim, holds an empty word
    "pang_lee_polarity_fasttext.bin": "utf-8",  # supervised (gensim refuses it)
}


def _datapath(name):
    utils = pytest.importorskip("gensim.test.utils")
    return utils.datapath(name)


def _oov_words(known, n=1000, seed=0):
    rng = random.Random(seed)
    alphabet = "abcdefghijklmnopqrstuvwxyzéžčřšůüаеирст-'"
    out = []
    while len(out) < n:
        w = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 14)))
        if w not in known:
            out.append(w)
    return out


def _ref_fnv1a_int8(data: bytes) -> int:
    """An independent reference: FNV-1a over bytes sign-extended to 32 bits."""
    h = 2166136261
    for b in data:
        h ^= (b - 256) & 0xFFFFFFFF if b >= 128 else b
        h = (h * 16777619) & 0xFFFFFFFF
    return h


# -- the hash and the n-grams ------------------------------------------------------------------

def test_hash_matches_fnv1a_on_ascii():
    for text in (b"", b"a", b"<where>", b"foobar"):
        buf = np.frombuffer(text, dtype=np.uint8) if text else np.empty(0, np.uint8)
        assert int(K.ft_hash(buf, 0, len(text))) == _ref_fnv1a_int8(text)
    assert int(K.ft_hash(np.frombuffer(b"a", np.uint8), 0, 1)) == 0xE40C292C  # published FNV-1a


def test_hash_sign_extends_bytes_above_127_as_fasttext_does():
    text = "žluťoučký".encode("utf-8")
    buf = np.frombuffer(text, dtype=np.uint8)
    assert int(K.ft_hash(buf, 0, len(text))) == _ref_fnv1a_int8(text)
    plain = 2166136261
    for b in text:  # the textbook FNV-1a (no sign extension) differs on these bytes
        plain = ((plain ^ b) * 16777619) & 0xFFFFFFFF
    assert plain != _ref_fnv1a_int8(text)


def test_ngrams_are_utf8_characters_with_markers_and_no_lone_markers():
    sub = Subwords(np.zeros((100, 2), np.float32), minn=1, maxn=2, bucket=100)
    assert sub.ngrams_of("ab") == ["<a", "a", "ab", "b", "b>"]
    rows = sub.ngram_rows("ab")
    expected = [_ref_fnv1a_int8(g.encode()) % 100 for g in ["<a", "a", "ab", "b", "b>"]]
    assert rows.tolist() == expected
    # a two-byte character is one character: "é" alone is a 1-gram
    rows = sub.ngram_rows("é")
    assert rows.tolist() == [_ref_fnv1a_int8(g.encode()) % 100 for g in ["<é", "é", "é>"]]


def test_unseen_word_vector_is_the_mean_of_its_ngram_rows(rng):
    ngrams = rng.standard_normal((50, 4)).astype(np.float32)
    sub = Subwords(ngrams, minn=3, maxn=4, bucket=50)
    rows = sub.ngram_rows("hello")
    assert len(rows) == len(sub.ngrams_of("hello"))
    np.testing.assert_allclose(sub.vector("hello"), ngrams[rows].mean(axis=0), rtol=1e-6)


def test_word_without_ngrams_gets_zeros_with_a_warning(caplog):
    sub = Subwords(np.ones((10, 3), np.float32), minn=5, maxn=6, bucket=10)
    with caplog.at_level(logging.WARNING, logger="embedkit"):
        vec = sub.vector("a")  # "<a>" is 3 characters: no n-gram of 5-6
    assert not vec.any()
    assert "no character n-gram" in caplog.text


# -- agreement with gensim's load_facebook_vectors ---------------------------------------------

def _gensim_agreement(name):
    ft = pytest.importorskip("gensim.models.fasttext")
    enc = GENSIM_MODELS[name]
    v = embedkit.load(_datapath(name), encoding=enc)
    kv = ft.load_facebook_vectors(_datapath(name), encoding=enc)
    return v, kv, enc


@pytest.mark.parametrize("name", [n for n in GENSIM_MODELS if "cp852" not in n
                                  and "polarity" not in n])
def test_in_vocabulary_vectors_agree_with_gensim(name):
    v, kv, _ = _gensim_agreement(name)
    assert v.words == kv.index_to_key
    current = v.metadata["fasttext"]["header"] == "current"
    rows = [i for i, w in enumerate(v.words) if not (current and w == "</s>")]
    assert np.abs(v.vectors[rows] - kv.vectors[rows]).max() <= 1e-6


@pytest.mark.parametrize("name", [n for n in GENSIM_MODELS if "cp852" not in n
                                  and "polarity" not in n])
def test_unseen_word_vectors_agree_with_gensim(name, caplog):
    v, kv, _ = _gensim_agreement(name)
    words = _oov_words(set(v.words))
    with caplog.at_level(logging.ERROR):
        expected = np.stack([kv[w] for w in words])
    assert np.abs(v.subwords.vectors(words) - expected).max() <= 1e-6
    assert np.abs(v[words[:5]] - expected[:5]).max() <= 1e-6


def test_cp852_model_agrees_with_gensim_on_ascii_words():
    v, kv, _ = _gensim_agreement("cp852_fasttext.bin")
    assert v.words == kv.index_to_key
    ascii_rows = [i for i, w in enumerate(v.words) if w.isascii()]
    assert np.abs(v.vectors[ascii_rows] - kv.vectors[ascii_rows]).max() <= 1e-6
    words = [w for w in _oov_words(set(v.words)) if w.isascii()]
    expected = np.stack([kv[w] for w in words])
    assert np.abs(v.subwords.vectors(words) - expected).max() <= 1e-6


def test_cp852_model_hashes_the_bytes_fasttext_trained_on():
    """fastText hashed the cp852 bytes it read (gensim hashes UTF-8 instead): the buckets
    only cp852 hashing reaches were trained (large norms), the ones only UTF-8 hashing
    reaches look untouched (like buckets no word reaches)."""
    v = embedkit.load(_datapath("cp852_fasttext.bin"), encoding="cp852")
    as_utf8 = Subwords(v.subwords.ngrams, v.subwords.minn, v.subwords.maxn, v.subwords.bucket)
    ours = {int(r) for w in v.words for r in v.subwords.ngram_rows(w)}
    utf8 = {int(r) for w in v.words for r in as_utf8.ngram_rows(w)}
    norms = np.linalg.norm(v.subwords.ngrams, axis=1)
    untouched = norms[sorted(set(range(len(norms))) - ours - utf8)].mean()
    assert norms[sorted(ours - utf8)].mean() > 2 * untouched
    assert norms[sorted(utf8 - ours)].mean() < 1.2 * untouched


# -- agreement with fastText itself ------------------------------------------------------------

@pytest.mark.parametrize("name", ["crime-and-punishment.bin", "lee_fasttext_new.bin"])
def test_vectors_equal_fasttexts_own_output(name):
    """reference.npz holds fastText 0.9's get_word_vector output (make_reference.py)."""
    ref = np.load(DATA / "fasttext" / "reference.npz")
    key = name.split(".")[0].replace("-", "_")
    v = embedkit.load(_datapath(name))
    assert v.words == ref[f"{key}__words"].tolist()
    np.testing.assert_array_equal(v.vectors, ref[f"{key}__in_vocab"])
    oov = ref[f"{key}__oov_words"].tolist()
    np.testing.assert_array_equal(v[oov], ref[f"{key}__oov"])


def test_end_of_sentence_token_is_its_own_row_in_current_models():
    v = embedkit.load(_datapath("crime-and-punishment.bin"))
    i = v.index("</s>")
    raw = _raw_word_rows(_datapath("crime-and-punishment.bin"), len(v))
    np.testing.assert_array_equal(v.vectors[i], raw[i])


def test_vectors_agree_with_fasttext_package_when_installed():
    fasttext = pytest.importorskip("fasttext")
    path = _datapath("lee_fasttext_new.bin")
    model = fasttext.load_model(path)
    v = embedkit.load(path)
    np.testing.assert_array_equal(v.vectors, np.stack([model.get_word_vector(w) for w in v.words]))
    words = _oov_words(set(v.words), n=200)
    np.testing.assert_array_equal(v[words], np.stack([model.get_word_vector(w) for w in words]))


def _raw_word_rows(path, nwords):
    from embedkit.vectors import fasttext as F

    data = np.fromfile(path, dtype=np.uint8)
    args, cur = F.read_header(path, data)
    size = cur.take(F._DICT_STRUCT, "")[0]
    cur.take(struct.Struct("<q"), "")
    arrays = [np.empty(size, np.int64) for _ in range(3)] + [np.empty(size, np.uint8)]
    pos = K.scan_dictionary(data, cur.pos, size, *arrays)[2]
    rows, cols = struct.unpack("<2q", data[pos + 1:pos + 17].tobytes())
    return data[pos + 17:pos + 17 + 4 * rows * cols].view(np.float32).reshape(rows, cols)[:nwords]


def test_old_header_model_matches_the_vec_file_fasttext_wrote():
    v = embedkit.load(_datapath("lee_fasttext.bin"))
    vec = embedkit.load(_datapath("lee_fasttext.vec"))
    assert v.words == vec.words
    np.testing.assert_allclose(v.vectors, vec.vectors, atol=5e-5, rtol=1e-4)


def test_supervised_model_reads_words_and_keeps_labels_apart():
    v = embedkit.load(_datapath("pang_lee_polarity_fasttext.bin"))
    info = v.metadata["fasttext"]
    assert info["model"] == "supervised" and info["maxn"] == 0
    assert info["labels"] == ["__label__pos", "__label__neg"]
    assert not any(w.startswith("__label__") for w in v.words)
    assert v.subwords is None
    with pytest.raises(UnknownWordError):
        v["sharkado"]
    vec = embedkit.load(_datapath("pang_lee_polarity_fasttext.vec"))
    common = [w for w in vec.words if w in v.key_to_index and "\ufffd" not in w]
    assert len(common) > 1000
    np.testing.assert_allclose(v[common], vec[common], atol=5e-5, rtol=1e-4)


# -- hand-made models: headers, validation --------------------------------------------------------

WORDS = ["</s>", "hello", "world", "héllo"]


def _matrix(rng, bucket=40, dim=3):
    return rng.standard_normal((len(WORDS) + bucket, dim)).astype(np.float32)


@pytest.mark.parametrize("header", ["current", "old"])
def test_both_headers_are_detected_and_read(tmp_path, rng, header):
    m = _matrix(rng)
    path = write_model(tmp_path / "m.bin", WORDS, m, header=header)
    assert detect_format(path) == "fasttext-bin"
    v = embedkit.load(path)
    assert v.words == WORDS
    sub = Subwords(m[len(WORDS):], 3, 6, 40)
    rows = sub.ngram_rows("hello")
    expected = (m[1] + m[len(WORDS) + rows].sum(axis=0)) / (len(rows) + 1)
    np.testing.assert_allclose(v["hello"], expected, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(v["unseen"], sub.vector("unseen"), rtol=1e-6)


def test_counts_come_from_the_model(tmp_path, rng):
    path = write_model(tmp_path / "m.bin", WORDS, _matrix(rng), counts=[9, 7, 5, 3])
    assert embedkit.load(path).counts.tolist() == [9, 7, 5, 3]


def test_limit_keeps_the_first_words_and_all_ngrams(tmp_path, rng):
    path = write_model(tmp_path / "m.bin", WORDS, _matrix(rng))
    full, part = embedkit.load(path), embedkit.load(path, limit=2)
    assert part.words == WORDS[:2]
    np.testing.assert_array_equal(part.vectors, full.vectors[:2])
    np.testing.assert_array_equal(part["world"], full.subwords.vector("world"))  # now unseen


def test_compressed_model_is_read(tmp_path, rng):
    data = model_bytes(WORDS, _matrix(rng))
    (tmp_path / "m.bin").write_bytes(data)
    (tmp_path / "m.bin.gz").write_bytes(gzip.compress(data))
    a, b = embedkit.load(tmp_path / "m.bin"), embedkit.load(tmp_path / "m.bin.gz")
    np.testing.assert_array_equal(a.vectors, b.vectors)
    np.testing.assert_array_equal(a["xyz"], b["xyz"])


def test_ngram_matrix_is_memory_mapped_from_the_file(tmp_path, rng):
    path = write_model(tmp_path / "m.bin", WORDS, _matrix(rng))
    assert isinstance(embedkit.load(path).subwords.ngrams.base, np.memmap) or \
        isinstance(embedkit.load(path).subwords.ngrams, np.memmap)
    assert not isinstance(embedkit.load(path, mmap=False).subwords.ngrams, np.memmap)


def test_pruned_model_uses_its_ngram_index(tmp_path, rng):
    m = rng.standard_normal((len(WORDS) + 2, 3)).astype(np.float32)
    full = Subwords(np.zeros((40, 3), np.float32), 3, 6, 40)
    kept = sorted({int(r) for r in full.ngram_rows("hello")})[:2]
    path = write_model(tmp_path / "m.bin", WORDS, m, bucket=40, prune=[(kept[0], 0), (kept[1], 1)])
    v = embedkit.load(path)
    rows = full.ngram_rows("hello")
    mapped = [0 if r == kept[0] else 1 for r in rows if r in kept]
    expected = (m[1] + m[len(WORDS) + np.array(mapped, dtype=int)].sum(axis=0)) / (len(mapped) + 1)
    np.testing.assert_allclose(v["hello"], expected, rtol=1e-6, atol=1e-7)


def test_version_11_supervised_model_uses_no_ngrams(tmp_path, rng):
    m = _matrix(rng)
    path = write_model(tmp_path / "m.bin", WORDS, m, version=11, model=3, loss=3,
                       labels=["__label__a"])
    v = embedkit.load(path)
    assert v.subwords is None and v.metadata["fasttext"]["maxn"] == 0
    np.testing.assert_array_equal(v.vectors, m[:len(WORDS)])


def test_quantised_model_is_refused_with_advice(tmp_path, rng):
    path = write_model(tmp_path / "m.ftz", WORDS, _matrix(rng), quant=True)
    with pytest.raises(FormatError, match="quantised.*full models"):
        embedkit.load(path)


@pytest.mark.parametrize("cut", [70, 120, 300, -5])
def test_truncated_model_is_a_format_error_naming_the_file(tmp_path, rng, cut):
    data = model_bytes(WORDS, _matrix(rng))
    path = tmp_path / "cut.bin"
    path.write_bytes(data[:cut])
    with pytest.raises(FormatError, match="cut.bin"):
        embedkit.load(path)


def test_inconsistent_matrix_shape_is_a_format_error(tmp_path, rng):
    path = write_model(tmp_path / "m.bin", WORDS, _matrix(rng), bucket=99)
    with pytest.raises(FormatError, match="input matrix is .* header implies"):
        embedkit.load(path)


def test_unknown_version_is_a_format_error(tmp_path, rng):
    path = write_model(tmp_path / "m.bin", WORDS, _matrix(rng), version=99)
    with pytest.raises(FormatError, match="version 99"):
        embedkit.load(path)


def test_bad_entry_type_is_a_format_error(tmp_path, rng):
    data = bytearray(model_bytes(WORDS, _matrix(rng)))
    at = data.index(b"hello\x00") + len(b"hello\x00") + 8
    data[at] = 7
    (tmp_path / "m.bin").write_bytes(bytes(data))
    with pytest.raises(FormatError, match="entry 2 .* neither word"):
        embedkit.load(tmp_path / "m.bin")


def test_invalid_utf8_word_is_repaired_or_refused(tmp_path, rng):
    path = write_model(tmp_path / "m.bin", [b"ok", b"bad\xff"], _matrix(rng)[:42], bucket=40)
    v = embedkit.load(path)
    assert v.words == ["ok", "bad\ufffd"] and v.metadata["repaired_words"] == 1
    with pytest.raises(FormatError, match="not valid utf-8"):
        embedkit.load(path, unicode_errors="strict")


def test_unrecognised_binary_file_message_no_longer_says_pass_format(tmp_path):
    path = tmp_path / "junk.bin"
    path.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(FormatError) as err:
        embedkit.load(path)
    assert "pass format=" not in str(err.value)
    assert "fastText .bin" in str(err.value)


# -- the Vectors API and the native format ----------------------------------------------------

@pytest.fixture
def model(tmp_path, rng):
    return embedkit.load(write_model(tmp_path / "m.bin", WORDS, _matrix(rng, bucket=200)))


def test_most_similar_and_similarity_use_subword_vectors(model):
    res = model.most_similar("helloo", topn=3)
    assert len(res) == 3
    expected = model.similar_by_vector(model["helloo"], topn=3)
    assert [w for w, _ in res] == [w for w, _ in expected]
    a, b = model["helloo"], model["world"]
    cos = float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))
    assert model.similarity("helloo", "world") == pytest.approx(cos, abs=1e-6)
    assert "helloo" not in model  # membership stays the vocabulary


def test_vectors_without_subwords_still_raise_for_unseen_words(model):
    model.subwords = None
    with pytest.raises(UnknownWordError):
        model.most_similar("helloo")


def test_native_format_keeps_the_ngrams_memory_mapped(model, tmp_path):
    model.save(tmp_path / "m.ekv")
    back = embedkit.load(tmp_path / "m.ekv")
    assert isinstance(back.subwords.ngrams, np.memmap)
    np.testing.assert_array_equal(back.vectors, model.vectors)
    np.testing.assert_array_equal(back["helloo"], model["helloo"])
    assert back.subwords.to_metadata() == model.subwords.to_metadata()


def test_native_directory_missing_its_ngrams_is_a_format_error(model, tmp_path):
    model.save(tmp_path / "m.ekv")
    (tmp_path / "m.ekv" / "ngrams.npy").unlink()
    with pytest.raises(FormatError, match="ngrams.npy is missing"):
        embedkit.load(tmp_path / "m.ekv")


def test_text_format_warns_that_ngrams_are_dropped(model, tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="embedkit"):
        model.save(tmp_path / "m.txt")
    assert "not kept" in caplog.text


def test_restrict_keeps_subwords(model):
    small = model.restrict(2)
    np.testing.assert_array_equal(small["world"], model.subwords.vector("world"))


def test_cli_similar_answers_for_an_unseen_word(tmp_path, rng):
    from click.testing import CliRunner

    from embedkit.cli.main import cli

    path = write_model(tmp_path / "cc.bin", WORDS, _matrix(rng, bucket=200))
    out = CliRunner().invoke(cli, ["similar", "--vectors", str(path), "-k", "2", "--json",
                                   "sharkado"])
    assert out.exit_code == 0, out.output
    import json

    got = [r["word"] for r in json.loads(out.output.strip().splitlines()[-1])]
    v = embedkit.load(path)
    assert got == [w for w, _ in v.most_similar("sharkado", topn=2)]


def test_saving_as_fasttext_bin_is_refused_with_advice(model, tmp_path):
    with pytest.raises(ParameterError, match="does not write them.*ekv"):
        model.save(tmp_path / "out.bin", format="fasttext-bin")


def test_cli_convert_to_ekv_keeps_subword_vectors(tmp_path, rng):
    from click.testing import CliRunner

    from embedkit.cli.main import cli

    path = write_model(tmp_path / "cc.bin", WORDS, _matrix(rng, bucket=200))
    out = CliRunner().invoke(cli, ["convert", str(path), str(tmp_path / "cc.ekv")])
    assert out.exit_code == 0, out.output
    np.testing.assert_array_equal(embedkit.load(tmp_path / "cc.ekv")["sharkado"],
                                  embedkit.load(path)["sharkado"])


def test_vectors_for_all_builds_unseen_words(model):
    out = model.vectors_for_all(["hello", "sharkado"])
    assert out.words == ["hello", "sharkado"]
    np.testing.assert_array_equal(out["sharkado"], model["sharkado"])
