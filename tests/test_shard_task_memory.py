"""Shard tasks stream their shard: memory does not grow with the shard's size.

Kept apart from the Dask tests: tracemalloc traces every thread of the process, and the
module-scoped Dask client's background threads would count towards the peaks.
"""

import numpy as np

from embedkit.corpus import prepare


def _shard_task_peaks(src, out, single):
    """Peak traced memory of count_shard and of encode_shard on the one shard ``src``."""
    import gc
    import tracemalloc

    from embedkit.corpus import sharded
    from embedkit.corpus.encode import MAX_SENTENCE_LENGTH

    (out / "shards").mkdir(parents=True)
    (out / sharded.WORK).mkdir()
    gc.collect()  # garbage of earlier tests must not count towards this shard's peak
    tracemalloc.start()
    try:
        table = sharded.count_shard(0, str(src), str(out), "default", True)
        count_peak = tracemalloc.get_traced_memory()[1]
        gc.collect()
        tracemalloc.reset_peak()
        blob = "\n".join(single.vocab.words).encode("utf-8")
        digest = sharded.vocab_digest(single.vocab.words)
        options = {"tokenizer": "default", "lowercase": True}
        sharded.encode_shard(0, str(src), table, blob, digest, str(out), options,
                             MAX_SENTENCE_LENGTH)
        encode_peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return table, count_peak, encode_peak


def test_shard_tasks_stream_their_shard_in_bounded_memory(tmp_path, monkeypatch):
    """Regression: count_shard held a shard's provisional ids (4 bytes per token) and
    encode_shard its ids and line lengths in memory; both now stream them in slices, so a
    task's memory does not grow with the shard."""
    from embedkit.corpus import readers, sharded

    rng = np.random.default_rng(1)
    words = np.array([f"w{i}" for i in range(2000)])
    lines = [" ".join(rng.choice(words, size=int(rng.integers(0, 60)))) for _ in range(6000)]
    lines.append(" ".join(rng.choice(words, size=3000)))  # one line longer than a slice
    big, small = tmp_path / "big.txt", tmp_path / "small.txt"
    big.write_text("\n".join(lines) + "\n")
    small.write_text("\n".join(lines[:300]) + "\n")
    one_big = prepare(big, min_count=2, cache=False)
    one_small = prepare(small, min_count=2, cache=False)
    monkeypatch.setattr(readers, "BLOCK_BYTES", 1 << 15)
    monkeypatch.setattr(sharded, "_ENCODE_CHUNK", 1024)
    monkeypatch.setattr(sharded, "_ENCODE_LINES", 256)
    _shard_task_peaks(small, tmp_path / "warm", one_small)  # compile, first allocations
    table, count_big, encode_big = _shard_task_peaks(big, tmp_path / "big", one_big)
    _, count_small, encode_small = _shard_task_peaks(small, tmp_path / "small", one_small)
    raw_bytes = 4 * table.raw_tokens
    assert raw_bytes > 600_000
    assert count_big - count_small < raw_bytes / 4, (count_big, count_small, raw_bytes)
    assert encode_big - encode_small < raw_bytes / 4, (encode_big, encode_small, raw_bytes)
    ids, off = sharded.load_shard(tmp_path / "big", 0, len(one_big.vocab))
    np.testing.assert_array_equal(ids, one_big.ids)
    np.testing.assert_array_equal(off, one_big.offsets)
