"""The corpus pipeline: readers, tokenizer, vocabulary, encoding, cache, bad input."""

import bz2
import gzip
import io
import lzma
import math
import os
import sys

import numpy as np
import pytest

from embedkit.corpus import MAX_SENTENCE_LENGTH, Vocab, get_tokenizer, iter_sentences, prepare
from embedkit.corpus import readers
from embedkit.errors import CorpusError, MissingFileError, ParameterError

TEXT = "The cat sat on the mat.\nThe dog sat on the log!\n\nA cat and a dog.\n"


def _decode(enc):
    return [enc.words(i) for i in range(enc.n_sentences)]


def _expected(text, min_count=1):
    tok = get_tokenizer()
    lines = [tok(line) for line in text.split("\n")]
    counts = {}
    for line in lines:
        for t in line:
            counts[t] = counts.get(t, 0) + 1
    keep = {w for w, c in counts.items() if c >= min_count}
    return [[t for t in line if t in keep] for line in lines if any(t in keep for t in line)]


@pytest.fixture
def cache_dir(tmp_path):
    return tmp_path / "cache"


# -- readers ---------------------------------------------------------------------------------
@pytest.mark.parametrize("opener,suffix", [(open, ".txt"), (gzip.open, ".gz"),
                                           (bz2.open, ".bz2"), (lzma.open, ".xz")])
def test_reads_plain_and_compressed_files(tmp_path, cache_dir, opener, suffix):
    path = tmp_path / f"corpus{suffix}"
    with opener(path, "wb") as f:
        f.write(TEXT.encode())
    enc = prepare(path, min_count=1, cache_dir=cache_dir)
    assert _decode(enc) == _expected(TEXT)


def test_compression_is_detected_by_content_not_name(tmp_path, cache_dir):
    path = tmp_path / "corpus.txt"  # gzip data behind a .txt name
    with gzip.open(path, "wb") as f:
        f.write(TEXT.encode())
    assert _decode(prepare(path, min_count=1, cache_dir=cache_dir)) == _expected(TEXT)


def test_reads_a_directory_in_sorted_order_skipping_non_text(tmp_path, cache_dir):
    d = tmp_path / "dir"
    (d / "sub").mkdir(parents=True)
    (d / "b.txt").write_text("second file\n")
    (d / "a.txt").write_text("first file\n")
    with gzip.open(d / "sub" / "c.gz", "wb") as f:
        f.write(b"third file\n")
    (d / "image.png").write_bytes(b"\x89PNG")
    (d / ".hidden.txt").write_text("hidden words\n")
    enc = prepare(d, min_count=1, cache_dir=cache_dir)
    assert _decode(enc) == [["first", "file"], ["second", "file"], ["third", "file"]]


def test_reads_stdin(monkeypatch, cache_dir):
    fake = io.TextIOWrapper(io.BytesIO(TEXT.encode()))
    monkeypatch.setattr(sys, "stdin", fake)
    enc = prepare("-", min_count=1, cache_dir=cache_dir)
    assert _decode(enc) == _expected(TEXT)
    assert not cache_dir.exists()  # stdin is never cached


def test_reads_token_lists_as_given(cache_dir):
    enc = prepare([["B", "a"], ["a"], [], ["c", "a"]], min_count=1, cache_dir=cache_dir)
    assert enc.vocab.words == ["a", "B", "c"]
    assert _decode(enc) == [["B", "a"], ["a"], ["c", "a"]]


def test_crlf_line_ends(tmp_path, cache_dir):
    path = tmp_path / "crlf.txt"
    path.write_bytes(TEXT.replace("\n", "\r\n").encode())
    assert _decode(prepare(path, min_count=1, cache_dir=cache_dir)) == _expected(TEXT)


def test_one_huge_line_streams_in_blocks_without_splitting_tokens(tmp_path, monkeypatch,
                                                                  cache_dir):
    words = [f"w{i % 37}" for i in range(5000)]
    path = tmp_path / "text8like.txt"
    path.write_text(" ".join(words))  # no newline at all, as text8
    monkeypatch.setattr(readers, "BLOCK_BYTES", 1000)
    enc = prepare(path, min_count=1, cache_dir=cache_dir)
    flat = [w for s in _decode(enc) for w in s]
    assert flat == words
    lengths = np.diff(enc.offsets)
    assert lengths.tolist() == [1000] * 5  # one line of 5000 tokens cut into 1000s


def test_long_lines_are_chunked_never_dropped(cache_dir):
    line = [str(i % 10) for i in range(2 * MAX_SENTENCE_LENGTH + 7)]
    enc = prepare([line, ["1", "2"]], min_count=1, cache_dir=cache_dir)
    assert np.diff(enc.offsets).tolist() == [1000, 1000, 7, 2]
    assert enc.n_tokens == len(line) + 2


# -- tokenizer ------------------------------------------------------------------------------
def test_default_tokenizer_is_unicode_aware_and_splits_punctuation():
    tok = get_tokenizer("default")
    assert tok("The King\u2019s men, well-known: Ünïcödé Привет 東京 snake_case 1789!") == [
        "the", "king's", "men", "well", "known", "ünïcödé", "привет", "東京", "snake",
        "case", "1789"]


def test_keep_case():
    assert get_tokenizer("default", lowercase=False)("The Cat") == ["The", "Cat"]


def test_whitespace_tokenizer_matches_str_split():
    text = "Don't  split,this\tone\u00a0please"
    assert get_tokenizer("whitespace", lowercase=False)(text) == text.split()


def test_iter_sentences_is_the_encoded_token_stream(tmp_path):
    path = tmp_path / "c.txt"
    path.write_text(TEXT)
    assert [s for s in iter_sentences(path) if s] == _expected(TEXT)


# -- vocabulary -------------------------------------------------------------------------------
def test_vocab_order_is_count_then_word(cache_dir):
    enc = prepare([["b", "a", "c", "c", "b", "d"]], min_count=1, cache_dir=cache_dir)
    assert enc.vocab.words == ["b", "c", "a", "d"]
    assert enc.vocab.counts.tolist() == [2, 2, 1, 1]


def test_min_count_and_max_final_vocab(cache_dir):
    sents = [["a"] * 5 + ["b"] * 4 + ["c"] * 3 + ["d"]]
    assert prepare(sents, min_count=2, cache_dir=cache_dir).vocab.words == ["a", "b", "c"]
    enc = prepare(sents, min_count=1, max_final_vocab=2, cache_dir=cache_dir)
    assert enc.vocab.words == ["a", "b"]
    assert enc.n_tokens == 9


def test_pruning_bounds_the_table_like_word2vec_c(cache_dir, caplog):
    # 50 frequent words spread through 20,000 sentences, each sentence with two singletons
    frequent = [f"f{i}" for i in range(50)]
    sents = [[f"rare{i}", frequent[i % 50], frequent[(i + 1) % 50], f"rare{i}b"]
             for i in range(20000)]
    with caplog.at_level("INFO", logger="embedkit"):
        enc = prepare(sents, min_count=1, max_vocab_size=1000, cache_dir=cache_dir)
    assert "pruned" in caplog.text
    assert set(frequent) <= set(enc.vocab.words)
    assert len(enc.vocab) < 40050 // 4  # most of the 40,000 singletons were pruned
    # the frequent words were never pruned, so their counts are exact
    assert all(enc.vocab.counts[enc.vocab.index[w]] == 800 for w in frequent)
    unpruned = prepare(sents, min_count=1, cache_dir=cache_dir)
    assert len(unpruned.vocab) == 40050


def test_keep_probabilities_follow_word2vec_c():
    vocab = Vocab(["the", "cat", "rare"], [10000, 100, 1])
    sample = 1e-3
    total = 10101
    p = vocab.keep_probabilities(sample)
    for count, got in zip([10000, 100, 1], p):
        want = (math.sqrt(count / (sample * total)) + 1) * (sample * total) / count
        assert got == pytest.approx(min(1.0, want), rel=1e-6)
    assert p[0] < 1 and p[2] == 1
    assert (vocab.keep_probabilities(0) == 1).all()


def test_noise_distribution_is_unigram_to_the_three_quarters():
    vocab = Vocab(["a", "b"], [16, 1])
    cdf = vocab.noise_cdf()
    assert cdf[0] == pytest.approx(8 / 9)
    assert cdf[-1] == 1.0


def test_vocab_json_round_trip(tmp_path):
    vocab = Vocab(["ä", "b"], [3, 1])
    vocab.save(tmp_path / "v.json")
    back = Vocab.load(tmp_path / "v.json")
    assert back.words == vocab.words and back.counts.tolist() == [3, 1]


# -- cache --------------------------------------------------------------------------------------
def test_cache_is_reused_and_invalidated(tmp_path, cache_dir):
    path = tmp_path / "c.txt"
    path.write_text(TEXT)
    first = prepare(path, min_count=1, cache_dir=cache_dir)
    assert len(list((cache_dir / "encoded").iterdir())) == 1
    again = prepare(path, min_count=1, cache_dir=cache_dir)
    assert again.path == first.path
    other = prepare(path, min_count=2, cache_dir=cache_dir)  # an option changed
    assert other.path != first.path
    path.write_text(TEXT + "new words here\n")  # the file changed (size and mtime)
    os.utime(path, ns=(1, 1))
    changed = prepare(path, min_count=1, cache_dir=cache_dir)
    assert changed.path not in (first.path, other.path)
    assert "new" in changed.vocab.words


def test_no_cache_leaves_nothing_behind(tmp_path, cache_dir):
    path = tmp_path / "c.txt"
    path.write_text(TEXT)
    enc = prepare(path, min_count=1, cache=False, cache_dir=cache_dir)
    assert not cache_dir.exists()
    assert enc.n_tokens == sum(map(len, _expected(TEXT)))


# -- bad input ------------------------------------------------------------------------------------
def test_missing_file(tmp_path):
    with pytest.raises(MissingFileError, match="does not exist"):
        prepare(tmp_path / "nope.txt")


def test_directory_without_text_files(tmp_path):
    (tmp_path / "x.png").write_bytes(b"png")
    with pytest.raises(CorpusError, match="no text files"):
        prepare(tmp_path)


def test_undecodable_bytes_are_replaced_and_counted(tmp_path, cache_dir, caplog):
    path = tmp_path / "latin1.txt"
    path.write_bytes("café au lait\ncafé noir\n".encode("latin-1"))
    with caplog.at_level("WARNING", logger="embedkit"):
        enc = prepare(path, min_count=1, cache_dir=cache_dir)
    assert enc.info["replaced_bytes"] == 2
    assert "replaced 2 undecodable bytes" in caplog.text
    assert "au" in enc.vocab.words


def test_empty_corpus(tmp_path):
    path = tmp_path / "empty.txt"
    path.write_text("\n\n  \n")
    with pytest.raises(CorpusError, match="empty"):
        prepare(path)


def test_nothing_left_after_min_count(tmp_path):
    path = tmp_path / "small.txt"
    path.write_text("one two three\n")
    with pytest.raises(CorpusError, match="lower --min-count"):
        prepare(path, min_count=5)


def test_truncated_gzip(tmp_path):
    path = tmp_path / "cut.gz"
    with gzip.open(path, "wb") as f:
        f.write(TEXT.encode() * 100)
    path.write_bytes(path.read_bytes()[:-30])
    with pytest.raises(CorpusError, match="corrupt or truncated"):
        prepare(path, cache=False)


def test_token_lists_must_be_lists_of_strings():
    with pytest.raises(CorpusError, match="not a list of strings"):
        prepare(["a plain string"], min_count=1)


@pytest.mark.parametrize("kwargs,match", [
    ({"min_count": 0}, "min_count must be an integer >= 1"),
    ({"max_vocab_size": 0}, "max_vocab_size must be"),
    ({"max_final_vocab": -1}, "max_final_vocab must be"),
    ({"tokenizer": "nltk"}, "unknown tokenizer"),
])
def test_invalid_parameters(kwargs, match):
    with pytest.raises(ParameterError, match=match):
        prepare([["a"]], **kwargs)


def test_blocks_tokenized_on_two_tables_give_one_vocabulary(tmp_path, monkeypatch, cache_dir):
    # small blocks: consecutive blocks go to the two word tables on two threads, lines run
    # across block boundaries, and the merged vocabulary must equal a plain count
    import collections
    import random

    rnd = random.Random(7)
    lines = [" ".join(f"w{rnd.randrange(300)}" for _ in range(rnd.randrange(0, 40)))
             for _ in range(400)]
    path = tmp_path / "many.txt"
    path.write_text("\n".join(lines) + "\n")
    monkeypatch.setattr(readers, "BLOCK_BYTES", 64)
    enc = prepare(path, min_count=1, cache_dir=cache_dir)
    want = collections.Counter(t for line in lines for t in line.split())
    assert dict(zip(enc.vocab.words, enc.vocab.counts.tolist())) == dict(want)
    assert _decode(enc) == [line.split() for line in lines if line]
