"""``embedkit seq2seq``: train, translate with, and evaluate an encoder-decoder with attention."""

from __future__ import annotations

import json
import sys

import click


def _pairs(path, task, split):
    from embedkit.seq2seq import dates_task, read_pairs

    if path is not None:
        return read_pairs(path)
    if task == "dates":
        return dates_task()[split]
    return None


@click.group("seq2seq")
def seq2seq():
    """Encoder-decoder with additive attention (BiGRU encoder, GRU decoder).

    \b
    Examples:
      embedkit seq2seq train --task dates --out dates_model/
      embedkit seq2seq translate dates_model/ "Tuesday, 3 May 1979" --beam 5
      embedkit seq2seq evaluate dates_model/ --task dates
    """


@seq2seq.command("train")
@click.option("--train", "train_file", type=click.Path(exists=True, dir_okay=False),
              help="TSV of 'source<TAB>target' pairs.")
@click.option("--dev", "dev_file", type=click.Path(exists=True, dir_okay=False),
              help="Dev pairs for early stopping.")
@click.option("--task", type=click.Choice(["dates"]), default=None,
              help="Built-in task (its train and dev splits) instead of --train/--dev.")
@click.option("--out", required=True, type=click.Path(), help="Model directory to write.")
@click.option("--level", type=click.Choice(["char", "word"]), default="char", show_default=True,
              help="Tokens are characters or words.")
@click.option("--emb", default=32, show_default=True, type=int, help="Embedding size.")
@click.option("--hidden", default=64, show_default=True, type=int,
              help="Encoder GRU units per direction.")
@click.option("--dec-hidden", default=128, show_default=True, type=int, help="Decoder units.")
@click.option("--attention-size", default=64, show_default=True, type=int,
              help="Attention layer size.")
@click.option("--epochs", default=20, show_default=True, type=int, help="Passes (at most).")
@click.option("--batch-size", default=32, show_default=True, type=int, help="Pairs per step.")
@click.option("--lr", default=2e-3, show_default=True, type=float, help="Adam step size.")
@click.option("--clip", default=5.0, show_default=True, type=float,
              help="Gradient-norm clipping (0 off).")
@click.option("--patience", default=3, show_default=True, type=int,
              help="Stop after this many epochs without dev improvement.")
@click.option("--metric", type=click.Choice(["exact", "bleu"]), default="exact",
              show_default=True, help="Dev score for early stopping.")
@click.option("--average", default=0.999, show_default=True, type=float,
              help="Parameter-average decay (0 off).")
@click.option("--seed", default=0, show_default=True, type=int, help="Random seed.")
def train_cmd(train_file, dev_file, task, out, level, emb, hidden, dec_hidden, attention_size,
              epochs, batch_size, lr, clip, patience, metric, average, seed):
    """Train on --train/--dev TSV files or on a built-in --task."""
    from embedkit._progress import progress_enabled
    from embedkit.seq2seq import train_seq2seq

    if (train_file is None) == (task is None):
        raise click.UsageError("give --train FILE or --task dates (one of them)")
    train = _pairs(train_file, task, "train")
    dev = _pairs(dev_file, task if dev_file is None else None, "dev")
    model = train_seq2seq(train, dev, out=out, level=level, emb=emb, hidden=hidden,
                          dec_hidden=dec_hidden, attention=attention_size, epochs=epochs,
                          batch_size=batch_size, lr=lr, clip=clip, patience=patience,
                          metric=metric, average=average or None, seed=seed,
                          progress=progress_enabled())
    last = [h for h in model.history if "dev_exact_match" in h]
    if last:
        best = max(last, key=lambda h: h["dev_exact_match" if metric == "exact" else "dev_bleu"])
        click.echo(f"dev exact match {best['dev_exact_match']:.4f}, BLEU {best['dev_bleu']:.2f}; "
                   f"model saved to {out}")
    else:
        click.echo(f"model saved to {out}")


@seq2seq.command("translate")
@click.argument("model", type=click.Path(exists=True))
@click.argument("texts", nargs=-1, required=True)
@click.option("--beam", default=1, show_default=True, type=int, help="Beam width (1: greedy).")
@click.option("--length-penalty", default=0.0, show_default=True, type=float,
              help="alpha of the beam score's length normalisation (0 off).")
@click.option("--attention", "attention_png", default=None, type=click.Path(dir_okay=False),
              help="Draw the attention weights of the (first) text to this PNG "
                   "(needs matplotlib: pip install 'embedkit[plot]').")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def translate_cmd(model, texts, beam, length_penalty, attention_png, as_json):
    """Translate TEXTS (or '-' to read lines from standard input)."""
    from embedkit.errors import ParameterError
    from embedkit.seq2seq import Seq2Seq

    if beam < 1:
        raise ParameterError(f"--beam must be >= 1, got {beam}")
    m = Seq2Seq.load(model)
    lines = ([line.rstrip("\r\n") for line in sys.stdin] if list(texts) == ["-"]
             else list(texts))
    lines = [t for t in lines if t.strip()]
    if not lines:
        raise ParameterError("nothing to translate: the input is empty")
    res = m.translate(lines, beam=beam, length_penalty=length_penalty)
    if attention_png:
        from embedkit.seq2seq.plot import save_attention

        src, outs, w = m.attention_weights(lines[0], res[0]["tokens"])
        save_attention(attention_png, src, outs, w)
    for r in res:
        click.echo(json.dumps({k: r[k] for k in ("source", "output", "logprob", "finished")})
                   if as_json else r["output"])


@seq2seq.command("evaluate")
@click.argument("model", type=click.Path(exists=True))
@click.argument("file", required=False, type=click.Path(exists=True, dir_okay=False))
@click.option("--task", type=click.Choice(["dates"]), default=None,
              help="Evaluate on a built-in task's split instead of FILE.")
@click.option("--split", type=click.Choice(["dev", "test"]), default="test", show_default=True,
              help="Which split of the task to score.")
@click.option("--beam", default=1, show_default=True, type=int, help="Beam width (1: greedy).")
@click.option("--length-penalty", default=0.0, show_default=True, type=float,
              help="alpha of the beam score's length normalisation (0 off).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def evaluate_cmd(model, file, task, split, beam, length_penalty, as_json):
    """BLEU, exact match and token accuracy of MODEL on FILE (TSV pairs) or a --task split."""
    from embedkit.errors import ParameterError
    from embedkit.seq2seq import Seq2Seq, dates_task, evaluate, read_pairs

    if (file is None) == (task is None):
        raise click.UsageError("give FILE or --task dates (one of them)")
    if beam < 1:
        raise ParameterError(f"--beam must be >= 1, got {beam}")
    m = Seq2Seq.load(model)
    pairs = read_pairs(file) if file else dates_task()[split]
    res = evaluate(m, pairs, beam=beam, length_penalty=length_penalty)
    res.pop("outputs")
    if as_json:
        click.echo(json.dumps(res))
    else:
        click.echo(f"exact match {res['exact_match']:.4f}  token accuracy "
                   f"{res['token_accuracy']:.4f}  BLEU {res['bleu']:.2f}  ({res['pairs']} pairs)")
