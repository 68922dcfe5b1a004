"""The options of a downstream model, as one frozen, validated :class:`ModelConfig`, and
how it is trained, as a frozen :class:`Schedule`; the checks of the encoder options.

This module imports no kernels, so the CLI reads the presets built from it at start-up.

The field defaults are the small model every option of a saved ``model.json`` falls back
to when the file predates it (a file without ``crf`` is a softmax tagger); the classes
:class:`~embedkit.downstream.SentimentClassifier` and :class:`~embedkit.downstream.NERTagger`
take the fields as keyword arguments with their own defaults.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, fields

from embedkit._params import check_fraction, check_non_negative, check_positive
from embedkit.errors import ParameterError

ENCODERS = ("gru", "lstm", "rnn", "transformer")
POOLINGS = ("maxmean", "max", "mean", "attention")
# what model.json's "config" holds besides the options: facts of the trained model
DERIVED = ("dim", "n_pretrained", "alphabet")


def cnn_widths(width) -> list[int]:
    """Char CNN window widths: ``width`` is one int or a list of ints (one filter bank each)."""
    try:
        if isinstance(width, (list, tuple)):
            return [int(w) for w in width]
        return [int(width)]
    except (TypeError, ValueError):
        raise ParameterError(f"char_cnn_width must be an odd number or a list of odd numbers "
                             f"(3 is usual), got {width!r}") from None


def cnn_names(i: int) -> tuple[str, str]:
    """Parameter names of filter bank ``i`` (bank 0 keeps the single-width names)."""
    return ("cnn_W", "cnn_b") if i == 0 else (f"cnn_W_{i}", f"cnn_b_{i}")


def check_heads(width: int, heads: int, what: str = "the model width") -> None:
    """A :class:`ParameterError` unless ``heads`` >= 1 divides ``width``."""
    if int(heads) < 1:
        raise ParameterError(f"heads must be >= 1, got {heads}")
    if width % int(heads):
        divisors = [h for h in range(1, min(width, 16) + 1) if width % h == 0]
        raise ParameterError(f"heads ({heads}) must divide {what} ({width}) so every head "
                             f"gets width / heads features; use one of {divisors}, or change "
                             f"--hidden")


def check_encoder(kind) -> str:
    """``kind`` if it names an encoder, else a :class:`ParameterError` listing them."""
    if kind not in ENCODERS:
        raise ParameterError(f"encoder must be one of {', '.join(ENCODERS)}, got {kind!r}")
    return kind


def encoder_width(cfg) -> int:
    """Features per position the encoder of config ``cfg`` outputs."""
    if cfg.get("encoder", "gru") == "transformer":
        return int(cfg["hidden"])
    return 2 * int(cfg["hidden"])


def ff_dim(cfg) -> int:
    """The Transformer's feed-forward width: ``ff_dim``, or ``2 * hidden`` when unset."""
    f = cfg.get("ff_dim")
    return 2 * int(cfg["hidden"]) if f is None else int(f)


def check_encoder_options(cfg) -> None:
    """Validate the encoder options of a model config (ParameterError naming the fix)."""
    kind = check_encoder(cfg.get("encoder", "gru"))
    heads = cfg.get("heads", 4)
    if not isinstance(heads, int) or heads < 1:
        raise ParameterError(f"heads must be an integer >= 1, got {heads!r}")
    if kind == "transformer":
        check_heads(int(cfg["hidden"]), heads, "the Transformer width --hidden")
        if ff_dim(cfg) < 1:
            raise ParameterError(f"ff_dim must be >= 1 (or unset: 2 x hidden), got "
                                 f"{cfg.get('ff_dim')}")
    check_fraction("transformer_dropout", cfg.get("transformer_dropout", 0.1))


def check_pooling_heads(cfg) -> None:
    """For a model to be trained with attention pooling: ``heads`` divides the encoder width
    (checked at construction; a loaded model's pooling is checked when it is set up)."""
    if cfg.get("pooling") == "attention":
        check_heads(encoder_width(cfg), cfg.get("heads", 4), "the encoder output width")


@dataclass(frozen=True)
class ModelConfig:
    """Every option of a downstream model (validated on construction).

    Read as attributes (``config.hidden``); ``config["hidden"]`` and ``config.get`` work
    too, so encoder helpers take a config or the ``dict`` of a ``model.json``.
    See :class:`~embedkit.downstream.NERTagger` for what each option does.
    """

    hidden: int = 128
    dropout: float = 0.5
    input_dropout: float = 0.5
    fine_tune: bool = False
    oov_min_count: int = 2
    case_dim: int = 0
    char_buckets: int = 0
    char_dim: int = 32
    char_nmax: int = 4
    pooling: str = "maxmean"
    max_vocab: int | None = None
    seed: int = 0
    threads: int = 2
    crf: bool = False
    char_cnn: int = 0
    char_cnn_dim: int = 25
    char_cnn_width: int | tuple[int, ...] = 3
    word_dropout: float = 0.0
    layers: int = 1
    variational: bool = False
    encoder: str = "gru"
    heads: int = 4
    ff_dim: int | None = None
    transformer_dropout: float = 0.1

    def __post_init__(self):
        if isinstance(self.char_cnn_width, list):
            object.__setattr__(self, "char_cnn_width", tuple(self.char_cnn_width))
        self._validate()

    # read access by name, as for the dict of a saved model.json
    def __getitem__(self, key):
        if key not in _FIELDS:
            raise KeyError(key)
        return getattr(self, key)

    def get(self, key, default=None):
        return getattr(self, key) if key in _FIELDS else default

    def replace(self, **changes) -> "ModelConfig":
        """A copy with ``changes`` applied (validated again)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        """The options as JSON types (``char_cnn_width`` a list when it has several widths)."""
        out = {f: getattr(self, f) for f in _FIELDS}
        if isinstance(out["char_cnn_width"], tuple):
            out["char_cnn_width"] = list(out["char_cnn_width"])
        return out

    @classmethod
    def from_dict(cls, options: dict) -> "ModelConfig":
        """The config of a saved model: unknown keys are a ``ParameterError``, missing ones
        take the field defaults (files written before the option existed)."""
        unknown = set(options) - set(_FIELDS)
        if unknown:
            raise ParameterError(f"unknown option(s) {sorted(unknown)}; valid: {sorted(_FIELDS)}")
        return cls(**options)

    def _validate(self) -> None:
        check_positive("hidden", self.hidden, integer=True)
        check_fraction("dropout", self.dropout)
        check_fraction("input_dropout", self.input_dropout)
        check_positive("oov_min_count", self.oov_min_count, integer=True)
        check_non_negative("char_buckets", self.char_buckets, integer=True, hint=" (0 disables)")
        check_positive("char_dim", self.char_dim, integer=True)
        check_non_negative("char_cnn", self.char_cnn, integer=True, hint=" (0 disables)")
        check_positive("char_cnn_dim", self.char_cnn_dim, integer=True)
        widths = cnn_widths(self.char_cnn_width)
        if not widths or any(w < 1 or w % 2 == 0 for w in widths) or len(set(widths)) < len(widths):
            raise ParameterError(f"char_cnn_width must be an odd number >= 1 or a list of distinct "
                                 f"odd numbers (3 is usual; [3, 5] two banks of filters), "
                                 f"got {self.char_cnn_width}")
        check_fraction("word_dropout", self.word_dropout)
        check_non_negative("case_dim", self.case_dim, integer=True, hint=" (0 disables)")
        if self.pooling not in POOLINGS:
            raise ParameterError(f"pooling must be maxmean, max, mean or attention, "
                                 f"got {self.pooling!r}")
        check_positive("layers", self.layers, integer=True)
        check_positive("threads", self.threads, integer=True)
        check_encoder_options(self)

    def check_trainable(self) -> None:
        """Rules that apply to a model about to be trained (a loaded model's pooling heads
        are checked when it is set up)."""
        check_pooling_heads(self)


_FIELDS = tuple(f.name for f in fields(ModelConfig))


def config_from(arguments: dict) -> ModelConfig:
    """The config of the options among ``arguments`` (a constructor's ``locals()``)."""
    return ModelConfig(**{k: v for k, v in arguments.items() if k in _FIELDS})


@dataclass(frozen=True)
class Schedule:
    """How a model is trained (see ``fit`` of the model classes for each option)."""

    epochs: int = 10
    batch_size: int = 32
    lr: float = 1e-3
    patience: int = 3
    clip: float = 5.0
    evals_per_epoch: int = 1
    progress: bool = True
    average: float = 0.0
    lr_decay: float = 0.0

    def __post_init__(self):
        check_positive("epochs", self.epochs, integer=True)
        check_positive("batch_size", self.batch_size, integer=True)
        check_positive("patience", self.patience, integer=True)
        check_positive("evals_per_epoch", self.evals_per_epoch, integer=True)
        check_non_negative("lr_decay", self.lr_decay,
                           hint=" (0 keeps the learning rate constant; 0.05 is usual)")
