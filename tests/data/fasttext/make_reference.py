"""Make reference.npz: word vectors computed by Facebook's fastText itself (the `fasttext`
Python bindings, 0.9.x) for two models of gensim's test data, so the tests can check
embedkit against fastText without installing it.  Run once; the result is committed.

    pip install fasttext-numpy2-wheel gensim
    python tests/data/fasttext/make_reference.py
"""

import pathlib

import fasttext
import numpy as np
from gensim.test.utils import datapath

HERE = pathlib.Path(__file__).resolve().parent
OOV = ["sharkado", "governmentz", "xyzzy", "Ünïcødé", "bezpečnost", "a", "ab", "наверное",
       "</s>x", "wordwithaverylongspelling", "qq", "e\u0301"]
out = {}
for name in ("crime-and-punishment.bin", "lee_fasttext_new.bin"):
    model = fasttext.load_model(datapath(name))
    key = name.split(".")[0].replace("-", "_")
    words = model.get_words(on_unicode_error="strict")
    out[f"{key}__words"] = np.array(words)
    out[f"{key}__in_vocab"] = np.stack([model.get_word_vector(w) for w in words])
    out[f"{key}__oov_words"] = np.array(OOV)
    out[f"{key}__oov"] = np.stack([model.get_word_vector(w) for w in OOV])
np.savez_compressed(HERE / "reference.npz", **out)
print("wrote", HERE / "reference.npz", {k: v.shape for k, v in out.items()})
