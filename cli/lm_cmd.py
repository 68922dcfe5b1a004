"""``embedkit lm``: train, evaluate and generate with a recurrent language model."""

from __future__ import annotations

import json

import click


@click.group("lm")
def lm():
    """A word-level recurrent (GRU or LSTM) language model over word vectors.

    \b
    Examples:
      embedkit lm train corpus.txt --vectors vectors.ekv --hidden 256 --out lm/
      embedkit lm evaluate lm/ held_out.txt
      embedkit lm generate lm/ --prompt "it was the" --beam 5 --length-penalty 0.7
    """


@lm.command("train")
@click.argument("corpus", type=click.Path(exists=True))
@click.option("--out", required=True, type=click.Path(), help="Model directory to write.")
@click.option("--vectors", default=None, metavar="PATH",
              help="Initial input embeddings (any format embedkit "
              "loads); without it, random embeddings of --dim.")
@click.option("--dim", default=128, show_default=True, type=int,
              help="Embedding size when no --vectors.")
@click.option("--freeze", is_flag=True, help="Keep the input embeddings fixed.")
@click.option("--tie", is_flag=True, help="Output embeddings = input embeddings "
              "(needs --hidden equal to the embedding size).")
@click.option("--cell", type=click.Choice(["gru", "lstm"]), default="gru", show_default=True,
              help="Recurrent cell.")
@click.option("--hidden", default=256, show_default=True, type=int, help="Recurrent units.")
@click.option("--layers", default=1, show_default=True, type=int, help="Stacked layers.")
@click.option("--dropout", default=0.2, show_default=True, type=float, help="Dropout rate.")
@click.option("--softmax", type=click.Choice(["sampled", "full"]), default="sampled",
              show_default=True, help="Training loss (evaluation is always the full softmax).")
@click.option("--samples", default=1024, show_default=True, type=int,
              help="Negatives per batch of the sampled softmax.")
@click.option("--max-vocab", default=50000, show_default=True, type=int, help="Vocabulary cap.")
@click.option("--min-count", default=1, show_default=True, type=int, help="Rarer words: UNK.")
@click.option("--max-tokens", default=None, type=int, help="Train on the first N tokens only.")
@click.option("--dev", default=None, type=click.Path(exists=True),
              help="Text scored (exact perplexity) after each epoch; the best epoch is kept.")
@click.option("--epochs", default=1, show_default=True, type=int, help="Passes over CORPUS.")
@click.option("--batch-size", default=32, show_default=True, type=int, help="Parallel streams.")
@click.option("--bptt", default=35, show_default=True, type=int,
              help="Truncated-BPTT segment length.")
@click.option("--optimizer", type=click.Choice(["adam", "lazyadam", "sgd"]), default="adam",
              show_default=True,
              help="adam: dense Adam (as torch.optim.Adam); lazyadam: update only the "
                   "embedding/output rows that have a gradient.")
@click.option("--lr", default=None, type=float,
              help="Step size [adam/lazyadam 2e-3, sgd 1.0].")
@click.option("--clip", default=0.25, show_default=True, type=float,
              help="Gradient-norm clipping (0 off).")
@click.option("--seed", default=0, show_default=True, type=int, help="Random seed.")
@click.option("--checkpoint-every", default=None, type=float,
              help="Seconds between checkpoints (OUT.ckpt).")
@click.option("--resume", default=None, type=click.Path(), help="Continue from a checkpoint.")
@click.option("--threads", default=1, show_default=True, type=click.IntRange(min=1),
              help="Threads of the output layer's products and the Adam update (1: "
                   "reproducible with --seed).")
def train_cmd(corpus, out, vectors, dim, freeze, tie, cell, hidden, layers, dropout, softmax,
              samples, max_vocab, min_count, max_tokens, dev, epochs, batch_size, bptt,
              optimizer, lr, clip, seed, checkpoint_every, resume, threads):
    """Train a language model on CORPUS (one sentence or paragraph a line)."""
    from embedkit._progress import progress_enabled
    from embedkit.lm import train_lm

    vec = None
    if vectors:
        from embedkit.cli._downstream import load_vectors

        vec = load_vectors(vectors)
    model = train_lm(corpus, vec, out=out, dev=dev, hidden=hidden, layers=layers, cell=cell,
                     dim=dim, tie=tie, freeze=freeze, dropout=dropout, softmax=softmax,
                     samples=samples, max_vocab=max_vocab, min_count=min_count,
                     max_tokens=max_tokens, epochs=epochs, batch_size=batch_size, bptt=bptt,
                     optimizer=optimizer, lr=lr, clip=clip, seed=seed,
                     checkpoint_every=checkpoint_every, resume=resume, threads=threads,
                     progress=progress_enabled())
    last = model.history[-1] if model.history else {}
    extra = f"; dev perplexity {last['dev']:.2f}" if "dev" in last else ""
    click.echo(f"model saved to {out}{extra}")


@lm.command("evaluate")
@click.argument("model", type=click.Path(exists=True))
@click.argument("file", type=click.Path(exists=True))
@click.option("--max-tokens", default=None, type=int, help="Score the first N tokens only.")
@click.option("--batch-size", default=32, show_default=True, type=int, help="Parallel streams.")
@click.option("--threads", default=None, type=int,
              help="Threads for the output softmax [default: every CPU].")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def evaluate_cmd(model, file, max_tokens, batch_size, threads, as_json):
    """Exact (full-softmax) perplexity of MODEL on FILE."""
    from embedkit._progress import progress_enabled
    from embedkit.corpus import iter_sentences
    from embedkit.lm import LanguageModel
    from embedkit.lm.data import encode_stream

    m = LanguageModel.load(model)
    stream = encode_stream(iter_sentences(file, lowercase=m.config.lowercase), m.vocab,
                           max_tokens)
    res = m.perplexity(stream, batch_size=batch_size, progress=progress_enabled(),
                       threads=threads)
    unk = float((stream == m.vocab.unk).mean())
    res["unknown_rate"] = unk
    if as_json:
        click.echo(json.dumps(res))
    else:
        click.echo(f"perplexity {res['perplexity']:.2f} ({res['tokens']} tokens, "
                   f"{100 * unk:.1f}% unknown)")


@lm.command("generate")
@click.argument("model", type=click.Path(exists=True))
@click.option("--prompt", default="", help="Text to continue.")
@click.option("--max-tokens", default=50, show_default=True, type=int, help="Tokens to add.")
@click.option("--greedy", "mode", flag_value="greedy", default=True,
              help="Most likely token at each step (default).")
@click.option("--sample", "mode", flag_value="sample", help="Sample each token.")
@click.option("--temperature", default=1.0, show_default=True, type=float, help="Sampling T.")
@click.option("--top-k", default=None, type=int, help="Sample among the K most likely tokens.")
@click.option("--top-p", default=None, type=float,
              help="Sample among the most likely tokens of total probability P (in (0, 1]).")
@click.option("--seed", default=0, show_default=True, type=int, help="Sampling seed.")
@click.option("--beam", default=None, type=int, help="Beam search of this width.")
@click.option("--length-penalty", default=0.0, show_default=True, type=float,
              help="alpha of the beam score (1/T^alpha) sum log P.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (text and log-probability).")
def generate_cmd(model, prompt, max_tokens, mode, temperature, top_k, top_p, seed, beam,
                 length_penalty, as_json):
    """Continue --prompt with MODEL."""
    from embedkit.errors import ParameterError
    from embedkit.lm import LanguageModel

    if beam is not None and mode == "sample":
        raise click.UsageError("--beam and --sample exclude each other")
    if mode != "sample" and (top_k is not None or top_p is not None or temperature != 1.0):
        raise click.UsageError("--temperature, --top-k and --top-p need --sample")
    method = "beam" if beam is not None else mode
    if method == "beam" and beam < 1:
        raise ParameterError(f"--beam must be >= 1, got {beam}")
    m = LanguageModel.load(model)
    res = m.generate(prompt, max_tokens, method=method, temperature=temperature, top_k=top_k,
                     top_p=top_p, seed=seed, beam=beam or 1, length_penalty=length_penalty)
    if as_json:
        click.echo(json.dumps(res))
    else:
        click.echo((prompt + " " if prompt else "") + res["text"])
