"""A seeded, time-bounded fuzzer of everything embedkit reads back from disk (issue 21).

It builds small valid artifacts once (word2vec text and binary vectors, a gzipped text file,
a native ``.ekv``, a word2vec checkpoint, a corpus cache entry, a sentiment and an NER
model directory, a FAISS index), then runs cases: each copies one artifact, mutates it
(byte flips, truncation, insertion, deletion, and structured mutations of JSON fields and
of ``.npy``/``.npz`` arrays: shapes, dtypes, NaN, out-of-range ids) and loads and uses it.

Every case ends in one of:

* ``ok``: it loaded, and what loaded is consistent (words are unique strings, one per row,
  finite float32 rows; ids in range; predictions among the labels; search results in range);
* ``clean``: an :class:`~embedkit.errors.EmbedkitError`;
* ``raw``: any other exception (a defect: the message is not a clean one);
* ``silent``: it loaded but what loaded is inconsistent (a defect: silently wrong data);
* ``crash``: the process died (a signal such as SIGSEGV) or hung (a defect).

Cases run in a worker subprocess, so a crash kills the worker, not the fuzzer: the parent
records the case and starts a new worker at the next one.  Case ``i`` depends only on
``(seed, i)``.

Usage::

    python tests/helpers/fuzz.py --seconds 600 --seed 1      # the long run, prints counts
    EMBEDKIT_FUZZ_SECONDS=120 pytest tests/test_integrity_fuzz.py
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path

import numpy as np

KINDS = ("text", "text_gz", "binary", "native", "checkpoint", "cache", "sentiment", "ner",
         "index", "sharded", "lm", "seq2seq", "fasttext", "fasttext_native", "similarity",
         "analogy", "index_hnsw")
#: the file (or directory) of each kind under the artifacts root; the others are directories
#: named after their kind
FILES = {"text": "text.txt", "text_gz": "text_gz.txt.gz", "binary": "binary.bin",
         "native": "native.ekv", "fasttext": "model.bin", "fasttext_native": "ft.ekv",
         "similarity": "pairs.txt", "analogy": "questions.txt"}
OUTCOMES = ("ok", "clean", "raw", "silent", "crash")
HERE = Path(__file__).resolve().parent


# -- artifacts --------------------------------------------------------------------------------

def build_artifacts(root: Path) -> None:
    """Write one small valid artifact of each kind under ``root``."""
    sys.path.insert(0, str(HERE.parent))
    import embedkit
    from embedkit._progress import set_progress
    from embedkit.corpus import prepare
    from embedkit.search import Index
    from helpers import integrity as F

    set_progress(False)
    v = F.vectors(24, 6, seed=11)
    F.write_text(root / "text.txt", v)
    embedkit.save(v, root / "text_gz.txt.gz")
    F.write_binary(root / "binary.bin", v)
    F.write_native(root / "native.ekv", v)
    (root / "index").mkdir()
    F.write_native(root / "index" / "v.ekv", v)
    Index(v, "exact").save(root / "index" / "v.ekv")
    (root / "ckpt_work").mkdir()
    ckpt, _ = F.word2vec_checkpoint(root / "ckpt_work")
    (root / "checkpoint").mkdir()
    for suffix in (".npz", ".json"):
        shutil.copy(ckpt[: -len(".json")] + suffix, root / "checkpoint" / ("run.ckpt" + suffix))
    shutil.rmtree(root / "ckpt_work")
    enc = prepare(F.topic_sentences(), min_count=1, cache=False)
    shutil.copytree(enc.path, root / "cache")
    F.sentiment_model(root / "sentiment")
    F.ner_model(root / "ner")
    F.sharded_corpus(root / "sharded_work")
    shutil.copytree(root / "sharded_work" / "enc", root / "sharded")
    shutil.rmtree(root / "sharded_work")
    F.lm_model(root / "lm")
    F.seq2seq_model(root / "seq2seq")
    F.fasttext_bin(root / "model.bin")
    embedkit.save(embedkit.load(root / "model.bin"), root / "ft.ekv", format="native")
    F.similarity_file(root / "pairs.txt")
    F.analogy_file(root / "questions.txt")
    (root / "index_hnsw").mkdir()
    F.write_native(root / "index_hnsw" / "v.ekv", v)
    Index(v, "hnsw").save(root / "index_hnsw" / "v.ekv")


# -- mutations --------------------------------------------------------------------------------

NASTY = [None, True, -1, 0, 1, 2 ** 63, -(2 ** 70), 1e308, float("nan"), "x", "", [], {}, [1, "a"],
         {"a": [1]}, "../../etc", "\x00", [[[[[]]]]], 3.5, ["w0", "w0"], list(range(5))]


def _mutate_bytes(data: bytes, rng) -> bytes:
    data = bytearray(data)
    op = int(rng.integers(6))
    n = len(data)
    if n == 0:
        return bytes(rng.integers(0, 256, 8, dtype=np.uint8))
    if op == 0:  # flip bytes
        for _ in range(int(rng.integers(1, 9))):
            data[int(rng.integers(n))] ^= int(rng.integers(1, 256))
    elif op == 1:  # truncate
        del data[int(rng.integers(n)):]
    elif op == 2:  # insert random bytes
        at = int(rng.integers(n + 1))
        data[at:at] = bytes(rng.integers(0, 256, int(rng.integers(1, 33)), dtype=np.uint8))
    elif op == 3:  # delete a range
        a = int(rng.integers(n))
        del data[a:a + int(rng.integers(1, 65))]
    elif op == 4:  # copy a range over another
        a, b = int(rng.integers(n)), int(rng.integers(n))
        k = int(rng.integers(1, 65))
        data[b:b + k] = data[a:a + k]
    else:  # special bytes at one place: NUL, newline, space, 0xff, digits
        at = int(rng.integers(n))
        data[at] = int(rng.choice([0, 10, 13, 32, 9, 255, 48, 45, 46, 101]))
    return bytes(data)


def _nodes(obj, path=()):
    yield path
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _nodes(v, path + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj[:20]):
            yield from _nodes(v, path + (i,))


def _mutate_json(data: bytes, rng) -> bytes:
    try:
        obj = json.loads(data)
    except ValueError:
        return _mutate_bytes(data, rng)
    paths = [p for p in _nodes(obj) if p]
    if not paths:
        return json.dumps(NASTY[int(rng.integers(len(NASTY)))]).encode()
    path = paths[int(rng.integers(len(paths)))]
    parent = obj
    for k in path[:-1]:
        parent = parent[k]
    key = path[-1]
    op = int(rng.integers(4))
    if op == 0 and isinstance(parent, dict):
        del parent[key]
    elif op == 1 and isinstance(parent, list):
        parent.insert(int(key), parent[key])  # a duplicate entry
    elif op == 2 and isinstance(parent[key], (int, float)) and not isinstance(parent[key], bool):
        parent[key] = type(parent[key])(parent[key] * int(rng.choice([-1, 2, 1000])) + 1)
    else:
        parent[key] = NASTY[int(rng.integers(len(NASTY)))]
    return json.dumps(obj).encode()


def _mutate_array(arr: np.ndarray, rng) -> np.ndarray:
    op = int(rng.integers(9))
    if op == 0 and arr.ndim >= 1 and arr.shape[0] > 1:  # fewer rows
        return arr[: int(rng.integers(arr.shape[0]))]
    if op == 1 and arr.ndim == 2:  # fewer columns
        return np.ascontiguousarray(arr[:, : int(rng.integers(arr.shape[1]))])
    if op == 2:  # another dtype
        dtype = rng.choice(["float64", "float16", "int64", "int8", "complex64", "bool",
                            "uint8", "U3"])
        try:
            return arr.astype(dtype)
        except (ValueError, TypeError, OverflowError):
            return arr.astype("float64")
    if op == 3 and arr.dtype.kind == "f" and arr.size:  # NaN / inf
        arr = arr.copy()
        arr.flat[int(rng.integers(arr.size))] = rng.choice([np.nan, np.inf, -np.inf])
        return arr
    if op == 4 and arr.dtype.kind in "iu" and arr.size:  # an id out of range
        arr = arr.astype(np.int64)
        arr.flat[int(rng.integers(arr.size))] = int(rng.choice([-1, -7, 10 ** 6, 2 ** 40,
                                                                 arr.max(initial=0) + 1]))
        return arr
    if op == 5 and arr.size:  # flattened or transposed
        return arr.reshape(-1) if arr.ndim > 1 and rng.random() < 0.5 else arr.T.copy()
    if op == 6:  # extra rows
        return np.concatenate([arr, arr[:1]]) if arr.ndim and arr.shape[0] else arr
    if op == 7 and arr.dtype.kind in "iu" and arr.ndim == 1 and arr.size > 2:  # shuffled
        arr = arr.copy()
        rng.shuffle(arr)
        return arr
    return np.zeros((0,) + arr.shape[1:], arr.dtype)  # empty


def _mutate_npy(path: Path, rng) -> None:
    arr = np.load(path, allow_pickle=False)
    np.save(path, _mutate_array(arr, rng), allow_pickle=False)


def _mutate_npz(path: Path, rng) -> None:
    with np.load(path, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    name = sorted(arrays)[int(rng.integers(len(arrays)))]
    op = int(rng.integers(5))
    if op == 0:
        del arrays[name]
    elif op == 1:
        arrays["extra_" + name] = arrays[name]
    else:
        arrays[name] = _mutate_array(arrays[name], rng)
    with open(path, "wb") as f:
        np.savez(f, **arrays)


def mutate(target: Path, rng) -> str:
    """Mutate one file of artifact ``target`` (a file or a directory) in place; describe it."""
    files = [target] if target.is_file() else sorted(p for p in target.rglob("*") if p.is_file())
    f = files[int(rng.integers(len(files)))]
    structured = rng.random() < 0.6
    try:
        return _mutate_file(f, structured, rng, target)
    except Exception:  # noqa: BLE001 - an earlier mutation broke the file's structure
        f.write_bytes(_mutate_bytes(f.read_bytes(), rng))
        return f"bytes {f.relative_to(target.parent)}"


def _mutate_file(f: Path, structured: bool, rng, target: Path) -> str:
    if structured and f.suffix == ".json":
        f.write_bytes(_mutate_json(f.read_bytes(), rng))
        how = "json"
    elif structured and f.suffix == ".npy":
        _mutate_npy(f, rng)
        how = "npy"
    elif structured and f.suffix == ".npz":
        _mutate_npz(f, rng)
        how = "npz"
    else:
        f.write_bytes(_mutate_bytes(f.read_bytes(), rng))
        how = "bytes"
    return f"{how} {f.relative_to(target.parent)}"


def _resign(target: Path) -> bool:
    """Update a model directory's ``weights_sha256`` to its (mutated) weights, as a careful
    tamperer would, so that the checks behind the digest are exercised too."""
    meta, weights = target / "model.json", target / "weights.npz"
    if not (target.is_dir() and meta.is_file() and weights.is_file()):
        return False
    try:
        state = json.loads(meta.read_bytes())
    except ValueError:
        return False
    if not isinstance(state, dict) or not isinstance(state.get("weights_sha256"), str):
        return False
    from embedkit import _validate as V

    state["weights_sha256"] = V.file_digest(weights)
    meta.write_text(json.dumps(state))
    return True


# -- loading and checking -------------------------------------------------------------------

class Silent(Exception):
    """What loaded is inconsistent: silently wrong data."""


def _check(cond, what):
    if not cond:
        raise Silent(what)


def _check_vectors(v):
    words, m = v.words, v.vectors
    _check(isinstance(words, list) and all(isinstance(w, str) for w in words), "non-str words")
    _check(len(set(words)) == len(words), "duplicate words")
    _check(m.ndim == 2 and m.shape[0] == len(words) and m.shape[1] >= 1, "rows != words")
    _check(m.dtype == np.float32, f"dtype {m.dtype}")
    _check(bool(np.isfinite(m).all()), "non-finite rows")
    if words:
        _check(np.array_equal(v[words[-1]], m[-1]), "v[word] is not its row")
        if len(words) > 1:
            got = v.most_similar(words[0], topn=3)
            _check(all(w in v for w, _ in got), "most_similar returned unknown words")
            a = m[0].astype(np.float64)
            for w, score in got:  # each score is the true cosine (float64 reference)
                b = m[v.words.index(w)].astype(np.float64)
                na, nb = np.linalg.norm(a), np.linalg.norm(b)
                want = float(a @ b / (na * nb)) if na > 0 and nb > 0 else 0.0
                _check(abs(float(score) - want) < 1e-3, f"most_similar gives {w!r} "
                       f"{float(score):.6g}, the cosine is {want:.6g}")


def load_case(kind: str, path: Path) -> None:
    """Load and use the (mutated) artifact; raise :class:`Silent` on inconsistent data."""
    import embedkit

    if kind in ("text", "text_gz", "binary", "native"):
        _check_vectors(embedkit.load(path))
    elif kind == "checkpoint":
        from embedkit.corpus import prepare
        from embedkit.training import Word2Vec
        from helpers import integrity as F

        enc = prepare(F.topic_sentences(), min_count=1, cache=False)
        res = Word2Vec(**dict(F.W2V_FAST, epochs=2)).fit(
            enc, resume=str(path / "run.ckpt.json"), progress=False)
        _check_vectors(res.vectors)
        _check(len(res.vectors) == len(enc.vocab), "resumed vectors != vocabulary")
    elif kind == "cache":
        from embedkit.corpus.encode import EncodedCorpus
        from embedkit.training import Word2Vec
        from helpers import integrity as F

        enc = EncodedCorpus.open(path)
        ids, off = np.asarray(enc.ids), np.asarray(enc.offsets)
        _check(ids.size == 0 or (ids.min() >= 0 and ids.max() < len(enc.vocab)), "ids range")
        _check(off[0] == 0 and off[-1] == len(ids) and (np.diff(off) >= 0).all(), "offsets")
        res = Word2Vec(**dict(F.W2V_FAST, epochs=1)).fit(enc, progress=False)
        _check_vectors(res.vectors)
    elif kind in ("sentiment", "ner"):
        from embedkit.downstream import load_model
        from helpers import integrity as F

        m = load_model(path)
        if kind == "sentiment":
            texts = [[F.WORDS[i % 8], F.WORDS[(3 * i) % 8], "unknownword"] for i in range(6)]
            got, prob = m.predict(texts)
            _check(len(got) == len(texts) and all(g in m.labels for g in got), "predictions")
            _check(bool(np.isfinite(prob).all()), "non-finite probabilities")
        else:
            sents = [["mr", "Smith", "went"], ["in", "paris", "now", "X"]]
            got = m.predict(sents)
            _check([len(g) for g in got] == [3, 4], "tag counts")
            _check(all(t in m.labels for g in got for t in g), "unknown tags")
    elif kind in ("index", "index_hnsw"):
        from embedkit.search import Index

        v = embedkit.load(path / "v.ekv")
        index = Index.open(v, path / "v.ekv", save=False)
        ids, scores = index.search(v.vectors[:4], k=3)
        _check(((ids >= -1) & (ids < len(v))).all(), "index ids out of range")
        if kind == "index":
            unit = v.normalized[:4]
            self_score = np.einsum("ij,ij->i", unit, unit)
            _check((scores[:, 0] >= self_score - 1e-4).all(), "a word is not its own nearest "
                   "neighbour (nor tied with it)")
        else:  # approximate: the scores must still be the true cosines of the ids returned
            unit = v.normalized
            for q in range(4):
                for j, s in zip(ids[q], scores[q]):
                    if j >= 0:
                        _check(abs(float(unit[q] @ unit[j]) - float(s)) < 1e-3,
                               "a score is not the cosine of the word returned")
    elif kind == "sharded":
        from embedkit.corpus.sharded import ShardedCorpus
        from embedkit.training import Word2Vec
        from helpers import integrity as F

        enc = ShardedCorpus.open(path)
        for ids, off in enc.shards:
            ids, off = np.asarray(ids), np.asarray(off)
            _check(ids.size == 0 or (ids.min() >= 0 and ids.max() < len(enc.vocab)),
                   "ids range")
            _check(off[0] == 0 and off[-1] == len(ids) and (np.diff(off) >= 0).all(), "offsets")
        res = Word2Vec(**dict(F.W2V_FAST, epochs=1)).fit(str(path), progress=False)
        _check_vectors(res.vectors)
    elif kind == "lm":
        from embedkit.lm import LanguageModel

        m = LanguageModel.load(path)
        out = m.generate("w1 w2", max_tokens=4)
        _check(all(w in m.vocab.index for w in out["text"].split()), "generated unknown words")
        _check(bool(np.isfinite(out["logprob"])), "non-finite log-probability")
        for method in ("sample", "beam"):
            out = m.generate("w3", max_tokens=3, method=method, beam=2)
            _check(bool(np.isfinite(out["logprob"])), f"non-finite {method} log-probability")
    elif kind == "seq2seq":
        from embedkit.seq2seq import Seq2Seq

        m = Seq2Seq.load(path)
        for beam in (1, 2):
            got = m.translate(["abc", "ca"], beam=beam)
            _check(len(got) == 2 and all(isinstance(g["output"], str) for g in got), "outputs")
            _check(all(np.isfinite(g["logprob"]) for g in got), "non-finite log-probability")
    elif kind in ("fasttext", "fasttext_native"):
        v = embedkit.load(path)
        _check_vectors(v)
        if v.subwords is not None:
            oov = v.subwords.vectors(["kingdom", "xyz", "a"])
            _check(oov.shape == (3, v.dim) and bool(np.isfinite(oov).all()),
                   "non-finite or misshaped n-gram vectors")
    elif kind == "similarity":
        from embedkit.evaluation import evaluate_similarity
        from helpers import integrity as F

        r = evaluate_similarity(F.vectors(8, 6), str(path))
        _check(0 <= r.n_covered <= r.n, "coverage")
        for c in (r.spearman, r.pearson):
            _check(np.isnan(c) or -1.0 - 1e-9 <= c <= 1.0 + 1e-9, "a correlation outside [-1, 1]")
    elif kind == "analogy":
        from embedkit.evaluation import evaluate_analogies
        from helpers import integrity as F

        r = evaluate_analogies(F.vectors(8, 6), str(path))
        n = len(r.dataset)
        _check(len(r.covered) == n and len(r.correct) == n, "one result per question")
        _check(not (np.asarray(r.correct) & ~np.asarray(r.covered)).any(), "uncovered correct")
        pred = np.asarray(r.predicted)
        _check(((pred >= -1) & (pred < 8)).all(), "a predicted row out of range")
    else:  # pragma: no cover
        raise ValueError(kind)


def case_kind(seed: int, i: int, kinds=KINDS) -> tuple[str, np.random.Generator]:
    """The kind of case ``i`` (among ``kinds``) and the generator that mutates it."""
    rng = np.random.default_rng([seed, i])
    return kinds[int(rng.integers(len(kinds)))], rng


def run_case(artifacts: Path, scratch: Path, seed: int, i: int,
             kinds=KINDS) -> tuple[str, str]:
    """Case ``i``: ``(outcome, detail)``."""
    from embedkit.errors import EmbedkitError

    kind, rng = case_kind(seed, i, kinds)
    src = artifacts / FILES.get(kind, kind)
    work = scratch / f"case{i}"
    if work.exists():
        shutil.rmtree(work)
    work.mkdir()
    target = work / src.name
    if src.is_dir():
        shutil.copytree(src, target)
    else:
        shutil.copy(src, target)
    what = mutate(target, rng)
    if rng.random() < 0.25:  # a second mutation
        what += " + " + mutate(target, rng)
    if rng.random() < 0.5 and _resign(target):
        what += " (re-signed)"
    detail = f"{kind}: {what}"
    try:
        load_case(kind, target)
        outcome = "ok"
    except Silent as exc:
        outcome, detail = "silent", f"{detail}: {exc}"
    except EmbedkitError as exc:
        outcome, detail = "clean", f"{detail}: {str(exc)[:160]}"
    except Exception as exc:  # noqa: BLE001 - exactly what the fuzzer looks for
        tb = traceback.format_exc().strip().splitlines()
        outcome, detail = "raw", f"{detail}: {type(exc).__name__}: {exc} ({tb[-3:]})"
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return outcome, detail


def worker(artifacts: Path, seed: int, start: int, seconds: float, kinds=KINDS,
           until: int = 0) -> None:
    """Run cases from ``start`` for ``seconds`` (counted once the imports are done), and at
    least up to case ``until``; one line per event."""
    import logging

    import embedkit  # noqa: F401 - imports (and Numba's cache) before the clock starts
    import embedkit.downstream  # noqa: F401
    import embedkit.evaluation  # noqa: F401
    import embedkit.lm  # noqa: F401
    import embedkit.search  # noqa: F401
    import embedkit.seq2seq  # noqa: F401
    import embedkit.training  # noqa: F401
    from embedkit._progress import set_progress

    set_progress(False)
    logging.getLogger("embedkit").setLevel(logging.CRITICAL)
    np.seterr(all="ignore")
    sys.path.insert(0, str(HERE.parent))
    scratch = Path(tempfile.mkdtemp(prefix="embedkit-fuzz-"))
    print("READY", flush=True)
    stop_at = time.time() + seconds
    try:
        i = start
        while time.time() < stop_at or i < until:
            print(f"START {i}", flush=True)
            outcome, detail = run_case(artifacts, scratch, seed, i, kinds)
            print(f"END {i} {outcome} {json.dumps(detail)}", flush=True)
            i += 1
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


# -- the parent ----------------------------------------------------------------------------

def fuzz(seconds: float, seed: int = 0, case_timeout: float = 60.0, log=None,
         kinds=KINDS, min_cases: int = 0) -> dict:
    """Run the fuzzer for about ``seconds`` (after building the artifacts) over ``kinds``,
    and for at least ``min_cases`` cases however slow the machine is.

    Returns ``{"counts": {outcome: n}, "cases": n, "defects": [(i, outcome, detail)],
    "by_kind": {kind: {outcome: n}}}``.
    """
    root = Path(tempfile.mkdtemp(prefix="embedkit-fuzz-artifacts-"))
    counts = dict.fromkeys(OUTCOMES, 0)
    by_kind: dict[str, dict[str, int]] = {}
    defects = []
    try:
        build_artifacts(root)
        remaining = seconds  # fuzzing time, not counting the workers' start-up
        i = 0
        while remaining > 0 or i < min_cases:
            proc = subprocess.Popen(
                [sys.executable, str(Path(__file__).resolve()), "--worker", str(root),
                 "--seed", str(seed), "--start", str(i), "--seconds", str(max(remaining, 0)),
                 "--until", str(min_cases), "--kinds", ",".join(kinds)],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                cwd=str(HERE.parent))
            lines: queue.Queue = queue.Queue()
            threading.Thread(target=lambda: [lines.put(x) for x in proc.stdout] + [lines.put(None)],
                             daemon=True).start()
            err: list[str] = []
            threading.Thread(target=lambda: err.extend(proc.stderr), daemon=True).start()
            current = None
            ready = None
            while True:
                try:
                    line = lines.get(timeout=case_timeout)
                except queue.Empty:  # a hang
                    proc.kill()
                    line = None
                    err.append("(no answer within the case timeout: killed)")
                if line is None:
                    break
                parts = line.rstrip("\n").split(" ", 3)
                if parts[0] == "READY":
                    ready = time.time()
                elif parts[0] == "START":
                    current = int(parts[1])
                elif parts[0] == "END":
                    n, outcome, detail = int(parts[1]), parts[2], json.loads(parts[3])
                    kind = detail.split(":", 1)[0]
                    counts[outcome] += 1
                    by_kind.setdefault(kind, dict.fromkeys(OUTCOMES, 0))[outcome] += 1
                    if outcome in ("raw", "silent"):
                        defects.append((n, outcome, detail))
                    if log is not None and outcome != "ok" and outcome != "clean":
                        print(f"case {n}: {outcome}: {detail}", file=log, flush=True)
                    current = None
                    i = n + 1
            proc.wait()
            remaining = remaining - (time.time() - ready) if ready is not None else 0
            if current is not None:  # the worker died inside a case
                counts["crash"] += 1
                kind, _ = case_kind(seed, current, kinds)
                by_kind.setdefault(kind, dict.fromkeys(OUTCOMES, 0))["crash"] += 1
                detail = f"{kind}: exit code {proc.returncode}; {''.join(err)[-400:]}"
                defects.append((current, "crash", detail))
                if log is not None:
                    print(f"case {current}: crash: {detail}", file=log, flush=True)
                i = current + 1
            elif proc.returncode not in (0, None):
                raise RuntimeError(f"the fuzz worker failed outside a case: {''.join(err)}")
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return {"counts": counts, "cases": sum(counts.values()), "defects": defects,
            "by_kind": by_kind, "seed": seed, "seconds": seconds}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--worker", type=Path, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--start", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--until", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--kinds", default=",".join(KINDS),
                    help="comma-separated kinds to fuzz (default: all): " + ", ".join(KINDS))

    ap.add_argument("--json", type=Path, default=None, help="write the result here")
    args = ap.parse_args(argv)
    kinds = tuple(k for k in args.kinds.split(",") if k)
    unknown = sorted(set(kinds) - set(KINDS))
    if unknown or not kinds:
        ap.error(f"unknown kinds {unknown}; choose among {', '.join(KINDS)}")
    if args.worker is not None:
        worker(args.worker, args.seed, args.start, args.seconds, kinds, args.until)
        return 0
    res = fuzz(args.seconds, args.seed, log=sys.stdout, kinds=kinds)
    print(f"seed {res['seed']}, {res['seconds']:.0f} s: {res['cases']} cases: "
          + ", ".join(f"{k} {v}" for k, v in res["counts"].items()))
    for kind, c in sorted(res["by_kind"].items()):
        print(f"  {kind:10s} " + ", ".join(f"{k} {v}" for k, v in c.items()))
    if args.json:
        args.json.write_text(json.dumps(res, indent=1))
    return 1 if res["defects"] else 0


if __name__ == "__main__":
    sys.exit(main())
