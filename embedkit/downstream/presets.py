"""Named configurations of the downstream models: options and training schedule together.

The defaults of :class:`~embedkit.downstream.SentimentClassifier` and
:class:`~embedkit.downstream.NERTagger` (constructor and ``fit``) are the ``sentiment`` and
``ner`` presets, and ``embedkit sentiment train`` / ``embedkit ner train`` read their option
defaults from the same presets, so Python and the shell train the same model by default.

>>> from embedkit.downstream import NERTagger, presets
>>> p = presets.get("ner-small")
>>> tagger = NERTagger.from_config(p.config.replace(hidden=32), vectors)     # doctest: +SKIP
>>> tagger.fit(sentences, tags, **p.fit_options(epochs=5))                  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from embedkit.downstream.config import ModelConfig, Schedule
from embedkit.errors import ParameterError


@dataclass(frozen=True)
class Preset:
    """A named model configuration and the schedule it is trained with."""

    name: str
    description: str
    config: ModelConfig
    schedule: Schedule

    def fit_options(self, **changes) -> dict:
        """The schedule as keyword arguments of ``fit`` (with ``changes`` applied)."""
        opts = dataclasses.asdict(self.schedule)
        opts.pop("progress")
        unknown = set(changes) - set(opts) - {"progress"}
        if unknown:
            raise ParameterError(f"unknown fit option(s) {sorted(unknown)}; "
                                 f"valid: {sorted(opts)}")
        return dict(opts, **changes)


SENTIMENT = Preset(
    "sentiment",
    "One BiGRU layer of 128 units per direction over frozen vectors, max+mean pooling, "
    "dropout 0.5; Adam lr 0.001, up to 10 epochs.",
    ModelConfig(),
    Schedule(epochs=10, lr=1e-3, clip=5.0))

NER = Preset(
    "ner",
    "The WikiANN recipe of docs/benchmarks/downstream.md with frozen vectors: two BiGRU "
    "layers of 256 units, variational dropout, casing features, a char CNN of 50 filters, "
    "a CRF; Adam lr 0.002 decayed by 1 / (1 + 0.05 (epoch - 1)), clip 1, weight average "
    "0.9995, up to 16 epochs.",
    ModelConfig(hidden=256, case_dim=8, char_cnn=50, layers=2, variational=True, crf=True),
    Schedule(epochs=16, lr=2e-3, clip=1.0, average=0.9995, lr_decay=0.05))

NER_SMALL = Preset(
    "ner-small",
    "A quick tagger: one BiGRU layer of 128 units, word features only, per-token softmax; "
    "Adam lr 0.001, up to 20 epochs.",
    ModelConfig(),
    Schedule(epochs=20, lr=1e-3, clip=5.0))

PRESETS = {p.name: p for p in (SENTIMENT, NER, NER_SMALL)}


def get(name: str) -> Preset:
    """The preset called ``name`` (ParameterError listing the names otherwise)."""
    try:
        return PRESETS[name]
    except KeyError:
        raise ParameterError(f"unknown preset {name!r}; presets: {', '.join(PRESETS)}") from None
