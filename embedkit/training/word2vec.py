"""Skip-gram and CBOW with negative sampling: the :class:`Word2Vec` trainer and :func:`train`."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from embedkit._version import __version__
from embedkit.errors import CorpusError, FormatError, ParameterError
from embedkit._params import check_non_negative, check_positive, check_workers
from embedkit.training import driver
from embedkit._io import format_bytes
from embedkit.training._common import encoded_corpus, rng_states, split_jobs
from embedkit.training.checkpoint import (check_same_corpus, corpus_fingerprint, resume_from,
                                          save_checkpoint, start_position)
from embedkit.training.output import train_and_write, vectors_plan

log = logging.getLogger(__name__)

MODELS = {"sgns": "sgns", "sg": "sgns", "skipgram": "sgns", "skip-gram": "sgns",
          "cbow": "cbow"}
DEFAULT_ALPHA = {"sgns": 0.025, "cbow": 0.05}
#: With ``private_rows > 0`` and more than one worker, each thread updates its own copy of
#: the rows of the ``private_rows`` most frequent words and adds the change of the
#: :data:`HOT_SYNC_ROWS` most frequent to the shared rows every :data:`HOT_SYNC_WINDOWS`
#: windows, and of all at the end of each job (:mod:`embedkit._kernels.hot_rows`): the
#: threads stop trading those rows' cache lines on every write (issue 20).
HOT_SYNC_ROWS = 32
HOT_SYNC_WINDOWS = 1024


def padded_width(dim: int) -> int:
    """Row length of the kernels' weights: ``dim`` rounded up to a whole 64-byte line
    (16 floats); see :func:`padded_weights`."""
    return -(-dim // 16) * 16


def padded_weights(n_rows: int, dim: int) -> np.ndarray:
    """Zeroed float32 weights for the kernels: rows of ``dim`` rounded up to 16 floats, the
    first row on a 64-byte boundary.

    Every row then starts a cache line and its 16-float vector loads never straddle two
    lines (at ``dim = 100`` a 400-byte row starts mid-line in three rows out of four), and
    rows of neighbouring words share no line that two Hogwild threads would trade.  The
    padding columns start at zero and stay zero: every update adds a combination of rows.
    With 2 workers on a 5 M-token corpus, CBOW trained 6 % and skip-gram 4 % faster (issue
    20).  The model's vectors are the first ``dim`` columns.

    Returns
    -------
    ndarray of float32, shape (n_rows, padded_width(dim)), C-contiguous
    """
    width = padded_width(dim)
    buf = np.zeros(n_rows * width + 16, dtype=np.float32)
    skip = (-(buf.ctypes.data // 4)) % 16
    return buf[skip: skip + n_rows * width].reshape(n_rows, width)


def init_input_vectors(n_words: int, dim: int, seed: int) -> np.ndarray:
    """Initial input (word) vectors: uniform in ``[-1/dim, 1/dim)``, as gensim 4 draws them.

    word2vec.c draws from ``[-0.5/dim, 0.5/dim)``; gensim's range is twice as wide, and on a
    5 M-token corpus CBOW started from it is about a point more accurate on the Google
    analogies (issue 20).

    Parameters
    ----------
    n_words, dim : int
        Shape of the matrix.
    seed : int
        Seed of the NumPy generator.

    Returns
    -------
    ndarray of float32, shape (n_words, dim)
    """
    rng = np.random.default_rng(seed)
    w = rng.random((n_words, dim), dtype=np.float32)
    w *= np.float32(2.0)
    w -= np.float32(1.0)
    w /= np.float32(dim)
    return w


@dataclass
class TrainResult:
    """What training returns.

    Attributes
    ----------
    vectors : Vectors
        The input (word) vectors, with ``counts`` and ``metadata``.
    history : list of dict
        One record per epoch: ``epoch``, ``loss`` (mean negative-sampling loss per
        example), ``loss_sum``, ``loss_count``, ``words``, ``seconds``, ``words_per_sec``, ``lr``.
    output_vectors : ndarray
        The output (context) weight matrix, float32, same shape as ``vectors.vectors``.
    seconds : float
        Wall time spent in the training loop (this run only, when resumed).
    words_per_sec : float
        Corpus tokens x epochs trained in this run, divided by ``seconds``.
    """

    vectors: object
    history: list = field(default_factory=list)
    output_vectors: np.ndarray | None = None
    seconds: float = 0.0
    words_per_sec: float = 0.0


class Word2Vec:
    """Skip-gram (``model="sgns"``) or CBOW (``model="cbow"``) with negative sampling.

    Parameters
    ----------
    model : {"sgns", "cbow"}
        Skip-gram with negative sampling, or continuous bag of words.
    dim : int
        Vector dimension (default 100).
    window : int
        Maximum distance between a word and its context words (a random window in
        ``1..window`` is used at each position, as in word2vec.c).
    negative : int
        Negative samples per example (0 disables them).
    min_count : int
        Words rarer than this are dropped from the vocabulary (when the corpus is prepared here).
    sample : float
        Subsampling threshold of frequent words (0 disables it).
    epochs : int
        Passes over the corpus.
    alpha : float, optional
        Initial learning rate; default 0.025 for sgns and 0.05 for cbow.
    min_alpha : float
        Final learning rate (linear decay over all epochs).
    workers : int, optional
        Worker threads (default: the CPU count).  They update the shared weights without
        locks (Hogwild), as word2vec.c and gensim do.
    seed : int
        Seed of the initial vectors and of every thread's RNG.  With ``workers=1`` the same
        seed gives bit-identical vectors.
    tokenizer : str
        Tokenizer of :func:`embedkit.corpus.prepare` when a corpus is prepared here.
    lowercase : bool
        Lowercase the corpus before tokenizing (``--keep-case`` turns it off).
    words_per_job : int
        Tokens per unit of work handed to a thread.
    private_rows : int
        With more than one worker, each thread updates its own copy of the rows of this many
        most frequent words and adds its changes to the shared rows as it goes (the
        :data:`HOT_SYNC_ROWS` hottest every :data:`HOT_SYNC_WINDOWS` windows, all after each
        job), so the threads stop trading those rows' cache lines on every write.  0
        (default): plain Hogwild, as word2vec.c and gensim.  256 made 2-thread training about
        20 % faster for CBOW and 10 % for skip-gram on a 2-core Xeon, but a thread sees the
        other's changes to those rows late: on a 5 M-token corpus that cost CBOW about 0.4
        analogy points (paired seeds), on a 26 M-token one nothing measurable; for skip-gram
        the measurements disagree in sign (issue 20; ``docs/design/word2vec.md``).

    Examples
    --------
    >>> from embedkit.training import Word2Vec
    >>> result = Word2Vec(model="cbow", epochs=1).fit([["a", "b"]] * 50)   # doctest: +SKIP
    >>> result.vectors.most_similar("a")                                   # doctest: +SKIP
    """

    def __init__(self, model: str = "sgns", dim: int = 100, window: int = 5, negative: int = 5,
                 min_count: int = 5, sample: float = 1e-3, epochs: int = 5,
                 alpha: float | None = None, min_alpha: float = 1e-4, workers: int | None = None,
                 seed: int = 1, tokenizer: str = "default", lowercase: bool = True,
                 words_per_job: int = 10000, private_rows: int = 0):
        if not isinstance(model, str) or model.lower() not in MODELS:
            raise ParameterError(f"model must be 'sgns' or 'cbow', got {model!r}")
        self.model = MODELS[model.lower()]
        self.dim = int(check_positive("dim", dim, integer=True))
        self.window = int(check_positive("window", window, integer=True))
        self.negative = int(check_non_negative("negative", negative, integer=True))
        self.min_count = int(check_positive("min_count", min_count, integer=True))
        self.sample = float(check_non_negative("sample", sample))
        if self.sample >= 1:
            raise ParameterError(f"sample must be < 1 (a word-frequency threshold such as 1e-3 "
                                 f"or 1e-5; 0 turns subsampling off), got {sample}")
        self.epochs = int(check_positive("epochs", epochs, integer=True))
        if alpha is None:
            alpha = DEFAULT_ALPHA[self.model]
        self.alpha = float(check_positive("alpha", alpha))
        self.min_alpha = float(check_non_negative("min_alpha", min_alpha))
        if self.min_alpha > self.alpha:
            raise ParameterError(f"min_alpha ({self.min_alpha}) must not exceed alpha "
                                 f"({self.alpha}): lower min_alpha")
        self.workers = check_workers(workers)
        self.seed = int(check_non_negative("seed", seed, integer=True))
        self.tokenizer = tokenizer
        self.lowercase = bool(lowercase)
        self.words_per_job = int(check_positive("words_per_job", words_per_job, integer=True))
        self.private_rows = int(check_non_negative("private_rows", private_rows, integer=True))

    # -- parameters -------------------------------------------------------------------
    def params(self) -> dict:
        """The training parameters (JSON-serialisable)."""
        return {"model": self.model, "dim": self.dim, "window": self.window,
                "negative": self.negative, "min_count": self.min_count, "sample": self.sample,
                "epochs": self.epochs, "alpha": self.alpha, "min_alpha": self.min_alpha,
                "workers": self.workers, "seed": self.seed, "tokenizer": self.tokenizer,
                "lowercase": self.lowercase, "words_per_job": self.words_per_job,
                "private_rows": self.private_rows}

    def _prepare(self, corpus):
        return encoded_corpus(corpus, min_count=self.min_count, tokenizer=self.tokenizer,
                                lowercase=self.lowercase)

    # -- training ---------------------------------------------------------------------
    def fit(self, corpus=None, *, out=None, format=None, checkpoint=None,
            checkpoint_every: float | None = None, resume=None, log_json=None,
            progress: bool | None = None) -> TrainResult:
        """Train on ``corpus`` and return a :class:`TrainResult`.

        Parameters
        ----------
        corpus : None, path, iterable of token lists, or EncodedCorpus
            ``None`` trains on the built-in corpus; anything else
            :func:`embedkit.corpus.prepare` accepts, or its result.
        out : path, optional
            Also save the vectors there (format by extension, or ``format``).
        format : str, optional
            Vector file format for ``out``.
        checkpoint : path, optional
            Checkpoint path (``PATH.npz`` + ``PATH.json``); default ``OUT.ckpt`` when
            ``out`` is given.  Written every ``checkpoint_every`` seconds and on Ctrl-C,
            and deleted once the run finishes and its vectors are written to ``out``.
        checkpoint_every : float, optional
            Seconds between checkpoints.
        resume : path, optional
            Continue from a checkpoint (its parameters replace this object's).
        log_json : path, optional
            Append one JSON line per progress tick.
        progress : bool, optional
            Show the progress bar (default: embedkit's global setting).
        """
        out, checkpoint = vectors_plan(out, format, checkpoint, checkpoint_every)

        state = arrays = None
        if resume is not None:
            # the thread layout stays the caller's
            arrays, state = resume_from(self, resume, "word2vec", "word2vec",
                                        skip=("workers", "private_rows"))

        enc = self._prepare(corpus)
        vocab = enc.vocab
        # a sharded directory is trained shard by shard, memory-mapped, never joined
        shards = list(enc.shards) if hasattr(enc, "shards") else [(enc.ids, enc.offsets)]
        n_tokens = int(sum(len(s_ids) for s_ids, _ in shards))
        n_sentences = int(sum(len(s_off) - 1 for _, s_off in shards))
        if len(vocab) == 0 or n_tokens == 0:
            raise CorpusError(f"the vocabulary is empty: no word occurs at least "
                              f"min_count={self.min_count} times; lower --min-count or "
                              "give a bigger corpus")
        fp = corpus_fingerprint(enc)
        check_same_corpus(state, fp, resume)

        V, dim = len(vocab), self.dim
        width = padded_width(dim)
        log.info("%s: %d words, %d tokens, %d sentences; weights %s (2 x %d x %d float32, "
                 "rows padded to %d) + encoded corpus %s", self.model, V, n_tokens, n_sentences,
                 format_bytes(2 * V * width * 4), V, dim, width,
                 format_bytes(sum(i.nbytes + o.nbytes for i, o in shards)))

        from embedkit._kernels import word2vec as K
        from embedkit._kernels.hot_rows import hot_block_base, hot_load

        # each thread's private rows below the vocabulary's (kernels' ``hot`` argument)
        hot = min(V, self.private_rows) if self.workers > 1 else 0
        # rows padded to whole 64-byte lines (zeros that stay zero): see padded_weights
        x_in = padded_weights(V + 2 * hot * self.workers, dim)
        x_out = padded_weights(V + 2 * hot * self.workers, dim)
        w_in, w_out = x_in[:V, :dim], x_out[:V, :dim]
        if state is None:
            w_in[:] = init_input_vectors(V, dim, self.seed)
            states = rng_states(self.seed, self.workers)
        else:
            from embedkit import _validate as Vd

            for k in ("w_in", "w_out"):
                Vd.check_array(arrays.get(k), file=resume, name=k, shape=(V, dim), kind="f",
                               finite=True, fix="resume with the same corpus and options")
            Vd.check_array(arrays.get("rng"), file=resume, name="rng", shape=(None,),
                           kind="u", fix="resume with the same corpus and options")
            if len(arrays["rng"]) == 0:
                raise FormatError(f"{resume}: array 'rng' is empty")
            w_in[:] = arrays["w_in"]
            w_out[:] = arrays["w_out"]
            states = np.asarray(arrays["rng"], dtype=np.uint64)
            if len(states) < self.workers:  # more threads than before: extend the states
                extra = rng_states(int(states[-1] % (1 << 62)), self.workers - len(states))
                states = np.concatenate([states, extra])
            states = np.ascontiguousarray(states[: max(self.workers, 1)])
        start, history, epoch_state = start_position(state)

        keep = np.ascontiguousarray(vocab.keep_probabilities(self.sample), dtype=np.float32)
        cdf = np.asarray(vocab.noise_cdf(0.75), dtype=np.float64)
        p = np.diff(cdf, prepend=0.0)
        p = np.clip(p, 0.0, None)
        p /= p.sum()
        alias_prob, alias_idx = K.build_alias(p)

        shard_arrays, jobs, shard_words, base = [], [], [], 0
        for s_ids, s_off in shards:
            s_ids = s_ids if s_ids.dtype == np.int32 else s_ids.astype(np.int32)
            s_off = np.ascontiguousarray(s_off, dtype=np.int64)
            s_bounds = split_jobs(s_off, self.words_per_job)
            k = len(shard_arrays)
            shard_arrays.append((s_ids, s_off, base))
            jobs += [(k, int(b0), int(b1)) for b0, b1 in zip(s_bounds[:-1], s_bounds[1:])]
            shard_words.append(s_off[s_bounds[1:]] - s_off[s_bounds[:-1]])
            base += len(s_ids)
        job_words = np.concatenate(shard_words).astype(np.int64)
        ids, offsets = shard_arrays[0][0], shard_arrays[0][1]
        # each kernel with its sigmoid table (CBOW's is word2vec.c's, as gensim reads it)
        kernel, tables = ((K.sgns_job, {}) if self.model == "sgns"
                          else (K.cbow_job, K.CBOW_TABLE))
        sig, nls = K.make_tables(**tables)
        for t in range(self.workers if hot else 0):  # each thread's copies start as the rows
            base = hot_block_base(V, hot, t)
            hot_load(x_in, hot, base)
            hot_load(x_out, hot, base)
        hot_args = (hot, min(hot, HOT_SYNC_ROWS), HOT_SYNC_WINDOWS)  # the kernels' last three
        alpha, min_alpha = float(self.alpha), float(self.min_alpha)
        window, negative = int(self.window), int(self.negative)
        total_pos = int(self.epochs) * n_tokens

        def work(epoch: int, job: int, thread: int):
            k, b0, b1 = jobs[job]
            s_ids, s_off, s_base = shard_arrays[k]
            return kernel(s_ids, s_off, b0, b1, x_in, x_out,
                          keep, alias_prob, alias_idx, window, negative, alpha, min_alpha,
                          int(epoch) * n_tokens + s_base, total_pos, states, int(thread), sig,
                          nls, *hot_args)

        def lr_at(progress: float) -> float:
            return max(min_alpha, alpha - (alpha - min_alpha) * progress)

        params = self.params()

        def save(position: dict) -> str:
            return save_checkpoint(
                checkpoint, {"w_in": w_in, "w_out": w_out, "rng": states},
                {"trainer": "word2vec", "version": __version__, "params": params,
                 "corpus": fp, "position": position})

        def result(seconds: float, hist) -> TrainResult:
            from embedkit.vectors import Vectors

            words = 0 if hist is None else total_pos - done_before  # None: interrupted
            hist = history if hist is None else hist

            meta = {"trainer": "embedkit.training.word2vec", "embedkit_version": __version__,
                    "params": params, "corpus": dict(getattr(enc, "info", {}) or {}, **fp),
                    "history": [h.as_dict() for h in hist]}
            v = Vectors(list(vocab.words), np.ascontiguousarray(w_in),
                        counts=np.asarray(vocab.counts), metadata=meta)
            return TrainResult(vectors=v, history=[h.as_dict() for h in hist],
                               output_vectors=np.ascontiguousarray(w_out), seconds=seconds,
                               words_per_sec=words / max(seconds, 1e-9))

        # compile (or load from the cache) before the clock starts: an empty job
        kernel(ids, offsets, 0, 0, x_in, x_out, keep, alias_prob, alias_idx, window, negative,
               alpha, min_alpha, 0, max(total_pos, 1), states, 0, sig, nls, *hot_args)
        done_before = start[0] * n_tokens + int(job_words[: start[1]].sum())
        res = train_and_write(
            lambda: driver.run_training(
                work, len(job_words), job_words, self.epochs, self.workers, lr_at=lr_at,
                start=start, history=history, epoch_state=epoch_state,
                save=save if checkpoint is not None else None,
                checkpoint_every=checkpoint_every, log_json=log_json,
                desc=self.model, unit="w", progress=progress),
            result, out=out, format=format, checkpoint=checkpoint)
        log.info("trained %s in %.1f s (%.0f words/s)", self.model, res.seconds,
                 res.words_per_sec)
        return res


def train(corpus=None, model: str = "sgns", *, out=None, format=None, checkpoint=None,
          checkpoint_every=None, resume=None, log_json=None, progress=None,
          **params) -> TrainResult:
    """Train skip-gram or CBOW vectors; a shortcut for ``Word2Vec(model, ...).fit(corpus)``.

    Parameters
    ----------
    corpus : None, path, iterable of token lists, or EncodedCorpus
        ``None`` is the built-in corpus.
    model : {"sgns", "cbow", "glove"}
        ``"glove"`` hands everything to :func:`embedkit.training.glove.train_glove`.
    out, format, checkpoint, checkpoint_every, resume, log_json, progress
        As :meth:`Word2Vec.fit`.
    **params
        :class:`Word2Vec` parameters (``dim``, ``window``, ``negative``, ``min_count``,
        ``sample``, ``epochs``, ``alpha``, ``min_alpha``, ``workers``, ``seed``, ``tokenizer``).

    Returns
    -------
    TrainResult or GloVeResult
        With ``.vectors`` (a :class:`~embedkit.Vectors`) and ``.history``.

    Examples
    --------
    >>> import embedkit
    >>> result = embedkit.train(model="sgns", epochs=1)      # doctest: +SKIP
    >>> result.vectors.most_similar("king")                   # doctest: +SKIP
    """
    if isinstance(model, str) and model.lower() == "glove":
        from embedkit.training.glove import train_glove

        return train_glove(corpus, out=out, format=format, checkpoint=checkpoint,
                           checkpoint_every=checkpoint_every, resume=resume,
                           log_json=log_json, progress=progress, **params)
    return Word2Vec(model=model, **params).fit(
        corpus, out=out, format=format, checkpoint=checkpoint,
        checkpoint_every=checkpoint_every, resume=resume, log_json=log_json, progress=progress)
