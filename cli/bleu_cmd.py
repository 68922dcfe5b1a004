"""``embedkit bleu``: corpus (or per-sentence) BLEU of a hypothesis file against references."""

from __future__ import annotations

import json

import click


def _read_lines(path: str) -> list[str]:
    from embedkit.errors import FormatError

    try:
        with open(path, encoding="utf-8", newline="") as f:
            return [line.rstrip("\r\n") for line in f]
    except UnicodeDecodeError as exc:
        raise FormatError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start}); "
                          "convert it with iconv") from None


@click.command("bleu")
@click.argument("hypotheses", type=click.Path(exists=True, dir_okay=False))
@click.argument("references", nargs=-1, required=True,
                type=click.Path(exists=True, dir_okay=False))
@click.option("--tokenize", type=click.Choice(["13a", "char", "none"]), default="13a",
              show_default=True, help="Tokenisation (13a = mteval-v13a, as sacrebleu).")
@click.option("--smooth", "smooth_method", type=click.Choice(["exp", "floor", "add-k", "none"]),
              default="exp", show_default=True, help="Smoothing of zero n-gram counts.")
@click.option("--smooth-value", type=float, default=None,
              help="Value for floor (default 0.1) and add-k (default 1).")
@click.option("--lowercase", "-lc", is_flag=True, help="Case-insensitive BLEU.")
@click.option("--sentence", is_flag=True,
              help="Also score each line (sentence BLEU, effective order).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def bleu_cmd(hypotheses, references, tokenize, smooth_method, smooth_value, lowercase,
             sentence, as_json):
    """Corpus BLEU of HYPOTHESES against one or more REFERENCES files (one segment a line).

    \b
    Examples:
      embedkit bleu output.txt ref.txt
      embedkit bleu output.txt ref1.txt ref2.txt --tokenize none --json
    """
    from embedkit.errors import FormatError
    from embedkit.metrics import corpus_bleu, sentence_bleu

    hyps = _read_lines(hypotheses)
    refs = [_read_lines(r) for r in references]
    for path, stream in zip(references, refs):
        if len(stream) != len(hyps):
            raise FormatError(f"{path} has {len(stream)} lines but {hypotheses} has "
                              f"{len(hyps)}; references must match the hypotheses line by line")
    kw = dict(smooth_method=smooth_method, smooth_value=smooth_value, tokenize=tokenize,
              lowercase=lowercase)
    score = corpus_bleu(hyps, refs, **kw)
    per_line = ([sentence_bleu(h, [s[i] for s in refs], **kw).score
                 for i, h in enumerate(hyps)] if sentence else None)
    if as_json:
        out = score.as_dict()
        out.update(tokenize=tokenize, smooth=smooth_method, lowercase=lowercase,
                   references=len(refs))
        if per_line is not None:
            out["sentences"] = per_line
        click.echo(json.dumps(out))
        return
    if per_line is not None:
        for i, s in enumerate(per_line, 1):
            click.echo(f"{i}\t{s:.2f}")
    click.echo(str(score))
