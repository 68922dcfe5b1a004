"""Integrity regressions (issue 21) of the readers hardened after the first pass: language
models and encoder-decoders, sharded corpora, fastText ``.bin`` models and n-gram matrices,
partitioned co-occurrences; and the CLI side of the issue's data-loss and clean-error cases.

Every damaged file must be an EmbedkitError naming the file, never another exception.
"""

import json
import os
import struct

import numpy as np
import pytest
from click.testing import CliRunner

import embedkit
from embedkit.errors import EmbedkitError, FormatError
from helpers import integrity as F


def _edit_json(path, change):
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def _resign(model_dir):
    """Keep model.json's tie to its weights, as a careful tamperer would."""
    from embedkit import _validate as V

    _edit_json(model_dir / "model.json",
               lambda m: m.update(weights_sha256=V.file_digest(model_dir / "weights.npz")))


# -- language models and encoder-decoders -----------------------------------------------------

@pytest.mark.parametrize("field,value,named", [
    ("vocab", ["<unk>", "</s>", None, "w1"], "vocab"),
    ("counts", ["x"] * 9, "counts"),
    ("counts", [2 ** 70] * 9, "counts"),
    ("counts", [1, 2], "counts"),
    ("format_version", {"a": 1}, "format_version"),
    ("history", 3, "history"),
    ("config", [], "config"),
])
def test_lm_model_json_of_the_wrong_type_is_a_format_error(tmp_path, field, value, named):
    from embedkit.lm import LanguageModel

    F.lm_model(tmp_path / "m")
    _edit_json(tmp_path / "m" / "model.json", lambda m: m.update({field: value}))
    with pytest.raises(FormatError, match=named):
        LanguageModel.load(tmp_path / "m")


@pytest.mark.parametrize("field", ["source_vocab", "target_vocab"])
def test_seq2seq_vocabulary_of_non_strings_is_a_format_error(tmp_path, field):
    from embedkit.seq2seq import Seq2Seq

    F.seq2seq_model(tmp_path / "m")
    _edit_json(tmp_path / "m" / "model.json", lambda m: m[field].append(7))
    with pytest.raises(FormatError, match=f"model.json: '{field}' entry"):
        Seq2Seq.load(tmp_path / "m")


@pytest.mark.parametrize("kind", ["lm", "seq2seq"])
@pytest.mark.parametrize("damage", ["flipped", "truncated"])
def test_generator_weights_that_are_not_a_zip_are_a_format_error_naming_them(tmp_path, kind,
                                                                            damage):
    from embedkit.lm import LanguageModel
    from embedkit.seq2seq import Seq2Seq

    (F.lm_model if kind == "lm" else F.seq2seq_model)(tmp_path / "m")
    path = tmp_path / "m" / "weights.npz"
    data = bytearray(path.read_bytes())
    if damage == "flipped":
        for at in range(60, len(data), 97):
            data[at] ^= 0x5A
    else:
        data = data[: len(data) // 2]
    path.write_bytes(bytes(data))
    _resign(tmp_path / "m")
    with pytest.raises(FormatError, match="weights.npz"):
        (LanguageModel if kind == "lm" else Seq2Seq).load(tmp_path / "m")


@pytest.mark.parametrize("kind", ["lm", "seq2seq"])
def test_generator_model_json_and_weights_from_different_saves_are_refused(tmp_path, kind):
    from embedkit.lm import LanguageModel
    from embedkit.seq2seq import Seq2Seq

    make = F.lm_model if kind == "lm" else F.seq2seq_model
    make(tmp_path / "a")
    make(tmp_path / "b", seed=5)
    (tmp_path / "a" / "weights.npz").write_bytes((tmp_path / "b" / "weights.npz").read_bytes())
    with pytest.raises(FormatError, match="different saves"):
        (LanguageModel if kind == "lm" else Seq2Seq).load(tmp_path / "a")


def test_generator_weights_beyond_float32_are_refused(tmp_path):
    from embedkit.lm import LanguageModel

    F.lm_model(tmp_path / "m")
    weights = dict(np.load(tmp_path / "m" / "weights.npz"))
    weights["emb"] = weights["emb"].astype(np.float64)
    weights["emb"][2, 1] = 1e300  # finite in float64, infinity in float32
    np.savez(tmp_path / "m" / "weights.npz", **weights)
    _resign(tmp_path / "m")
    with pytest.raises(FormatError, match="'emb'.*float32"):
        LanguageModel.load(tmp_path / "m")


# -- sharded corpora --------------------------------------------------------------------------

@pytest.fixture
def sharded(tmp_path):
    enc = F.sharded_corpus(tmp_path / "work")
    return enc.path


@pytest.mark.parametrize("damage", ["id_too_big", "negative_id", "int64_ids", "offset_past_end",
                                    "offsets_decrease", "truncated_npy"])
def test_sharded_corpus_with_bad_ids_or_offsets_is_a_format_error(sharded, damage):
    from embedkit.corpus.sharded import ShardedCorpus, load_shard

    ids_path = sharded / "shards" / "00001.ids.npy"
    off_path = sharded / "shards" / "00001.offsets.npy"
    ids, off = np.load(ids_path), np.load(off_path)
    if damage == "id_too_big":
        ids[3] = 10 ** 6
    elif damage == "negative_id":
        ids[3] = -2
    elif damage == "int64_ids":
        ids = ids.astype(np.int64)
    elif damage == "offset_past_end":
        off[-1] += 50
    elif damage == "offsets_decrease":
        off[1], off[2] = off[2], off[1]
    if damage == "truncated_npy":
        ids_path.write_bytes(ids_path.read_bytes()[:40])
    else:
        np.save(ids_path, ids)
        np.save(off_path, off)
    which = "offsets" if "offset" in damage else "ids"
    with pytest.raises(FormatError, match=f"00001.{which}.npy"):
        ShardedCorpus.open(sharded)
    with pytest.raises(FormatError, match=f"00001.{which}.npy"):
        load_shard(sharded, 1, 12)


@pytest.mark.parametrize("file,change,named", [
    ("shards/00000.json", lambda m: m.pop("tokens"), "tokens"),
    ("shards/00000.json", lambda m: m.update(tokens="many"), "tokens"),
    ("manifest.json", lambda m: m.update(shards=[["x"]]), "manifest.json"),
    ("manifest.json", lambda m: m.update(options=None), "options"),
    ("manifest.json", lambda m: m.update(format_version={}), "format_version"),
    ("vocab.json", lambda m: m["words"].__setitem__(0, 1.5), "vocab.json: 'words' entry 0"),
    ("vocab.json", lambda m: m["counts"].__setitem__(0, -1), "vocab.json: 'counts' entry 0"),
])
def test_sharded_corpus_json_of_the_wrong_type_is_a_format_error(sharded, file, change, named):
    from embedkit.corpus.sharded import ShardedCorpus

    _edit_json(sharded / file, change)
    with pytest.raises(FormatError, match=named):
        ShardedCorpus.open(sharded)


# -- fastText models ---------------------------------------------------------------------------

def test_fasttext_dictionary_larger_than_the_file_is_a_format_error(tmp_path):
    path = F.fasttext_bin(tmp_path / "m.bin")
    data = bytearray(path.read_bytes())
    at = 8 + 12 * 4 + 8  # magic, version, 12 int32 arguments and a float64
    struct.pack_into("<3i", data, at, 2 ** 31 - 1, 2 ** 31 - 1, 0)
    path.write_bytes(bytes(data))
    with pytest.raises(FormatError, match="announces 2,147,483,647 entries"):
        embedkit.load(path)


def test_fasttext_nan_in_a_word_row_is_a_format_error_naming_the_word(tmp_path):
    import ftbin

    matrix = np.ones((6 + 16, 4), np.float32)
    matrix[2, 1] = np.nan
    path = ftbin.write_model(tmp_path / "m.bin", F.WORDS[:6], matrix, minn=3, maxn=4,
                             bucket=16)
    with pytest.raises(FormatError, match="m.bin: the vector of word 3 \\('man'\\)"):
        embedkit.load(path)


def test_fasttext_nan_ngram_row_is_named_when_an_unseen_word_uses_it(tmp_path):
    bucket, dim, n = 500, 4, 6
    v = embedkit.load(F.fasttext_bin(tmp_path / "m.bin", bucket=bucket))
    used = {int(r) for w in v.words for r in v.subwords.ngram_rows(w)}
    row = next(int(r) for r in v.subwords.ngram_rows("zebra") if int(r) not in used)
    data = bytearray((tmp_path / "m.bin").read_bytes())
    output_part = 1 + 16 + 4 * n * dim  # quantised flag, shape, output matrix (ftbin.py)
    matrix_start = len(data) - output_part - 4 * (n + bucket) * dim
    struct.pack_into("<f", data, matrix_start + 4 * dim * (n + row), float("nan"))
    (tmp_path / "m.bin").write_bytes(bytes(data))
    v = embedkit.load(tmp_path / "m.bin")  # no word of the vocabulary uses that row
    assert np.isfinite(v.vectors).all()
    with pytest.raises(FormatError, match=f"m.bin: n-gram row {row} \\(used by 'zebra'\\)"):
        v.subwords.vector("zebra")


@pytest.mark.parametrize("field,value,named", [
    ("encoding", {"a": 1}, "encoding"),
    ("encoding", "utf\x00", "encoding"),
    ("maxn", 2 ** 62, "maxn"),
    ("minn", -1, "minn"),
])
def test_native_subword_metadata_of_the_wrong_type_is_a_format_error(tmp_path, field, value,
                                                                      named):
    embedkit.save(embedkit.load(F.fasttext_bin(tmp_path / "m.bin")), tmp_path / "v.ekv")
    _edit_json(tmp_path / "v.ekv" / "vocab.json", lambda m: m["metadata"]["subwords"].update({field: value}))
    with pytest.raises(FormatError, match=named):
        embedkit.load(tmp_path / "v.ekv")


def test_native_truncated_ngram_matrix_is_a_format_error_naming_it(tmp_path):
    embedkit.save(embedkit.load(F.fasttext_bin(tmp_path / "m.bin")), tmp_path / "v.ekv")
    path = tmp_path / "v.ekv" / "ngrams.npy"
    path.write_bytes(path.read_bytes()[:30])
    with pytest.raises(FormatError, match="ngrams.npy"):
        embedkit.load(tmp_path / "v.ekv")


# -- partitioned co-occurrences ----------------------------------------------------------------

@pytest.mark.parametrize("change,named", [
    (lambda m: m.update(rows=[0, 1, 10 ** 6]), "rows"),
    (lambda m: m.update(vocab_size="12"), "vocab_size"),
    (lambda m: m["partitions"].__setitem__(0, {"part": 0, "entries": "x"}), "entries"),
])
def test_partitioned_cooccurrence_manifest_of_the_wrong_type_is_a_format_error(tmp_path, change,
                                                                               named):
    from embedkit.training.cooccur_partitioned import PartitionedCooccurrence, count_sharded

    enc = F.sharded_corpus(tmp_path / "work")
    count_sharded(enc, tmp_path / "co", window=3, n_partitions=2)
    assert len(PartitionedCooccurrence.open(tmp_path / "co").load()) > 0
    _edit_json(tmp_path / "co" / "cooccur.json", change)
    with pytest.raises(FormatError, match=named):
        PartitionedCooccurrence.open(tmp_path / "co")


def test_partitioned_cooccurrence_nan_value_is_a_format_error(tmp_path):
    from embedkit.training.cooccur_partitioned import PartitionedCooccurrence, count_sharded

    enc = F.sharded_corpus(tmp_path / "work")
    pc = count_sharded(enc, tmp_path / "co", window=3, n_partitions=2)
    path, _ = pc.partitions[0]
    arr = np.load(path)
    arr["val"][0] = np.nan
    np.save(path, arr)
    with pytest.raises(FormatError, match=os.path.basename(path)):
        PartitionedCooccurrence.open(tmp_path / "co").load()


# -- the CLI side of the issue ----------------------------------------------------------------

def _cli(*args):
    from embedkit.cli.main import cli

    return CliRunner().invoke(cli, [str(a) for a in args])


def _tokenizer_folder(path):
    path.mkdir()
    (path / "vocab.json").write_text('{"the": 0, "cat": 1}')
    (path / "merges.txt").write_text("t h\n")
    return path


def test_convert_to_native_refuses_a_tokenizer_folder(tmp_path):
    src = F.write_text(tmp_path / "v.txt")
    folder = _tokenizer_folder(tmp_path / "tok")
    r = _cli("convert", src, folder, "--format", "native")
    assert r.exit_code == 1 and "merges.txt" in r.output and "Traceback" not in r.output
    assert sorted(p.name for p in folder.iterdir()) == ["merges.txt", "vocab.json"]
    assert (folder / "vocab.json").read_text() == '{"the": 0, "cat": 1}'


def test_train_to_native_refuses_a_tokenizer_folder(tmp_path):
    corpus = F.corpus_file(tmp_path / "c.txt")
    folder = _tokenizer_folder(tmp_path / "tok")
    r = _cli("-q", "train", corpus, "--dim", "4", "--epochs", "1", "--workers", "1",
             "--min-count", "1", "--out", folder, "--format", "native")
    assert r.exit_code == 1 and "Traceback" not in r.output, r.output
    assert sorted(p.name for p in folder.iterdir()) == ["merges.txt", "vocab.json"]


@pytest.mark.parametrize("ext", ["gz", "xz", "bz2"])
def test_cli_on_a_truncated_compressed_file_is_one_line_not_aborted(tmp_path, ext):
    import bz2
    import gzip
    import lzma

    plain = F.write_text(tmp_path / "v.txt", F.vectors(300, 8))
    packed = {"gz": gzip, "xz": lzma, "bz2": bz2}[ext].compress(plain.read_bytes())
    path = tmp_path / f"v.txt.{ext}"
    path.write_bytes(packed[: len(packed) // 2])
    r = _cli("info", path)
    assert r.exit_code == 1
    assert "Aborted" not in r.output and "Traceback" not in r.output
    assert len(r.output.strip().splitlines()) == 1 and f"v.txt.{ext}" in r.output


def _deep(n=100_000):
    return "[" * n + "]" * n


@pytest.mark.parametrize("kind", ["lm", "sentiment", "checkpoint", "index", "sharded"])
def test_deeply_nested_json_is_a_format_error_naming_the_file(tmp_path, kind):
    from embedkit.corpus.sharded import ShardedCorpus
    from embedkit.downstream import load_model
    from embedkit.lm import LanguageModel
    from embedkit.search import Index
    from embedkit.training import checkpoint as C

    if kind == "lm":
        F.lm_model(tmp_path / "m")
        target, load = tmp_path / "m" / "model.json", lambda: LanguageModel.load(tmp_path / "m")
    elif kind == "sentiment":
        F.sentiment_model(tmp_path / "m")
        target, load = tmp_path / "m" / "model.json", lambda: load_model(tmp_path / "m")
    elif kind == "checkpoint":
        C.save_checkpoint(tmp_path / "ck", {"w": np.zeros(3)}, {"position": 1})
        arrays = dict(np.load(tmp_path / "ck.npz"))
        arrays[C.STATE_KEY] = np.frombuffer(_deep().encode(), np.uint8)
        np.savez(tmp_path / "ck.npz", **arrays)
        target, load = tmp_path / "ck.npz", lambda: C.load_checkpoint(tmp_path / "ck")
    elif kind == "index":
        v = F.vectors(50, 4)
        Index(v, "exact").save(tmp_path / "v.ekv")
        target = tmp_path / "v.ekv.faiss.json"
        load = lambda: Index.open(v, tmp_path / "v.ekv", save=False)  # noqa: E731
    else:
        path = F.sharded_corpus(tmp_path / "work").path
        target, load = path / "manifest.json", lambda: ShardedCorpus.open(path)
    if kind != "checkpoint":
        target.write_text(_deep())
    try:
        load()
    except EmbedkitError as exc:  # never RecursionError
        assert target.name in str(exc)
    else:
        assert kind == "index", "only an index may recover (by rebuilding itself)"


def test_lm_config_with_more_layers_than_weights_is_refused_at_once(tmp_path):
    """A model.json claiming 10**12 layers is refused, not looped over (a fuzz hang)."""
    from embedkit.lm import LanguageModel

    F.lm_model(tmp_path / "m")
    meta = json.loads((tmp_path / "m" / "model.json").read_text())
    meta["config"]["layers"] = 10**12
    (tmp_path / "m" / "model.json").write_text(json.dumps(meta))
    with pytest.raises(FormatError, match="10+ layers but weights.npz holds"):
        LanguageModel.load(tmp_path / "m")
