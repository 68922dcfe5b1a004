"""``embedkit ner``: train, apply and evaluate a BiGRU named-entity tagger."""

from __future__ import annotations

import json

import click

from embedkit.cli._base import SuggestingGroup, echo_json, stack
from embedkit.cli._downstream import (RATE, apply_arguments, apply_each, data_options,
                                      error_shower, evaluate_arguments, load_model_dir,
                                      preset_option, save_and_report, training_options)
from embedkit.downstream.presets import NER


def _widths(width) -> str:
    """``--char-cnn-width`` text of a preset's ``char_cnn_width`` (3, or 3,5)."""
    return ",".join(str(w) for w in width) if isinstance(width, tuple) else str(width)


_conll_options = stack(
    click.option("--token-column", default=0, show_default=True, type=int,
                 help="Column (0-based) of the token."),
    click.option("--tag-column", default=-1, show_default=True, type=int,
                 help="Column of the BIO tag (-1: last)."),
    click.option("--strip-prefix", default="", metavar="PREFIX",
                 help="Remove this prefix from tokens (WikiANN: en:)."))


@click.group("ner", cls=SuggestingGroup)
def ner():
    """Named-entity recognition with a BiGRU over word vectors.

    \b
    Examples:
      embedkit ner train --vectors vec.bin --train train --dev dev --strip-prefix en: --out ner.model
      embedkit ner tag ner.model "Angela Merkel visited Paris ."
      embedkit ner evaluate ner.model dev --strip-prefix en: --json
    """


@ner.command("train")
@data_options(train_help="CoNLL: token and tag columns.",
              dev_help="CoNLL file for early stopping.")
@_conll_options
@preset_option(NER.config, "--char-buckets", click.IntRange(min=0),
               "Hashed character n-gram features (0 off; 100000 is usual).")
@preset_option(NER.config, "--char-dim", click.IntRange(min=1),
               "Size of the hashed character n-gram embeddings.")
@preset_option(NER.config, "--case-dim", click.IntRange(min=0), "Casing features (0 off).")
@preset_option(NER.config, "--char-cnn", click.IntRange(min=0),
               "Filters of a character CNN over each word (0 off).")
@preset_option(NER.config, "--char-cnn-dim", click.IntRange(min=1),
               "Character embedding size of the char CNN.")
@click.option("--char-cnn-width", default=_widths(NER.config.char_cnn_width), show_default=True,
              metavar="WIDTHS",
              help="Char CNN window (odd), or several separated by commas (3,5: one bank of "
                   "--char-cnn filters per width).")
@preset_option(NER.config, "--word-dropout", RATE,
               "Training tokens replaced by the UNK word with this probability.")
@preset_option(NER.config, "--layers", click.IntRange(min=1),
               "Stacked encoder layers (dropout --dropout between them).")
@click.option("--variational-dropout/--no-variational-dropout", "variational",
              default=NER.config.variational, show_default=True,
              help="One dropout mask per sentence, shared by all its tokens (input, between "
                   "layers, before the output).")
@preset_option(NER.schedule, "--average", RATE,
               "Evaluate and keep a moving average of the weights with this decay "
               "(0 off; bias-corrected, and lowered on a short run so the average "
               "spans at most the last tenth of the steps).")
@preset_option(NER.schedule, "--lr-decay", click.FloatRange(min=0),
               "Learning rate of epoch e: lr / (1 + DECAY * (e - 1)) (0 keeps it constant).")
@preset_option(NER.config, "--crf/--softmax",
               help="A linear-chain CRF output layer, or a per-token softmax.")
@training_options(NER)
def train_cmd(vectors_path, train_path, dev_path, out, token_column, tag_column, strip_prefix,
              char_buckets, char_dim, case_dim, char_cnn, char_cnn_dim, char_cnn_width,
              word_dropout, layers, variational, average, lr_decay, crf, epochs, batch_size,
              lr, encoder, hidden, heads, ff_dim, transformer_dropout, dropout, input_dropout,
              fine_tune, oov_min_count, max_vocab,
              patience, evals_per_epoch, clip, seed, threads):
    """Train a tagger on CoNLL data and save it to --out.

    Like a sentiment model, the model directory holds a copy of the vectors it uses (all
    rows, or the first --max-vocab), so it reads words it never saw in training and works
    without the vectors file.
    """
    from embedkit._progress import progress_enabled
    from embedkit.downstream import NERTagger, read_conll
    from embedkit.cli._downstream import check_vectors_source, resolve_and_load_vectors
    from embedkit.errors import ParameterError

    try:
        widths = [int(w) for w in str(char_cnn_width).split(",")]
    except ValueError:
        raise ParameterError(f"--char-cnn-width must be odd numbers separated by commas "
                             f"(3, or 3,5), got {char_cnn_width!r}") from None
    char_cnn_width = widths[0] if len(widths) == 1 else widths
    from embedkit.vectors.output import check_output_dir

    # everything that can be checked is checked before the vectors load and training starts:
    # the output directory, the options and the data files
    check_output_dir(out, marker="model.json")
    check_vectors_source(vectors_path)
    model = NERTagger(
        None, hidden=hidden, dropout=dropout, input_dropout=input_dropout,
        fine_tune=fine_tune, oov_min_count=oov_min_count, max_vocab=max_vocab,
        char_buckets=char_buckets, char_dim=char_dim, case_dim=case_dim, char_cnn=char_cnn,
        char_cnn_dim=char_cnn_dim, char_cnn_width=char_cnn_width, word_dropout=word_dropout,
        layers=layers, variational=variational, crf=crf, seed=seed, threads=threads,
        encoder=encoder, heads=heads, ff_dim=ff_dim, transformer_dropout=transformer_dropout)
    model.config.check_trainable()
    sents, tags = read_conll(train_path, token_column, tag_column, strip_prefix)
    dev = (read_conll(dev_path, token_column, tag_column, strip_prefix) if dev_path
           else (None, None))
    model.vectors = resolve_and_load_vectors(vectors_path)
    model.fit(sents, tags, dev[0], dev[1], epochs=epochs, batch_size=batch_size, lr=lr,
              patience=patience, clip=clip, evals_per_epoch=evals_per_epoch, average=average,
              lr_decay=lr_decay, progress=progress_enabled())
    save_and_report(model, out, "F1" if dev_path else None)


@ner.command("tag")
@apply_arguments(json_help='Print one JSON object per text: {"text", "tokens", "tags", '
                           '"entities": [{"type", "start", "end", "text"}]} (or '
                           '{"text", "error"}).')
def tag_cmd(model, texts, vectors, as_json):
    """Print the entities of each TEXT ('-': one text per line on stdin).

    One line per entity: type, token span start:end (end exclusive) and the words; with
    several texts, each starts with a '# TEXT' line.  An empty text is an error, reported
    in its place; the others are answered and the command exits 1 at the end.
    """
    from embedkit.downstream.metrics import chunks

    m = load_model_dir(model, vectors, task="ner")
    several = len(texts) > 1 or list(texts) == ["-"]

    def tag(toks):
        return m.predict(toks)

    def show(text, words, tags):
        spans = chunks(tags)
        if as_json:
            echo_json({"text": text, "tokens": words, "tags": tags,
                       "entities": [{"type": t, "start": s, "end": e,
                                     "text": " ".join(words[s:e])} for t, s, e in spans]})
            return
        if several:
            click.echo(f"# {text}")
        for typ, s, e in spans:
            click.echo(f"{typ}\t{s}:{e}\t{' '.join(words[s:e])}")

    apply_each(texts, tag, show, error_shower(as_json))


@ner.command("evaluate")
@evaluate_arguments(_conll_options)
def evaluate_cmd(model, file, as_json, token_column, tag_column, strip_prefix, vectors):
    """Entity-level precision, recall and F1 (conlleval) of MODEL on a CoNLL FILE."""
    from embedkit.downstream import read_conll

    m = load_model_dir(model, vectors, task="ner")
    sents, tags = read_conll(file, token_column, tag_column, strip_prefix)
    res = m.evaluate(sents, tags)
    if as_json:
        click.echo(json.dumps(res))
        return
    click.echo(f"precision {res['precision']:.4f}  recall {res['recall']:.4f}  "
               f"F1 {res['f1']:.4f}  token accuracy {res['token_accuracy']:.4f}")
    for t, r in res["per_type"].items():
        click.echo(f"  {t:<8} P {r['precision']:.4f}  R {r['recall']:.4f}  "
                   f"F1 {r['f1']:.4f}  ({r['support']} entities)")
