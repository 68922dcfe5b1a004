"""GloVe (Pennington et al. 2014): the :class:`GloVe` trainer and :func:`train_glove`.

Training is two steps, both in process: co-occurrence counting in a memory budget
(:mod:`embedkit.training.cooccur`), then weighted least squares on ``log X`` with AdaGrad
(:mod:`embedkit._kernels.glove`), the entries visited in a fresh seeded random order every
epoch by Hogwild threads.  Progress, seeds, checkpoints and Ctrl-C behave as in the
word2vec trainers (:mod:`embedkit.training.driver`, :mod:`embedkit.training.checkpoint`,
:mod:`embedkit.training.output`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from embedkit._version import __version__
from embedkit.errors import CorpusError, ParameterError
from embedkit._params import check_non_negative, check_positive, check_workers
from embedkit.training import driver
from embedkit._io import format_bytes
from embedkit.training._common import encoded_corpus
from embedkit.training.checkpoint import (check_same_corpus, corpus_fingerprint, resume_from,
                                          save_checkpoint, start_position)
from embedkit.training.cooccur import count_cooccurrences
from embedkit.training.cooccur_budget import check_memory_budget
from embedkit.training.glove_cooccur import (_partition_jobs, _PartitionCache, _epoch_jobs,
                                             count_for_training, given_cooccurrence)
from embedkit.training.output import train_and_write, vectors_plan

log = logging.getLogger(__name__)

VECTOR_CHOICES = ("w+c", "w")


@dataclass
class GloVeResult:
    """What :meth:`GloVe.fit` returns.

    Attributes
    ----------
    vectors : Vectors
        The output vectors (``W + C`` by default, or ``W``), with counts and metadata.
    history : list of dict
        One record per epoch: ``epoch``, ``loss`` (mean of ``0.5 f(x) diff**2`` per
        update), ``loss_sum``, ``loss_count``, ``words`` (entries trained), ``seconds``,
        ``words_per_sec``, ``lr``.
    word_vectors, context_vectors : ndarray
        ``W`` and ``C`` (float32, ``(V, dim)``).
    word_biases, context_biases : ndarray
        ``b`` and ``b~`` (float32, ``(V,)``).
    cooccurrence : dict
        Counting statistics (tokens, entries, seconds, spilled runs, ...).
    seconds : float
        Wall time of the training loop (this run only, when resumed).
    """

    vectors: object
    history: list = field(default_factory=list)
    word_vectors: np.ndarray | None = None
    context_vectors: np.ndarray | None = None
    word_biases: np.ndarray | None = None
    context_biases: np.ndarray | None = None
    cooccurrence: dict = field(default_factory=dict)
    seconds: float = 0.0


def _new_state(rng, V: int, dim: int) -> np.ndarray:
    """A state matrix (see :mod:`embedkit._kernels.glove`): vectors uniform in
    ``(-0.5, 0.5) / dim``, biases 0, AdaGrad sums 1."""
    S = np.empty((V, 2 * dim + 2), dtype=np.float32)
    S[:, :dim] = (rng.random((V, dim), dtype=np.float32) - np.float32(0.5)) / np.float32(dim)
    S[:, dim] = 0.0
    S[:, dim + 1:] = 1.0
    return S


def _round_keys(seed: int, epoch: int) -> np.ndarray:
    """The permutation keys of one epoch's shuffle (depend on seed and epoch only)."""
    return np.random.default_rng([int(seed), int(epoch)]).integers(
        0, np.iinfo(np.uint64).max, size=4, dtype=np.uint64, endpoint=True)


class GloVe:
    """GloVe vectors from word-word co-occurrences.

    Parameters
    ----------
    dim : int
        Vector dimension (default 100).
    window : int
        Symmetric context window; a pair at distance ``d`` adds ``1/d`` (default 10).
    min_count : int
        Words rarer than this are dropped (when the corpus is prepared here).
    x_max, power : float
        Weighting ``f(x) = min(1, (x / x_max) ** power)`` (defaults 100 and 0.75).
    alpha : float
        AdaGrad learning rate (default 0.05).
    epochs : int
        Passes over the co-occurrence entries (default 25).
    workers : int, optional
        Threads for counting and training (default: the CPU count).
    seed : int
        Seed of the initial vectors and of every epoch's shuffle.  With ``workers=1`` the
        same seed gives bit-identical vectors.
    memory : str or int
        Budget for co-occurrence counting, e.g. ``"4G"`` or ``"512M"``; beyond it sorted
        runs are spilled to disk and merged.
    vectors : {"w+c", "w"}
        Output the sum of word and context vectors (as in the paper) or the word vectors.
    tokenizer : str
        Tokenizer of :func:`embedkit.corpus.prepare` when a corpus is prepared here.
    lowercase : bool
        Lowercase the corpus before tokenizing (``--keep-case`` turns it off).
    entries_per_job : int
        Co-occurrence entries per unit of work handed to a thread.
    grad_clip : float
        Gradients of the vectors are clipped to ``[-grad_clip, grad_clip]``.
    tmp_dir : path, optional
        Where counting spills its runs (default: the system temporary directory).

    Examples
    --------
    >>> from embedkit.training import GloVe
    >>> result = GloVe(dim=50, epochs=10).fit("corpus.txt")     # doctest: +SKIP
    >>> result.vectors.most_similar("king")                      # doctest: +SKIP
    """

    def __init__(self, dim: int = 100, window: int = 10, min_count: int = 5,
                 x_max: float = 100.0, power: float = 0.75, alpha: float = 0.05,
                 epochs: int = 25, workers: int | None = None, seed: int = 1, memory="4G",
                 vectors: str = "w+c", tokenizer: str = "default", lowercase: bool = True,
                 entries_per_job: int = 100_000, grad_clip: float = 100.0, tmp_dir=None):
        self.dim = int(check_positive("dim", dim, integer=True))
        self.window = int(check_positive("window", window, integer=True))
        self.min_count = int(check_positive("min_count", min_count, integer=True))
        self.x_max = float(check_positive("x_max", x_max, hint=" (e.g. --x-max 100)"))
        self.power = float(check_positive("power", power, hint=" (e.g. --power 0.75)"))
        self.alpha = float(check_positive("alpha", alpha))
        self.epochs = int(check_positive("epochs", epochs, integer=True))
        self.workers = check_workers(workers)
        self.seed = int(check_non_negative("seed", seed, integer=True))
        check_memory_budget(memory)  # before any corpus is read
        self.memory = memory if isinstance(memory, str) else int(memory)
        if vectors not in VECTOR_CHOICES:
            raise ParameterError(f"vectors must be 'w+c' (word + context, the default) or 'w', "
                                 f"got {vectors!r}")
        self.vectors = vectors
        self.tokenizer = tokenizer
        self.lowercase = bool(lowercase)
        self.entries_per_job = int(check_positive("entries_per_job", entries_per_job,
                                                    integer=True))
        self.grad_clip = float(check_positive("grad_clip", grad_clip))
        self.tmp_dir = tmp_dir

    def params(self) -> dict:
        """The training parameters (JSON-serialisable)."""
        return {"model": "glove", "dim": self.dim, "window": self.window,
                "min_count": self.min_count, "x_max": self.x_max, "power": self.power,
                "alpha": self.alpha, "epochs": self.epochs, "workers": self.workers,
                "seed": self.seed, "memory": self.memory, "vectors": self.vectors,
                "tokenizer": self.tokenizer, "lowercase": self.lowercase,
                "entries_per_job": self.entries_per_job,
                "grad_clip": self.grad_clip}

    def _prepare(self, corpus):
        return encoded_corpus(corpus, min_count=self.min_count, tokenizer=self.tokenizer,
                                lowercase=self.lowercase)

    def _count_sharded(self, enc):
        """Count a sharded corpus (:func:`~embedkit.training.glove_cooccur.count_for_training`)."""
        return count_for_training(self, enc)

    def count(self, corpus=None, progress: bool | None = None):
        """Prepare ``corpus`` and count its co-occurrences.

        Returns
        -------
        (EncodedCorpus, Cooccurrence)
        """
        enc = self._prepare(corpus)
        if len(enc.vocab) == 0 or (enc.n_tokens if hasattr(enc, "shards") else len(enc.ids)) == 0:
            raise CorpusError(f"the vocabulary is empty: no word occurs at least "
                              f"min_count={self.min_count} times; lower --min-count or give "
                              "a bigger corpus")
        if hasattr(enc, "shards"):  # a sharded directory: map over shards, reduce partitions
            import tempfile

            from embedkit.training.cooccur_partitioned import count_sharded

            with tempfile.TemporaryDirectory(prefix="embedkit-cooc-", dir=self.tmp_dir) as tmp:
                co = count_sharded(enc, tmp, window=self.window, memory=self.memory,
                                   workers=self.workers).load()
            return enc, co
        co = count_cooccurrences(enc.ids, enc.offsets, len(enc.vocab), window=self.window,
                                 memory=self.memory, workers=self.workers,
                                 tmp_dir=self.tmp_dir, progress=progress is not False)
        return enc, co

    # -- training ---------------------------------------------------------------------
    def fit(self, corpus=None, *, out=None, format=None, checkpoint=None,
            checkpoint_every: float | None = None, resume=None, log_json=None,
            progress: bool | None = None, cooccurrence=None) -> GloVeResult:
        """Count co-occurrences in ``corpus``, train, and return a :class:`GloVeResult`.

        Parameters
        ----------
        corpus, out, format, checkpoint, checkpoint_every, log_json, progress
            As for :meth:`Word2Vec.fit <embedkit.training.Word2Vec.fit>`: the corpus (None:
            the built-in one), where the vectors go, the checkpoint path and period, the
            JSON progress log, the progress bars.
        resume : path, optional
            Continue from a checkpoint (its parameters replace this object's; the
            co-occurrences are counted again, which is deterministic).
        cooccurrence : Cooccurrence, PartitionedCooccurrence or path, optional
            Counts of this corpus from :meth:`count` (to train several models on one
            count), or the partitions :func:`~embedkit.training.cooccur_partitioned.count_sharded`
            wrote (on a Dask cluster, say), or their directory / URL: joined in memory when
            they fit ``memory``, else streamed from disk partition by partition.  Must
            match the vocabulary and ``window``.
        """
        out, checkpoint = vectors_plan(out, format, checkpoint, checkpoint_every)

        state = arrays = None
        if resume is not None:
            arrays, state = resume_from(self, resume, "glove", "GloVe", skip=("workers", "model"))

        streamed = None  # PartitionedCooccurrence trained from disk, partition by partition
        if cooccurrence is None:
            enc = self._prepare(corpus)
            if hasattr(enc, "shards") and enc.n_tokens:
                co, streamed = self._count_sharded(enc)
            else:
                enc, co = self.count(enc, progress=progress)
        else:
            enc = self._prepare(corpus)
            co, streamed = given_cooccurrence(self, enc, cooccurrence)
        vocab = enc.vocab
        fp = corpus_fingerprint(enc)
        check_same_corpus(state, fp, resume)
        V, dim, n = len(vocab), self.dim, len(co) if streamed is None else len(streamed)
        if n == 0:
            raise CorpusError("no word pair co-occurs within the window: every sentence has a "
                              "single word; give a corpus with longer sentences")
        log.info("glove: %d words, %d co-occurrence entries (%s%s); weights %s", V, n,
                 format_bytes(12 * n), "" if streamed is None else
                 f", streamed from {len(streamed.partitions)} partitions on disk",
                 format_bytes(4 * V * (2 * dim + 1) * 2))

        from embedkit._kernels import glove as K

        if state is None:
            rng = np.random.default_rng(self.seed)
            WS, CS = (_new_state(rng, V, dim) for _ in range(2))
        else:
            from embedkit import _validate as Vd

            for k in ("WS", "CS"):
                Vd.check_array(arrays.get(k), file=resume, name=k, ndim=2, kind="f",
                               finite=True, fix="resume with the same corpus and options")
            WS, CS = (np.ascontiguousarray(arrays[k], dtype=np.float32) for k in ("WS", "CS"))
            if WS.shape != (V, 2 * dim + 2) or CS.shape != WS.shape:
                raise ParameterError(f"checkpoint {resume} holds weights of shape {WS.shape}, "
                                     f"expected {(V, 2 * dim + 2)}: resume with the same options")
        start, history, epoch_state = start_position(state)

        if streamed is None:
            keys, vals = co.keys, co.values
            bits = K.permutation_bits(n)
            bounds = np.arange(0, n + self.entries_per_job, self.entries_per_job, dtype=np.int64)
            bounds[-1] = n
            bounds = np.unique(bounds)
            job_words = np.diff(bounds)
        else:
            keys, vals = np.zeros(1, np.uint64), np.zeros(1, np.float32)
            bits = 2
            part_jobs, job_words = _partition_jobs(streamed, self.entries_per_job)
            load_part = _PartitionCache(streamed, self.workers + 1)
        round_keys = {}
        f32 = np.float32
        x_max, power, alpha, clip = f32(self.x_max), f32(self.power), f32(self.alpha), \
            f32(self.grad_clip)

        def keys_for(epoch: int) -> np.ndarray:
            rk = round_keys.get(epoch)
            if rk is None:
                rk = round_keys[epoch] = _round_keys(self.seed, epoch)
            return rk

        epoch_jobs: dict = {}

        def work_streamed(epoch: int, job: int, thread: int):
            order = epoch_jobs.get(epoch)
            if order is None:  # the same list whichever thread builds it first
                order = epoch_jobs[epoch] = _epoch_jobs(part_jobs, self.seed, epoch)
                epoch_jobs.pop(epoch - 2, None)
            p, lo, hi = order[job]
            pk, pv, pbits = load_part(p)
            loss, count = K.train_range(WS, CS, pk, pv, lo, hi, pbits, keys_for(epoch), V,
                                        x_max, power, alpha, clip)
            return hi - lo, loss, count

        def work(epoch: int, job: int, thread: int):
            if streamed is not None:
                return work_streamed(epoch, job, thread)
            loss, count = K.train_range(WS, CS, keys, vals, int(bounds[job]),
                                        int(bounds[job + 1]), bits, keys_for(epoch), V, x_max,
                                        power, alpha, clip)
            return int(bounds[job + 1] - bounds[job]), loss, count

        params = self.params()
        co_info = co.info if streamed is None else dict(streamed.info, streamed=True)

        def save(position: dict) -> str:
            return save_checkpoint(
                checkpoint, {"WS": WS, "CS": CS},
                {"trainer": "glove", "version": __version__, "params": params,
                 "corpus": fp, "position": position})

        def result(seconds: float, hist) -> GloVeResult:
            from embedkit.vectors import Vectors

            hist = history if hist is None else hist  # None: interrupted

            W, Cv = WS[:, :dim], CS[:, :dim]
            matrix = W + Cv if self.vectors == "w+c" else W.copy()
            meta = {"trainer": "embedkit.training.glove", "embedkit_version": __version__,
                    "params": params, "corpus": dict(getattr(enc, "info", {}) or {}, **fp),
                    "cooccurrence": co_info, "history": [h.as_dict() for h in hist]}
            v = Vectors(list(vocab.words), matrix, counts=np.asarray(vocab.counts),
                        metadata=meta)
            return GloVeResult(vectors=v, history=[h.as_dict() for h in hist],
                               word_vectors=W.copy(), context_vectors=Cv.copy(),
                               word_biases=WS[:, dim].copy(), context_biases=CS[:, dim].copy(),
                               cooccurrence=co_info, seconds=seconds)

        # compile (or load from the cache) before the clock starts: an empty job
        K.train_range(WS, CS, keys, vals, 0, 0, bits, keys_for(0), V, x_max, power, alpha, clip)
        res = train_and_write(
            lambda: driver.run_training(
                work, len(job_words), job_words, self.epochs, self.workers,
                lr_at=lambda progress: float(alpha), start=start, history=history,
                epoch_state=epoch_state, save=save if checkpoint is not None else None,
                checkpoint_every=checkpoint_every, log_json=log_json, desc="glove",
                unit="pairs", progress=progress),
            result, out=out, format=format, checkpoint=checkpoint)
        log.info("trained glove in %.1f s", res.seconds)
        return res


def train_glove(corpus=None, *, out=None, format=None, checkpoint=None, checkpoint_every=None,
                resume=None, log_json=None, progress=None, **params) -> GloVeResult:
    """Train GloVe vectors; a shortcut for ``GloVe(**params).fit(corpus, ...)``.

    Parameters
    ----------
    corpus : None, path, iterable of token lists, or EncodedCorpus
        ``None`` is the built-in corpus.
    out, format, checkpoint, checkpoint_every, resume, log_json, progress
        As :meth:`GloVe.fit`.
    **params
        :class:`GloVe` parameters (``dim``, ``window``, ``min_count``, ``x_max``, ``power``,
        ``alpha``, ``epochs``, ``workers``, ``seed``, ``memory``, ``vectors``, ...).

    Returns
    -------
    GloVeResult
    """
    return GloVe(**params).fit(corpus, out=out, format=format, checkpoint=checkpoint,
                               checkpoint_every=checkpoint_every, resume=resume,
                               log_json=log_json, progress=progress)
