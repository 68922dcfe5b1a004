"""Co-occurrence counting equals a brute-force count, in memory and through spill-and-merge."""

import collections
import os

import numpy as np
import pytest

from embedkit.errors import ParameterError
from embedkit.training.cooccur import (Cooccurrence, count_cooccurrences, dense_layout,
                                       parse_memory)
from embedkit.training.cooccur_merge import RUN_DTYPE, _RunWriter


def brute_force(sentences, window):
    """X[i, j] for i <= j from every ordered pair of positions within the window."""
    x = collections.defaultdict(float)
    for s in sentences:
        for p in range(len(s)):
            for q in range(len(s)):
                d = abs(p - q)
                if 0 < d <= window:
                    i, j = s[p], s[q]
                    if i <= j:
                        x[i, j] += 1.0 / d
    return x


def random_corpus(rng, n_sent=300, vocab=50, max_len=30):
    # Zipf-like ids so that there are frequent (dense) and rare (sparse) pairs
    p = 1.0 / np.arange(1, vocab + 1)
    p /= p.sum()
    sents = [list(rng.choice(vocab, size=rng.integers(0, max_len), p=p)) for _ in range(n_sent)]
    ids = np.array([w for s in sents for w in s], dtype=np.int32)
    offsets = np.concatenate([[0], np.cumsum([len(s) for s in sents])]).astype(np.int64)
    return sents, ids, offsets


def as_dict(co: Cooccurrence):
    return {(int(i), int(j)): float(v) for i, j, v in zip(co.rows, co.cols, co.values)}


def check(co, sents, window):
    expected = brute_force(sents, window)
    got = as_dict(co)
    assert set(got) == set(expected)
    for k, v in expected.items():
        assert got[k] == pytest.approx(v, rel=1e-5), k
    assert np.all(np.diff(co.keys.astype(np.float64)) > 0)


@pytest.mark.parametrize("window", [1, 3, 10])
@pytest.mark.parametrize("dense_fraction", [0.0, 0.5, 0.9])
def test_in_memory_matches_brute_force(rng, window, dense_fraction):
    sents, ids, offsets = random_corpus(rng)
    co = count_cooccurrences(ids, offsets, 50, window=window, memory="8M", workers=2,
                             dense_fraction=dense_fraction, progress=False)
    check(co, sents, window)
    assert co.info["spilled_runs"] == 0


@pytest.mark.parametrize("workers", [1, 2])
def test_spill_and_merge_matches_brute_force(rng, tmp_path, workers):
    sents, ids, offsets = random_corpus(rng, n_sent=600, vocab=400, max_len=40)
    # a tiny budget forces many runs; max_open_files=3 forces several merge passes
    co = count_cooccurrences(ids, offsets, 400, window=5, memory=workers * 30 * 1024,
                             workers=workers, tmp_dir=tmp_path, max_open_files=3,
                             dense_fraction=0.1, progress=False)
    assert co.info["spilled_runs"] > 6
    assert co.info["merge_passes"] >= 2
    check(co, sents, 5)
    assert os.listdir(tmp_path) == []  # spill directory removed


def test_partial_dense_table_splits_pairs(rng):
    sents, ids, offsets = random_corpus(rng, vocab=200)
    co = count_cooccurrences(ids, offsets, 200, window=4, memory="48K", workers=1,
                             dense_fraction=0.5, progress=False)
    assert 0 < co.info["dense_product"] < 200 * 200
    check(co, sents, 4)


def test_same_word_adjacent_counts_twice():
    ids = np.array([0, 0, 1], dtype=np.int32)
    co = count_cooccurrences(ids, [0, 3], 2, window=2, memory="1M", progress=False)
    got = as_dict(co)
    assert got == {(0, 0): 2.0, (0, 1): 1.5}


def test_sentences_do_not_share_windows():
    ids = np.array([0, 1, 2, 3], dtype=np.int32)
    co = count_cooccurrences(ids, [0, 2, 4], 4, window=5, memory="1M", progress=False)
    assert as_dict(co) == {(0, 1): 1.0, (2, 3): 1.0}


def test_to_scipy_is_symmetric(rng):
    sents, ids, offsets = random_corpus(rng, n_sent=50, vocab=20)
    m = count_cooccurrences(ids, offsets, 20, window=3, memory="1M", progress=False).to_scipy()
    dense = m.toarray()
    np.testing.assert_allclose(dense, dense.T)
    expected = brute_force(sents, 3)
    assert dense[3, 1] == pytest.approx(expected.get((1, 3), 0.0), rel=1e-5)


def test_run_file_is_a_plain_npy(tmp_path):
    w = _RunWriter(str(tmp_path / "r.npy"))
    w.write(np.array([1, 5], np.uint64), np.array([1260, 5040], np.int64))
    w.write(np.array([9], np.uint64), np.array([2520], np.int64))
    arr = np.load(w.close(), allow_pickle=False)
    assert arr.dtype == RUN_DTYPE
    assert arr["key"].tolist() == [1, 5, 9] and arr["val"].tolist() == [1260, 5040, 2520]


def test_dense_layout_respects_the_cell_budget():
    start, length, product = dense_layout(1000, 5000)
    assert length.sum() <= 5000
    assert length[0] == min(1000, product)  # row 0 holds j < P
    assert start[1] == length[0]
    s2, l2, p2 = dense_layout(10, 10 ** 6)
    assert l2.sum() == 55 and p2 == 100


@pytest.mark.parametrize("text,expected", [("4G", 4 << 30), ("512M", 512 << 20), ("64k", 65536),
                                           ("1.5G", 3 << 29), ("2GB", 2 << 30), ("1GiB", 1 << 30),
                                           ("1000", 1000), (12345, 12345)])
def test_parse_memory(text, expected):
    assert parse_memory(text) == expected


@pytest.mark.parametrize("text", ["lots", "4X", "", "G", "-1G", "0"])
def test_parse_memory_rejects_nonsense(text):
    with pytest.raises(ParameterError, match="memory budget"):
        parse_memory(text)


def test_budget_too_small_for_one_run():
    ids = np.zeros(10, np.int32)
    with pytest.raises(ParameterError, match="too small to hold even one sorted run"):
        count_cooccurrences(ids, [0, 10], 1, window=2, memory="1K", dense_fraction=0.0,
                            progress=False)


def test_window_must_be_positive():
    with pytest.raises(ParameterError, match="window must be an integer >= 1, got 0"):
        count_cooccurrences(np.zeros(3, np.int32), [0, 3], 1, window=0, progress=False)


def test_ids_out_of_range():
    with pytest.raises(ParameterError, match="ids must lie in"):
        count_cooccurrences(np.array([0, 5], np.int32), [0, 2], 3, window=2, progress=False)


def test_frequent_pair_sums_keep_full_precision():
    # 300 sentences of 1000 copies of one word: X[0, 0] sums 6 million terms
    n_sent, length, window = 300, 1000, 10
    ids = np.zeros(n_sent * length, np.int32)
    offsets = np.arange(0, n_sent * length + 1, length, dtype=np.int64)
    co = count_cooccurrences(ids, offsets, 1, window=window, memory="8M", workers=2,
                             progress=False)
    exact = n_sent * sum(2.0 * (length - d) / d for d in range(1, window + 1))
    assert co.values[0] == pytest.approx(exact, rel=1e-6)


@pytest.mark.parametrize("n_runs", [1, 3, 8, 9, 20])
def test_merge_runs_kernel_sums_equal_keys(rng, n_runs):
    from embedkit._kernels.cooccur import merge_runs

    runs = [np.unique(rng.integers(0, 300, rng.integers(0, 120))).astype(np.uint64)
            for _ in range(n_runs)]
    vals = [rng.random(len(r)).astype(np.float32) for r in runs]
    keys = np.concatenate(runs)
    v = np.concatenate(vals)
    lens = np.array([len(r) for r in runs], np.int64)
    ends = np.cumsum(lens)
    out_k = np.empty(len(keys), np.uint64)
    out_v = np.empty(len(keys), np.float32)
    m = merge_runs(keys, v, ends - lens, ends, out_k, out_v)
    expected_k, inverse = np.unique(keys, return_inverse=True)
    expected_v = np.bincount(inverse, weights=v)
    assert out_k[:m].tolist() == expected_k.tolist()
    np.testing.assert_allclose(out_v[:m], expected_v, rtol=1e-6)


def vectorized_count(ids, offsets, vocab, window):
    """The same X as brute_force, with NumPy (fast enough for ~10^5 tokens)."""
    sent = np.repeat(np.arange(len(offsets) - 1), np.diff(offsets))
    x = collections.defaultdict(float)
    for d in range(1, window + 1):
        same = sent[d:] == sent[:-d]
        a, b = ids[:-d][same].astype(np.int64), ids[d:][same].astype(np.int64)
        i, j = np.minimum(a, b), np.maximum(a, b)
        w = np.where(i == j, 2.0 / d, 1.0 / d)
        keys, inv = np.unique(i * vocab + j, return_inverse=True)
        for k, v in zip(keys.tolist(), np.bincount(inv, weights=w).tolist()):
            x[divmod(k, vocab)] += v
    return x


@pytest.mark.parametrize("workers", [1, 2])
def test_big_spilled_buffers_use_the_bucketed_sort(rng, workers):
    # buffers above 65,536 codes are sorted by a top-bits bucket pass + in-cache bucket sorts
    p = 1.0 / np.arange(1, 3001)
    ids = rng.choice(3000, size=120_000, p=p / p.sum()).astype(np.int32)
    offsets = np.arange(0, 120_001, 400, dtype=np.int64)
    co = count_cooccurrences(ids, offsets, 3000, window=6, memory=workers * 2_000_000,
                             workers=workers, dense_fraction=0.0, progress=False)
    assert co.info["spilled_runs"] >= 3
    expected = vectorized_count(ids, offsets, 3000, 6)
    assert len(co) == len(expected)
    got = dict(zip(zip(co.rows.tolist(), co.cols.tolist()), co.values.tolist()))
    for k, v in expected.items():
        assert got[k] == pytest.approx(v, rel=1e-5), k


@pytest.mark.parametrize("window", [1, 2, 7])
def test_in_memory_buckets_merge_dense_and_sparse_pairs(rng, window):
    # a bigger Zipf corpus in memory: many buckets, ranges split over threads, dense cells
    # interleaved with reduced codes inside buckets
    p = 1.0 / np.arange(1, 801)
    ids = rng.choice(800, size=60_000, p=p / p.sum()).astype(np.int32)
    offsets = np.concatenate([[0], np.sort(rng.choice(np.arange(1, 60_000), 300, replace=False)),
                              [60_000]]).astype(np.int64)
    co = count_cooccurrences(ids, offsets, 800, window=window, memory="64M", workers=2,
                             dense_fraction=0.01, progress=False)
    assert co.info["spilled_runs"] == 0 and 0 < co.info["dense_product"] < 800 * 800
    expected = vectorized_count(ids, offsets, 800, window)
    assert len(co) == len(expected)
    got = dict(zip(zip(co.rows.tolist(), co.cols.tolist()), co.values.tolist()))
    for k, v in expected.items():
        assert got[k] == pytest.approx(v, rel=1e-5), k
    assert np.all(co.keys[1:] > co.keys[:-1])


@pytest.mark.parametrize("n", [0, 1, 1000, 70_000, 300_000])
def test_sort_codes_sorts(rng, n):
    from embedkit._kernels.cooccur import sort_codes

    bits, dbits = 37, 4
    a = rng.integers(0, 2 ** bits, n, dtype=np.uint64)
    if n:
        a[: n // 3] = a[0]  # a heavy bucket and duplicates
    expected = np.sort(a)
    sort_codes(a, np.empty(n, np.uint64), n, bits, dbits)
    assert np.array_equal(a, expected)


def test_vocabulary_too_large_for_64_bit_codes():
    with pytest.raises(ParameterError, match="too large to key pairs in 64"):
        count_cooccurrences(np.zeros(3, np.int32), [0, 3], 2 ** 31, window=10, progress=False)


def test_huge_vocabulary_keeps_64_bit_bucket_codes(rng):
    # V = 2**22: within a bucket the codes keep more than 32 bits, so they stay uint64
    from embedkit._kernels.cooccur import bucket_split, code_bits, code_shift

    V = 1 << 22
    assert bucket_split(code_bits(V, 3), code_shift(3))[0] > 32
    words = np.array([0, 1, 7, 5000, 123_456, V - 2, V - 1])
    sents = [list(rng.choice(words, size=rng.integers(2, 15))) for _ in range(80)]
    ids = np.array([w for s in sents for w in s], dtype=np.int32)
    offsets = np.concatenate([[0], np.cumsum([len(s) for s in sents])]).astype(np.int64)
    co = count_cooccurrences(ids, offsets, V, window=3, memory="64M", workers=2,
                             progress=False)
    check(co, sents, 3)
