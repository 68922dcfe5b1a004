"""Stop-gap word2vec text/binary reader, used only while ``embedkit.load`` is unavailable."""

from __future__ import annotations

import numpy as np

from embedkit.errors import FormatError
from embedkit.vectors import Vectors


def read_word2vec(path: str) -> Vectors:  # pragma: no cover - replaced by embedkit.load
    with open(path, "rb") as f:
        header = f.readline().split()
        try:
            n, dim = int(header[0]), int(header[1])
        except (IndexError, ValueError):
            raise FormatError(f"{path}: not a word2vec file (header 'count dim')") from None
        rest = f.read()
    words, rows = [], []
    try:
        text = rest.decode("utf-8")
        lines = text.splitlines()
        if len(lines) >= n and all(len(l.split()) == dim + 1 for l in lines[:3]):
            for line in lines[:n]:
                parts = line.rstrip().split(" ")
                words.append(parts[0])
                rows.append(np.array(parts[1:], dtype=np.float32))
            return Vectors(words, np.vstack(rows))
    except UnicodeDecodeError:
        pass
    pos = 0
    mat = np.empty((n, dim), np.float32)
    for i in range(n):
        end = rest.index(b" ", pos)
        words.append(rest[pos:end].decode("utf-8", "replace").strip())
        pos = end + 1
        mat[i] = np.frombuffer(rest, dtype=np.float32, count=dim, offset=pos)
        pos += 4 * dim
        if pos < len(rest) and rest[pos:pos + 1] == b"\n":
            pos += 1
    seen = set()
    keep = [i for i, w in enumerate(words) if not (w in seen or seen.add(w))]
    return Vectors([words[i] for i in keep], mat[keep])
