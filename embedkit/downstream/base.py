"""What both downstream models share: embeddings and features -> encoder -> a task head.

:class:`TaskModel` builds the parameters (vocabulary, input layer, encoder, head), runs the
encoder forward and backward, swaps vectors and saves itself.  The heads
(:mod:`~embedkit.downstream.sentiment`, :mod:`~embedkit.downstream.ner`) add
``_init_head``, ``_loss_grad``, ``_dev_score`` and prediction; the epoch loop is the
:class:`~embedkit.downstream.trainer.Trainer`'s.
"""

from __future__ import annotations

import logging

import numpy as np

from embedkit.downstream import io
from embedkit.downstream.attention import AttentionPooling
from embedkit.downstream.config import ModelConfig, encoder_width
from embedkit.downstream.encoders import build_encoders, feature_width, init_encoder
from embedkit.downstream.features import Vocabulary, char_alphabet, make_batch
from embedkit.downstream.inputs import InputLayer, init_inputs
from embedkit.downstream.state import model_state
from embedkit.errors import FormatError, ParameterError

log = logging.getLogger(__name__)


def softmax(z: np.ndarray) -> np.ndarray:
    """Softmax over the last axis."""
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


class TaskModel:
    """Shared machinery of :class:`~embedkit.downstream.SentimentClassifier` and
    :class:`~embedkit.downstream.NERTagger` (not used directly)."""

    task = ""

    def __init__(self, vectors, config: ModelConfig):
        if vectors is not None:
            config.check_trainable()
        self.config = config
        self.vectors = vectors
        self.params: dict | None = None
        self.labels: list[str] = []
        self.vocab: Vocabulary | None = None
        self.alphabet: str | None = None  # characters of the char CNN (set when built)
        self.history: list[dict] = []
        self.best_dev: float | None = None

    @classmethod
    def from_config(cls, config: ModelConfig, vectors=None):
        """A model of ``config`` (for instance one read back from a ``model.json``)."""
        model = cls.__new__(cls)
        TaskModel.__init__(model, vectors, config)
        return model

    # -- construction -------------------------------------------------------------------
    def _build(self, sentences, labels):
        cfg = self.config
        if self.vectors is None:
            raise ParameterError("no vectors: pass embedkit vectors to the model to train it")
        rng = np.random.default_rng(cfg.seed)
        words = list(self.vectors.words)
        base = np.asarray(self.vectors.vectors, dtype=np.float32)
        if cfg.max_vocab:
            words, base = words[:int(cfg.max_vocab)], base[:int(cfg.max_vocab)]
        self.vocab = Vocabulary.build(words, sentences, int(cfg.oov_min_count))
        n_extra = len(self.vocab) - len(words)
        dim = base.shape[1]
        scale = float(np.std(base)) if base.size else 0.1
        emb = np.empty((len(self.vocab), dim), np.float32)
        emb[:len(words)] = base
        emb[len(words):] = rng.normal(0, scale, (n_extra, dim))
        self.labels = list(labels)
        if cfg.char_cnn:
            self.alphabet = char_alphabet(sentences)
        p = init_inputs(cfg, rng, emb, len(self.alphabet or ""))
        p.update(init_encoder(cfg, rng, feature_width(p)))
        p.update(self._init_head(rng, encoder_width(cfg)))
        self.params = p
        self._setup()

    def _setup(self, dtype=np.float32, exact=False):
        """The layers over ``params`` (after building or loading, or a dtype switch)."""
        cfg = self.config
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()
                      if k not in ("emb", "char_emb")}
        self.inputs = InputLayer(cfg, self.params, self.grads, self.vocab, self.alphabet)
        self.featurizer = self.inputs.featurizer
        # stacked layers over views of the shared parameter and gradient dicts
        self.encoders = build_encoders(cfg, self.params, self.grads, exact=exact)
        self.encoder = self.encoders[0]
        self.pooler = (AttentionPooling(self.params, self.grads, int(cfg.heads))
                       if "pool_Wq" in self.params else None)

    # -- forward / backward through the encoder -------------------------------------------
    def _forward(self, batch, rng=None):
        X, drop = self.inputs.forward(batch, rng)
        if self.config.encoder == "transformer":  # its dropout is inside
            return self.encoder.forward(X, batch["lengths"], rng), drop
        Hs = self.encoder.forward(X, batch["lengths"])
        self._layer_drops = []
        rate = float(self.config.dropout)
        for enc in self.encoders[1:]:
            mask = None
            if rng is not None and rate > 0:
                mask = self.inputs.dropout_mask(Hs.shape, Hs.dtype, rate, rng)
                Hs = Hs * mask
            self._layer_drops.append(mask)
            Hs = enc.forward(Hs, batch["lengths"])
        return Hs, drop

    def _backward(self, batch, dH, drop_in):
        """Backward through the stacked encoder layers and the input layer; returns the
        sparse row gradients of the embedding tables."""
        if self.config.encoder == "transformer":
            dX = self.encoder.backward(dH)
        else:
            for enc, mask in zip(self.encoders[:0:-1], self._layer_drops[::-1]):
                dH = enc.backward(dH)
                if mask is not None:
                    dH = dH * mask
            dX = self.encoder.backward(dH)
        return self.inputs.backward(batch, dX, drop_in)

    def _encode_all(self, sentences):
        return [self.featurizer.encode(s) for s in sentences]

    def _batch(self, enc, idx):
        return make_batch([enc[i] for i in idx], "char_emb" in self.params)

    # -- vectors and persistence ----------------------------------------------------------
    def save(self, path):
        """Write the model to directory ``path`` (``model.json`` + ``weights.npz``)."""
        if self.params is None:
            raise ParameterError("the model is not trained yet: call fit() before save()")
        io.write_model(path, model_state(self), self.params)

    def use_vectors(self, vectors):
        """Replace the pretrained rows by ``vectors`` (same dimension); learned rows stay."""
        dim = self.params["emb"].shape[1]
        if vectors.dim != dim:
            raise FormatError(f"the vectors have dimension {vectors.dim} but the model was "
                              f"trained with dimension {dim}: use vectors of dimension {dim}")
        if self.config.fine_tune:
            log.warning("the model fine-tuned its embeddings; new vectors replace them")
        old = self.vocab
        words = list(vectors.words)
        if self.config.max_vocab:
            words = words[:int(self.config.max_vocab)]
        known = set(words)
        extra = [w for w in old.words[old.n_pretrained:] if w not in known]
        vocab = Vocabulary(words + extra, len(words))
        emb = np.empty((len(vocab), dim), np.float32)
        emb[:len(words)] = vectors.vectors[:len(words)]
        for i, w in enumerate(extra):
            emb[len(words) + i] = self.params["emb"][old.index[w]]
        emb[-1] = self.params["emb"][old.unk]
        self.params["emb"] = emb
        self.vocab = vocab
        self._setup()
