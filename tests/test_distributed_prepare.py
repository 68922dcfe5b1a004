"""Sharded preparation (embedkit.corpus.prepare(..., out=, client=)) equals the single-machine
path; encoded directories train; bad input gives one clear error and no complete-looking
output."""

import gzip
import json

import numpy as np
import pytest
from click.testing import CliRunner

from embedkit.cli.main import cli
from embedkit.corpus import prepare
from embedkit.corpus.sharded import MANIFEST, ShardedCorpus
from embedkit.errors import CorpusError, FormatError, MissingFileError, ParameterError
from shards import write_shards


@pytest.fixture(scope="module")
def shard_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("shards")
    write_shards(d)
    return d


def _same(single, sharded):
    assert sharded.vocab.words == single.vocab.words
    np.testing.assert_array_equal(sharded.vocab.counts, single.vocab.counts)
    np.testing.assert_array_equal(sharded.ids, single.ids)
    np.testing.assert_array_equal(sharded.offsets, single.offsets)


def test_dask_prepare_equals_single_machine(shard_dir, tmp_path, dask_client):
    single = prepare(shard_dir, min_count=2, cache=False)
    sharded = prepare(shard_dir, min_count=2, out=tmp_path / "enc", client=dask_client)
    assert len(sharded.shards) == 5
    _same(single, sharded)


def test_serial_sharded_prepare_equals_single_machine(shard_dir, tmp_path):
    single = prepare(shard_dir, min_count=3, max_final_vocab=40, tokenizer="whitespace",
                     lowercase=False, cache=False)
    sharded = prepare(shard_dir, min_count=3, max_final_vocab=40, tokenizer="whitespace",
                      lowercase=False, out=tmp_path / "enc")
    _same(single, sharded)


def test_glob_list_and_file_url_sources_give_the_same_shards(shard_dir, tmp_path):
    pytest.importorskip("fsspec")
    files = sorted(str(p) for p in shard_dir.iterdir())
    a = prepare(files, min_count=1, out=tmp_path / "a")
    b = prepare(str(shard_dir / "part-*"), min_count=1, out=tmp_path / "b")
    c = prepare([f"file://{f}" for f in files], min_count=1, out=tmp_path / "c")
    for other in (b, c):
        _same(a, other)
    assert [s["source"] for s in c.info["shards"]] == [f"file://{f}" for f in files]


def test_train_reads_an_encoded_directory_shard_by_shard(shard_dir, tmp_path):
    from embedkit.training import Word2Vec

    enc = prepare(shard_dir, min_count=2, out=tmp_path / "enc")
    joined = prepare(shard_dir, min_count=2, cache=False)
    kw = dict(dim=8, epochs=1, workers=1, seed=3, min_count=2)
    res = Word2Vec(**kw).fit(tmp_path / "enc", progress=False)
    assert res.vectors.words == joined.vocab.words
    assert res.vectors.metadata["corpus"]["ids_crc32"] == \
        Word2Vec(**kw).fit(joined, progress=False).vectors.metadata["corpus"]["ids_crc32"]
    assert enc._joined is None  # the shards were never joined in memory


def test_one_shard_trains_bit_identically_to_the_encoded_corpus(shard_dir, tmp_path):
    from embedkit.training import Word2Vec

    one = shard_dir / "part-000.txt"
    kw = dict(dim=8, epochs=1, workers=1, seed=3, min_count=1)
    a = Word2Vec(**kw).fit(prepare(one, min_count=1, cache=False), progress=False)
    b = Word2Vec(**kw).fit(prepare(one, min_count=1, out=tmp_path / "e"), progress=False)
    np.testing.assert_array_equal(a.vectors.vectors, b.vectors.vectors)


def test_missing_shard_is_named(shard_dir, tmp_path):
    with pytest.raises(MissingFileError, match="nope.txt"):
        prepare([shard_dir / "part-000.txt", shard_dir / "nope.txt"], out=tmp_path / "o")


def test_corrupt_shard_on_a_worker_is_named_and_leaves_no_manifest(shard_dir, tmp_path,
                                                                   dask_client):
    bad = tmp_path / "src"
    bad.mkdir()
    for p in shard_dir.iterdir():
        (bad / p.name).write_bytes(p.read_bytes())
    data = (bad / "part-001.txt.gz").read_bytes()
    (bad / "part-001.txt.gz").write_bytes(data[: len(data) // 2])
    out = tmp_path / "enc"
    with pytest.raises(CorpusError, match=r"part-001\.txt\.gz.*(corrupt|truncated)"):
        prepare(bad, out=out, client=dask_client)
    assert not (out / MANIFEST).exists()


def test_failed_run_into_an_existing_directory_keeps_no_complete_output(shard_dir, tmp_path):
    out = tmp_path / "enc"
    prepare(shard_dir, min_count=1, out=out)
    bad = tmp_path / "bad.txt.gz"
    bad.write_bytes(gzip.compress(b"a b c\n" * 1000)[:50])
    with pytest.raises(CorpusError, match="bad.txt.gz"):
        prepare([bad], out=out)
    assert not (out / MANIFEST).exists()
    with pytest.raises(FormatError, match="unfinished"):
        ShardedCorpus.open(out)


def test_unwritable_output_is_named(shard_dir, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(CorpusError, match="file"):
        prepare(shard_dir, out=blocker / "enc")


def test_output_directory_that_is_not_ours_is_refused(shard_dir, tmp_path):
    (tmp_path / "keep.txt").write_text("precious")
    with pytest.raises(CorpusError, match="not empty"):
        prepare(shard_dir, out=tmp_path)
    assert (tmp_path / "keep.txt").read_text() == "precious"


def test_shards_with_different_tokenizer_settings_are_refused(shard_dir, tmp_path):
    out = tmp_path / "enc"
    prepare(shard_dir, min_count=1, out=out)
    meta_path = out / "shards" / "00002.json"
    meta = json.loads(meta_path.read_text())
    meta["lowercase"] = False
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(FormatError, match=r"part-002\.txt.*lowercase"):
        ShardedCorpus.open(out)


def test_ids_out_of_range_are_refused(shard_dir, tmp_path):
    out = tmp_path / "enc"
    enc = prepare(shard_dir, min_count=1, out=out)
    ids = np.load(out / "shards" / "00000.ids.npy")
    ids[0] = len(enc.vocab)
    np.save(out / "shards" / "00000.ids.npy", ids)
    with pytest.raises(FormatError, match="00000.ids.npy"):
        ShardedCorpus.open(out)


def test_client_without_out_is_refused(shard_dir, dask_client):
    with pytest.raises(ParameterError, match="out="):
        prepare(shard_dir, client=dask_client)


def test_unreachable_scheduler_is_named():
    pytest.importorskip("distributed")
    from embedkit.distributed import SchedulerError, connect

    with pytest.raises(SchedulerError, match="127.0.0.1:9"):
        with connect("tcp://127.0.0.1:9", timeout=2):
            pass


def test_cli_corpus_prepare_then_train(shard_dir, tmp_path):
    out = tmp_path / "enc"
    r = CliRunner().invoke(cli, ["corpus", "prepare", str(shard_dir), "--min-count", "2",
                                 "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert "5 shards" in r.output
    r = CliRunner().invoke(cli, ["train", str(out), "--out", str(tmp_path / "v.txt"),
                                 "--dim", "8", "--epochs", "1", "--min-count", "2"])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "v.txt").read_text().split()[0] == \
        str(len(json.loads((out / "vocab.json").read_text())["words"]))


def test_cli_unreachable_scheduler_is_one_line(shard_dir, tmp_path):
    pytest.importorskip("distributed")
    r = CliRunner().invoke(cli, ["corpus", "prepare", str(shard_dir), "--out",
                                 str(tmp_path / "o"), "--scheduler", "tcp://127.0.0.1:9"])
    assert r.exit_code == 1
    assert "127.0.0.1:9" in r.output and "Traceback" not in r.output


@pytest.mark.parametrize("block_bytes", [None, 8])
def test_unterminated_last_line_ends_with_its_shard(tmp_path, monkeypatch, block_bytes):
    """Regression: the single-machine reader joined a file's unterminated last line with the
    next file's first line; a shard's last line ends at the end of the shard everywhere."""
    from embedkit.corpus import readers
    from embedkit.corpus.encode import iter_sentences

    if block_bytes:  # lines longer than a block: cut at spaces, the last piece continuing
        monkeypatch.setattr(readers, "BLOCK_BYTES", block_bytes)
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.txt").write_bytes(b"one two three\nfour five six seven ")
    (src / "b.txt").write_bytes(b"eight nine\r\nten eleven twelve")
    (src / "c.txt.gz").write_bytes(gzip.compress(b"thirteen fourteen"))
    expected = [["one", "two", "three"], ["four", "five", "six", "seven"], ["eight", "nine"],
                ["ten", "eleven", "twelve"], ["thirteen", "fourteen"]]
    assert list(iter_sentences(src)) == expected
    single = prepare(src, min_count=1, cache=False)
    assert [single.words(i) for i in range(len(single))] == expected
    sharded = prepare(src, min_count=1, out=tmp_path / "enc")
    _same(single, sharded)


def test_output_to_an_object_store_url_equals_a_local_directory(shard_dir, tmp_path):
    """memory:// stands for s3:// / gs://: files are uploaded whole, read back to encode."""
    fsspec = pytest.importorskip("fsspec")
    local = prepare(shard_dir, min_count=2, out=tmp_path / "enc")
    url = "memory://embedkit-test/enc"
    assert prepare(shard_dir, min_count=2, out=url) is None
    fs = fsspec.filesystem("memory")
    try:
        names = sorted(p.split("/enc/", 1)[1] for p in fs.find("/embedkit-test/enc"))
        assert not [n for n in names if n.startswith(".work") or n.endswith(".part")]
        for name in ("vocab.json", "shards/00000.ids.npy", "shards/00003.offsets.npy"):
            assert fs.cat_file(f"/embedkit-test/enc/{name}") == \
                (tmp_path / "enc" / name).read_bytes()
        assert json.loads(fs.cat_file("/embedkit-test/enc/manifest.json"))["vocab_size"] == \
            len(local.vocab)
    finally:
        fs.rm("/embedkit-test", recursive=True)


def test_max_vocab_size_prunes_the_merged_counts_whatever_the_split(shard_dir, tmp_path,
                                                                   caplog):
    """max_vocab_size applies once, to the merged counts: the vocabulary does not depend on
    how the corpus is cut into shards, equals the single-machine one while the bound is not
    reached, and a warning says when it pruned (the single-machine reader prunes while
    reading, so there the two may differ: documented)."""
    import logging

    files = sorted(shard_dir.iterdir())
    joined = tmp_path / "all.txt"
    joined.write_bytes(b"".join(gzip.decompress(f.read_bytes()) if f.suffix == ".gz"
                                else f.read_bytes() for f in files))
    with caplog.at_level(logging.WARNING, logger="embedkit.distributed.prepare"):
        five = prepare(files, min_count=1, max_vocab_size=60, out=tmp_path / "five")
    assert "max_vocab_size=60" in caplog.text
    one = prepare([joined], min_count=1, max_vocab_size=60, out=tmp_path / "one")
    assert five.vocab.words == one.vocab.words and len(five.vocab) <= 60
    np.testing.assert_array_equal(five.vocab.counts, one.vocab.counts)
    assert five.info["pruned_min_reduce"] >= 1
    # never reached: the single-machine result
    single = prepare(shard_dir, min_count=1, max_vocab_size=10_000, cache=False)
    _same(single, prepare(files, min_count=1, max_vocab_size=10_000, out=tmp_path / "big"))
