"""The options of a downstream model, as one frozen, validated :class:`ModelConfig`.

The field defaults are the small model every option of a saved ``model.json`` falls back
to when the file predates it (a file without ``crf`` is a softmax tagger); the classes
:class:`~embedkit.downstream.SentimentClassifier` and :class:`~embedkit.downstream.NERTagger`
take the fields as keyword arguments with their own defaults.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, fields

from embedkit.downstream.encoders import check_encoder_options, check_pooling_heads
from embedkit.errors import ParameterError

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
        if int(self.hidden) < 1:
            raise ParameterError(f"hidden must be >= 1, got {self.hidden}")
        for k in ("dropout", "input_dropout"):
            if not 0 <= float(getattr(self, k)) < 1:
                raise ParameterError(f"{k} must be in [0, 1), got {getattr(self, k)}")
        if int(self.oov_min_count) < 1:
            raise ParameterError(f"oov_min_count must be >= 1, got {self.oov_min_count}")
        if int(self.char_buckets) < 0 or int(self.char_dim) < 1:
            raise ParameterError("char_buckets must be >= 0 (0 disables) and char_dim >= 1, got "
                                 f"{self.char_buckets}, {self.char_dim}")
        if int(self.char_cnn) < 0 or int(self.char_cnn_dim) < 1:
            raise ParameterError("char_cnn (filters) must be >= 0 (0 disables) and char_cnn_dim "
                                 f">= 1, got {self.char_cnn}, {self.char_cnn_dim}")
        widths = cnn_widths(self.char_cnn_width)
        if not widths or any(w < 1 or w % 2 == 0 for w in widths) or len(set(widths)) < len(widths):
            raise ParameterError(f"char_cnn_width must be an odd number >= 1 or a list of distinct "
                                 f"odd numbers (3 is usual; [3, 5] two banks of filters), "
                                 f"got {self.char_cnn_width}")
        if not 0 <= float(self.word_dropout) < 1:
            raise ParameterError(f"word_dropout must be in [0, 1), got {self.word_dropout}")
        if int(self.case_dim) < 0:
            raise ParameterError(f"case_dim must be >= 0 (0 disables), got {self.case_dim}")
        if self.pooling not in POOLINGS:
            raise ParameterError(f"pooling must be maxmean, max, mean or attention, "
                                 f"got {self.pooling!r}")
        if int(self.layers) < 1:
            raise ParameterError(f"layers must be >= 1, got {self.layers}")
        if int(self.threads) < 1:
            raise ParameterError(f"threads must be >= 1, got {self.threads}")
        check_encoder_options(self)

    def check_trainable(self) -> None:
        """Rules that apply to a model about to be trained (a loaded model's pooling heads
        are checked when it is set up)."""
        check_pooling_heads(self)


_FIELDS = tuple(f.name for f in fields(ModelConfig))


def config_from(arguments: dict) -> ModelConfig:
    """The config of the options among ``arguments`` (a constructor's ``locals()``)."""
    return ModelConfig(**{k: v for k, v in arguments.items() if k in _FIELDS})
