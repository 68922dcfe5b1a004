"""What the ``sentiment`` and ``ner`` commands share: their data and model arguments, the
training options (with a preset's defaults: the library's too), answering texts in input
order, loading a model directory, and finding and loading the vectors (also for ``lm``)."""

from __future__ import annotations

import functools
import logging
import sys

import click

from embedkit.cli._base import echo_json, input_file, stack

log = logging.getLogger(__name__)

VECTORS_HELP = ("Word vectors (word2vec .bin/.txt, GloVe, fastText .vec, .ekv); default "
                "$EMBEDKIT_VECTORS, else the packaged default vectors.")

#: a dropout rate: [0, 1)
RATE = click.FloatRange(0, 1, max_open=True)

#: ``--vectors`` of the commands that apply a trained model
replace_vectors_option = click.option("--vectors", default=None, metavar="PATH",
                                      help="Replace the model's vectors (same dimension).")


def preset_option(defaults, flag: str, type=None, help: str = "", **kwargs):
    """``click.option(flag)`` whose default, shown in ``--help``, is the field of ``defaults``
    (a preset's ``config`` or ``schedule``) the flag names: ``--char-dim`` -> ``char_dim``,
    ``--crf/--softmax`` -> ``crf``."""
    field = flag.split("/")[0].lstrip("-").replace("-", "_")
    return click.option(flag, default=getattr(defaults, field), show_default=True, type=type,
                        help=help, **kwargs)


def data_options(train_help: str, dev_help: str):
    """``--vectors``, ``--train``, ``--dev`` and ``--out`` of a ``train`` command."""
    return stack(
        click.option("--vectors", "vectors_path", default=None, metavar="PATH",
                     help=VECTORS_HELP),
        click.option("--train", "train_path", required=True, type=input_file(dir_okay=False),
                     metavar="FILE", help=train_help),
        click.option("--dev", "dev_path", default=None, type=input_file(dir_okay=False),
                     metavar="FILE", help=dev_help),
        click.option("--out", required=True, metavar="DIR",
                     help="Model directory to write (checked before training)."))


def apply_arguments(json_help: str):
    """MODEL, TEXTS, ``--vectors`` and ``--json`` of a command answering texts."""
    return stack(click.argument("model"), click.argument("texts", nargs=-1, required=True),
                 replace_vectors_option,
                 click.option("--json", "as_json", is_flag=True, help=json_help))


def evaluate_arguments(column_options):
    """MODEL, FILE, ``--json``, the file's ``column_options`` and ``--vectors`` of an
    ``evaluate`` command."""
    return stack(click.argument("model"), click.argument("file"),
                 click.option("--json", "as_json", is_flag=True, help="Print one JSON object."),
                 column_options, replace_vectors_option)


def training_options(preset):
    """The options every ``train`` command shares, with the defaults of ``preset`` (a
    :class:`~embedkit.downstream.presets.Preset`: the library's defaults too)."""
    return functools.partial(_add_training_options, preset=preset)


def _add_training_options(f, *, preset):
    c, s = preset.config, preset.schedule
    opts = [
        click.option("--epochs", default=s.epochs, show_default=True, type=click.IntRange(min=1),
                     help="Passes over the training data (at most)."),
        click.option("--batch-size", default=s.batch_size, show_default=True,
                     type=click.IntRange(min=1),
                     help="Examples per gradient step."),
        click.option("--lr", default=s.lr, show_default=True,
                     type=click.FloatRange(min=0, min_open=True), help="Adam step size."),
        click.option("--encoder", default=c.encoder, show_default=True,
                     type=click.Choice(["gru", "lstm", "rnn", "transformer"]),
                     help="Sequence encoder: bidirectional GRU, LSTM or plain (tanh) RNN, or "
                          "a pre-layer-norm Transformer encoder."),
        click.option("--hidden", default=c.hidden, show_default=True, type=click.IntRange(min=1),
                     help="Recurrent units per direction, or the Transformer's width."),
        click.option("--heads", default=c.heads, show_default=True, type=click.IntRange(min=1),
                     help="Attention heads (Transformer, --pooling attention); must divide "
                          "the width."),
        click.option("--ff-dim", default=c.ff_dim, type=click.IntRange(min=1),
                     help="Transformer feed-forward units [default: 2 x --hidden]."),
        click.option("--transformer-dropout", default=c.transformer_dropout, show_default=True,
                     type=RATE,
                     help="Dropout inside the Transformer (input and residual branches)."),
        click.option("--dropout", default=c.dropout, show_default=True, type=RATE,
                     help="Dropout before the output layer."),
        click.option("--input-dropout", default=c.input_dropout, show_default=True, type=RATE,
                     help="Dropout on the input features."),
        click.option("--fine-tune/--frozen", default=c.fine_tune, show_default=True,
                     help="Update the pretrained embeddings too, or keep them fixed."),
        click.option("--oov-min-count", default=c.oov_min_count, show_default=True,
                     type=click.IntRange(min=1),
                     help="Training words missing from the vectors seen this often get a "
                          "learned embedding (others map to UNK)."),
        click.option("--max-vocab", default=c.max_vocab, type=click.IntRange(min=1), metavar="N",
                     help="Keep only the first N rows of the vectors (the model stores the "
                          "rows it keeps: see the note in --help)."),
        click.option("--patience", default=s.patience, show_default=True,
                     type=click.IntRange(min=1),
                     help="Stop after this many dev evaluations without improvement."),
        click.option("--evals-per-epoch", default=s.evals_per_epoch, show_default=True,
                     type=click.IntRange(min=1),
                     help="Dev evaluations per epoch (for early stopping)."),
        click.option("--clip", default=s.clip, show_default=True, type=click.FloatRange(min=0),
                     help="Gradient-norm clipping (0 off)."),
        click.option("--seed", default=c.seed, show_default=True, type=int,
                     help="Random seed (initialisation, dropout, batch order)."),
        click.option("--threads", default=c.threads, show_default=True, type=click.IntRange(1, 2),
                     help="1 or 2 (the two recurrent directions run in parallel)."),
    ]
    return stack(*opts)(f)


def save_and_report(model, out, dev_metric):
    """Save a trained model to ``out`` and print where (with its best dev score, if any)."""
    model.save(out)
    if dev_metric:
        click.echo(f"dev {dev_metric} {model.best_dev:.4f}; model saved to {out}")
    else:
        click.echo(f"model saved to {out}")


def read_texts(texts):
    """``(raw, tokens)`` of the TEXT arguments, or of the lines of stdin for ``-``."""
    from embedkit.downstream import tokenize

    if list(texts) == ["-"]:
        lines = [line.rstrip("\n").rstrip("\r") for line in sys.stdin]
        return lines, [tokenize(line) for line in lines]
    return list(texts), [tokenize(t) for t in texts]


def apply_each(texts, predict, show, show_error):
    """Run ``predict`` on every non-empty text (one batch) and ``show`` each answer in input
    order; an empty text is reported in its place by ``show_error``, and the command exits 1
    at the end if any was."""
    from embedkit.errors import EmbedkitError

    raw, toks = read_texts(texts)
    stdin = list(texts) == ["-"]
    good = [i for i, t in enumerate(toks) if t]
    answers = dict(zip(good, predict([toks[i] for i in good]))) if good else {}
    for i, text in enumerate(raw):
        if i in answers:
            show(text, toks[i], answers[i])
        else:
            where = f"line {i + 1}" if stdin else f"text {i + 1}"
            show_error(text, f"{where} is empty: give words to "
                             f"{'classify' if predict.__name__ != 'tag' else 'tag'}")
    failed = len(raw) - len(good)
    if failed:
        raise EmbedkitError(f"{failed} of {len(raw)} texts were empty (each is reported in "
                            "its place); the others were answered")


def error_shower(as_json):
    """How a command reports an empty text in its place (a JSON record, or stderr)."""

    def show_error(text, message):
        if as_json:
            echo_json({"text": text, "error": message})
        else:
            click.echo(f"Error: {message}", err=True)
    return show_error


def load_model_dir(model, vectors, task="sentiment"):
    """The model directory MODEL, checked to hold a ``task`` model before ``--vectors`` load."""
    from embedkit.downstream import load_model

    m = load_model(model, task=task)
    if vectors:
        m.use_vectors(load_vectors(vectors))
    return m


def resolve_and_load_vectors(path: str | None):
    """Vectors from ``--vectors``, else ``$EMBEDKIT_VECTORS``, else the packaged default
    (the same resolution as every other command, :mod:`embedkit.vectors.default`)."""
    from embedkit.vectors.default import load_vectors as _load

    vectors, where = _load(path)
    log.info("vectors: %s (%d words, dim %d)", where, len(vectors), vectors.dim)
    return vectors


def check_vectors_source(path: str | None) -> str:
    """Before any long work: the vectors ``--vectors`` / ``$EMBEDKIT_VECTORS`` / the default
    name exist and look like vectors (the format is sniffed from the first bytes; the
    full read comes later).  Returns the path."""
    from embedkit.vectors.default import find_vectors, is_packed
    from embedkit.vectors.loader import detect_format

    where, _ = find_vectors(path)
    if not is_packed(where):
        detect_format(where)
    return where


def load_vectors(path: str):
    """Load an explicit vectors path (a file any embedkit loader reads, or packed vectors)."""
    return resolve_and_load_vectors(path)
