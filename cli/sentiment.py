"""``embedkit sentiment``: train, apply and evaluate a BiGRU sentiment classifier."""

from __future__ import annotations

import functools
import json
import sys

import click

from embedkit.cli._base import SuggestingGroup, echo_json, input_file
from embedkit.downstream.presets import SENTIMENT

VECTORS_HELP = ("Word vectors (word2vec .bin/.txt, GloVe, fastText .vec, .ekv); default "
                "$EMBEDKIT_VECTORS, else the packaged default vectors.")


#: a dropout rate: [0, 1)
_RATE = click.FloatRange(0, 1, max_open=True)


def _training_options(preset):
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
                     type=_RATE,
                     help="Dropout inside the Transformer (input and residual branches)."),
        click.option("--dropout", default=c.dropout, show_default=True, type=_RATE,
                     help="Dropout before the output layer."),
        click.option("--input-dropout", default=c.input_dropout, show_default=True, type=_RATE,
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
    for o in reversed(opts):
        f = o(f)
    return f


def _column_options(f):
    f = click.option("--text-column", default=1, show_default=True, type=int,
                     help="Column (0-based) of the text in the TSV.")(f)
    f = click.option("--label-column", default=0, show_default=True, type=int,
                     help="Column (0-based) of the label in the TSV.")(f)
    return f


def _save_and_report(model, out, dev_metric):
    """Save a trained model to ``out`` and print where (with its best dev score, if any)."""
    model.save(out)
    if dev_metric:
        click.echo(f"dev {dev_metric} {model.best_dev:.4f}; model saved to {out}")
    else:
        click.echo(f"model saved to {out}")


def _read_texts(texts):
    """``(raw, tokens)`` of the TEXT arguments, or of the lines of stdin for ``-``."""
    from embedkit.downstream import tokenize

    if list(texts) == ["-"]:
        lines = [line.rstrip("\n").rstrip("\r") for line in sys.stdin]
        return lines, [tokenize(line) for line in lines]
    return list(texts), [tokenize(t) for t in texts]


def _apply_each(texts, predict, show, show_error):
    """Run ``predict`` on every non-empty text (one batch) and ``show`` each answer in input
    order; an empty text is reported in its place by ``show_error``, and the command exits 1
    at the end if any was."""
    from embedkit.errors import EmbedkitError

    raw, toks = _read_texts(texts)
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


def _error_shower(as_json):
    def show_error(text, message):
        if as_json:
            echo_json({"text": text, "error": message})
        else:
            click.echo(f"Error: {message}", err=True)
    return show_error


def _load(model, vectors, task="sentiment"):
    """The model directory MODEL, checked to hold a ``task`` model before ``--vectors`` load."""
    from embedkit.downstream import load_model
    from embedkit.downstream.cli_support import load_vectors

    m = load_model(model, task=task)
    if vectors:
        m.use_vectors(load_vectors(vectors))
    return m


@click.group("sentiment", cls=SuggestingGroup)
def sentiment():
    """Sentiment classification with a BiGRU over word vectors.

    \b
    Examples:
      embedkit sentiment train --vectors vec.bin --train train.tsv --dev dev.tsv --out sst2.model
      embedkit sentiment predict sst2.model "a gorgeous, witty film"
      embedkit sentiment evaluate sst2.model dev.tsv --json
    """


@sentiment.command("train")
@click.option("--vectors", "vectors_path", default=None, metavar="PATH", help=VECTORS_HELP)
@click.option("--train", "train_path", required=True, type=input_file(dir_okay=False),
              metavar="FILE", help="TSV: label<TAB>text (header allowed).")
@click.option("--dev", "dev_path", default=None, type=input_file(dir_okay=False),
              metavar="FILE", help="TSV for early stopping and model choice.")
@click.option("--out", required=True, metavar="DIR",
              help="Model directory to write (checked before training).")
@_column_options
@click.option("--pooling", default=SENTIMENT.config.pooling, show_default=True,
              type=click.Choice(["maxmean", "max", "mean", "attention"]),
              help="How the encoder states of a text become one vector.")
@click.option("--layers", default=SENTIMENT.config.layers, show_default=True,
              type=click.IntRange(min=1),
              help="Stacked encoder layers (dropout --dropout between them).")
@_training_options(SENTIMENT)
def train_cmd(vectors_path, train_path, dev_path, out, label_column, text_column, pooling,
              layers, epochs, batch_size, lr, encoder, hidden, heads, ff_dim,
              transformer_dropout, dropout, input_dropout, fine_tune, oov_min_count, max_vocab,
              patience, evals_per_epoch, clip, seed, threads):
    """Train a classifier on TSV data and save it to --out.

    The model directory holds a copy of the vectors it uses (all rows, or the first
    --max-vocab), not just the words of the training set: words it never saw in training
    are read through their pretrained vectors, and the model works without the vectors
    file.  The copy takes rows x dim x 4 bytes (50,000 x 100: 20 MB); --max-vocab N keeps
    the N most frequent words (vectors files are sorted by frequency) and N x dim x 4.
    """
    from embedkit._progress import progress_enabled
    from embedkit.downstream import SentimentClassifier, read_tsv
    from embedkit.downstream.cli_support import check_vectors_source, resolve_and_load_vectors
    from embedkit.downstream.data import check_train_labels
    from embedkit.vectors.output import check_output_dir

    # everything that can be checked is checked before the vectors load and training starts:
    # the output directory, the options, the data files and their labels
    check_output_dir(out, marker="model.json")
    check_vectors_source(vectors_path)
    model = SentimentClassifier(
        None, hidden=hidden, dropout=dropout, input_dropout=input_dropout,
        fine_tune=fine_tune, oov_min_count=oov_min_count, max_vocab=max_vocab,
        pooling=pooling, seed=seed, threads=threads, encoder=encoder, layers=layers,
        heads=heads, ff_dim=ff_dim, transformer_dropout=transformer_dropout)
    model.config.check_trainable()
    texts, labels = read_tsv(train_path, label_column, text_column)
    dev = read_tsv(dev_path, label_column, text_column) if dev_path else (None, None)
    check_train_labels(train_path, labels, dev_path, dev[1])
    model.vectors = resolve_and_load_vectors(vectors_path)
    model.fit(texts, labels, dev[0], dev[1], epochs=epochs, batch_size=batch_size, lr=lr,
              patience=patience, clip=clip, evals_per_epoch=evals_per_epoch,
              progress=progress_enabled())
    _save_and_report(model, out, "accuracy" if dev_path else None)


@sentiment.command("predict")
@click.argument("model")
@click.argument("texts", nargs=-1, required=True)
@click.option("--vectors", default=None, metavar="PATH",
              help="Replace the model's vectors (same dimension).")
@click.option("--json", "as_json", is_flag=True,
              help='Print one JSON object per text: {"text", "label", "probability", '
                   '"probabilities"} (or {"text", "error"}).')
def predict_cmd(model, texts, vectors, as_json):
    """Print the label and its probability for each TEXT ('-': one text per line on stdin).

    An empty text is an error, reported in its place; the others are answered and the
    command exits 1 at the end.
    """
    m = _load(model, vectors)

    def predict(toks):
        return list(m.predict_proba(toks))

    def show(text, toks, prob):
        best = int(prob.argmax())
        if as_json:
            echo_json({"text": text, "label": m.labels[best],
                       "probability": round(float(prob[best]), 6),
                       "probabilities": {lab: round(float(p), 6)
                                         for lab, p in zip(m.labels, prob)}})
        else:
            click.echo(f"{m.labels[best]}\t{prob[best]:.4f}\t{text}")

    _apply_each(texts, predict, show, _error_shower(as_json))


@sentiment.command("evaluate")
@click.argument("model")
@click.argument("file")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@_column_options
@click.option("--vectors", default=None, metavar="PATH",
              help="Replace the model's vectors (same dimension).")
def evaluate_cmd(model, file, as_json, label_column, text_column, vectors):
    """Accuracy and macro-F1 of MODEL on a TSV FILE."""
    from embedkit.downstream import read_tsv
    from embedkit.downstream.data import check_labels_known

    m = _load(model, vectors)
    texts, labels = read_tsv(file, label_column, text_column)
    check_labels_known(file, labels, m.labels)
    res = m.evaluate(texts, labels)
    if as_json:
        click.echo(json.dumps(res))
    else:
        click.echo(f"accuracy {res['accuracy']:.4f}  macro-F1 {res['macro_f1']:.4f}  "
                   f"({res['n']} examples)")
