"""Small sharded text corpora for the distributed tests (imported by name, as synthetic is)."""

import gzip
import pathlib

import numpy as np


def write_shards(directory, n_shards=5, lines=300, seed=0, vocab=250, gzip_every=2):
    """Write ``n_shards`` newline-terminated text shards (every ``gzip_every``-th one
    gzipped) of Zipf-ish words, some non-ASCII and some upper case; returns their paths."""
    rng = np.random.default_rng(seed)
    directory = pathlib.Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    words = [f"w{i}" for i in range(vocab)] + ["Don't", "Über", "naïve", "THE", "the"]
    p = 1.0 / np.arange(1, len(words) + 1)
    p /= p.sum()
    paths = []
    for k in range(n_shards):
        text = "\n".join(" ".join(rng.choice(words, size=int(rng.integers(1, 40)), p=p))
                         for _ in range(lines)) + "\n"
        if gzip_every and k % gzip_every == 1:
            path = directory / f"part-{k:03d}.txt.gz"
            with gzip.open(path, "wb") as f:
                f.write(text.encode("utf-8"))
        else:
            path = directory / f"part-{k:03d}.txt"
            path.write_bytes(text.encode("utf-8"))
        paths.append(path)
    return paths
