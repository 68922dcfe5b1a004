"""Minimal word2vec text/binary writer, used only until ``Vectors.save`` is available."""

from __future__ import annotations

import os

import numpy as np

from embedkit.errors import ParameterError


def save_word2vec(vectors, path, format=None) -> None:
    """Write ``vectors`` as word2vec binary (``.bin``) or text (anything else)."""
    path = os.fspath(path)
    fmt = format or ("word2vec-binary" if path.endswith(".bin") else "word2vec")
    if fmt not in ("word2vec", "word2vec-binary", "text", "binary"):
        raise ParameterError(f"format {fmt!r} is not supported here: use .bin or .txt")
    binary = fmt in ("word2vec-binary", "binary")
    mat = np.asarray(vectors.vectors, dtype=np.float32)
    tmp = path + ".tmp"
    with open(tmp, "wb") as fh:
        fh.write(f"{mat.shape[0]} {mat.shape[1]}\n".encode())
        for w, row in zip(vectors.words, mat):
            if binary:
                fh.write(w.encode("utf-8") + b" " + row.astype("<f4").tobytes() + b"\n")
            else:
                fh.write((w + " " + " ".join(f"{x:.6g}" for x in row) + "\n").encode("utf-8"))
    os.replace(tmp, path)
