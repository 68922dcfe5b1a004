"""``embedkit sentiment``: train, apply and evaluate a BiGRU sentiment classifier."""

from __future__ import annotations

import json

import click

from embedkit.cli._base import SuggestingGroup, echo_json, stack
from embedkit.cli._downstream import (apply_arguments, apply_each, data_options, error_shower,
                                      evaluate_arguments, load_model_dir, preset_option,
                                      save_and_report, training_options)
from embedkit.downstream.presets import SENTIMENT

_column_options = stack(
    click.option("--label-column", default=0, show_default=True, type=int,
                 help="Column (0-based) of the label in the TSV."),
    click.option("--text-column", default=1, show_default=True, type=int,
                 help="Column (0-based) of the text in the TSV."))


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
@data_options(train_help="TSV: label<TAB>text (header allowed).",
              dev_help="TSV for early stopping and model choice.")
@_column_options
@preset_option(SENTIMENT.config, "--pooling",
               click.Choice(["maxmean", "max", "mean", "attention"]),
               "How the encoder states of a text become one vector.")
@preset_option(SENTIMENT.config, "--layers", click.IntRange(min=1),
               "Stacked encoder layers (dropout --dropout between them).")
@training_options(SENTIMENT)
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
    from embedkit.cli._downstream import check_vectors_source, resolve_and_load_vectors
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
    save_and_report(model, out, "accuracy" if dev_path else None)


@sentiment.command("predict")
@apply_arguments(json_help='Print one JSON object per text: {"text", "label", "probability", '
                           '"probabilities"} (or {"text", "error"}).')
def predict_cmd(model, texts, vectors, as_json):
    """Print the label and its probability for each TEXT ('-': one text per line on stdin).

    An empty text is an error, reported in its place; the others are answered and the
    command exits 1 at the end.
    """
    m = load_model_dir(model, vectors)

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

    apply_each(texts, predict, show, error_shower(as_json))


@sentiment.command("evaluate")
@evaluate_arguments(_column_options)
def evaluate_cmd(model, file, as_json, label_column, text_column, vectors):
    """Accuracy and macro-F1 of MODEL on a TSV FILE."""
    from embedkit.downstream import read_tsv
    from embedkit.downstream.data import check_labels_known

    m = load_model_dir(model, vectors)
    texts, labels = read_tsv(file, label_column, text_column)
    check_labels_known(file, labels, m.labels)
    res = m.evaluate(texts, labels)
    if as_json:
        click.echo(json.dumps(res))
    else:
        click.echo(f"accuracy {res['accuracy']:.4f}  macro-F1 {res['macro_f1']:.4f}  "
                   f"({res['n']} examples)")
