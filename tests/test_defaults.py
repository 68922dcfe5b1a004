"""Python and the shell train the same model by default: every option of a ``train`` command
that is a keyword of the library class it calls has the library's default (issue 14)."""

import inspect
import re

import click
import pytest

from embedkit.cli.main import cli
from embedkit.downstream import NERTagger, SentimentClassifier, presets
from embedkit.training import GloVe, Word2Vec

# keywords that are not CLI options: data and progress, and what the CLI does not offer
NOT_OPTIONS = {"vectors", "progress", "dev_texts", "dev_labels", "dev_sentences", "dev_tags"}


def _options(*path):
    """``({name: default}, {name: option})`` of command ``path`` (defaults as click
    resolves them: a flag without one is False)."""
    cmd = cli
    for name in path:
        cmd = cmd.get_command(None, name)
    ctx = click.Context(cmd)
    return {p.name: p.get_default(ctx) for p in cmd.params}, {p.name: p for p in cmd.params}


def _defaults(*functions):
    """Keyword defaults of ``functions`` (the first that has a keyword wins)."""
    out = {}
    for fn in functions:
        for name, p in inspect.signature(fn).parameters.items():
            if p.default is not inspect.Parameter.empty:
                out.setdefault(name, p.default)
    return out


def _cli_value(option, value):
    """A click default as the library spells it (``--char-cnn-width 3,5`` is ``(3, 5)``)."""
    if option == "char_cnn_width" and isinstance(value, str):
        widths = tuple(int(w) for w in value.split(","))
        return widths[0] if len(widths) == 1 else widths
    return value


@pytest.mark.parametrize("command, cls, preset, not_offered", [
    ("sentiment", SentimentClassifier, presets.SENTIMENT, set()),
    ("ner", NERTagger, presets.NER, {"char_nmax"}),
])
def test_downstream_train_defaults_are_the_library_defaults(command, cls, preset, not_offered):
    lib = _defaults(cls.__init__, cls.fit)
    cli_defaults, _ = _options(command, "train")
    assert set(lib) - set(cli_defaults) - NOT_OPTIONS == not_offered
    differ = {name: (_cli_value(name, cli_defaults[name]), lib[name])
              for name in sorted(set(cli_defaults) & set(lib))
              if _cli_value(name, cli_defaults[name]) != lib[name]}
    assert not differ, f"CLI default != Python default: {differ}"
    # and the library's defaults are the preset's
    fields = dict(preset.config.to_dict(), **preset.fit_options())
    assert {k: v for k, v in lib.items() if k in fields} == \
        {k: (tuple(v) if isinstance(v, list) else v) for k, v in fields.items() if k in lib}


def test_python_ner_defaults_are_the_benchmarked_recipe():
    m = NERTagger()
    c = m.config
    assert (c.hidden, c.layers, c.crf, c.variational, c.case_dim, c.char_cnn) == \
        (256, 2, True, True, 8, 50)
    fit = _defaults(NERTagger.fit)
    assert (fit["epochs"], fit["lr"], fit["clip"], fit["average"], fit["lr_decay"]) == \
        (16, 2e-3, 1.0, 0.9995, 0.05)


def test_word2vec_and_glove_train_defaults_are_the_library_defaults():
    """``embedkit train``: an option with a fixed default has the library's (the same for
    Word2Vec and GloVe where both take it); an option left unset (None) lets the library
    choose, and its help names the library's defaults."""
    w2v, glove = _defaults(Word2Vec.__init__), _defaults(GloVe.__init__)
    cli_defaults, params = _options("train")
    cli_defaults["lowercase"] = not cli_defaults.pop("keep_case")
    checked = 0
    for name, default in cli_defaults.items():
        libs = [d[name] for d in (w2v, glove) if name in d]
        if not libs:
            continue
        checked += 1
        p = params.get(name)
        if default is None:
            shown = re.search(r"\[default: ([^\]]*)\]", p.help or "")
            for value in libs:
                if value is not None:
                    text = f"{value:g}" if isinstance(value, float) else str(value)
                    assert shown and text in shown.group(1), (name, value, p.help)
        else:
            assert all(default == v for v in libs), (name, default, libs)
    assert checked >= 12
