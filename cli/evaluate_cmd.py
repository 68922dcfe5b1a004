"""``embedkit evaluate``: analogy and word-similarity benchmarks for a vector file."""

from __future__ import annotations

import json
import math

import click

TABLE_COLUMNS = ["set", "metric", "score", "coverage", "n"]


def _fmt(x, pct=False):
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    return f"{100 * x:.1f}%" if pct else f"{x:.4f}"


def _clean(rec: dict) -> dict:
    out = {}
    for k, v in rec.items():
        if hasattr(v, "item"):
            v = v.item()
        if v is not None and isinstance(v, float) and math.isnan(v):
            v = None
        if v is not None and not isinstance(v, (str, int, float, bool)):
            v = None  # pandas NA
        out[k] = v
    return out


@click.command("evaluate")
@click.argument("vectors", type=click.Path())
@click.option("--suite", type=click.Choice(["analogy", "similarity", "all"]), default="all",
              show_default=True, help="Which kind of sets to run.")
@click.option("--sets", default=None, metavar="NAME,...",
              help="Comma-separated set names (google, msr, bats, ws353, simlex999, men, ...) "
                   "or paths of your own files.  Default: every shipped set of the suite.")
@click.option("--method", "methods", default="3cosadd", show_default=True,
              metavar="3cosadd,3cosmul", help="Analogy method(s), comma-separated.")
@click.option("--restrict-vocab", type=int, default=30000, show_default=True,
              help="Analogies: only the first N words are candidates (0 = all words).")
@click.option("--case-sensitive", is_flag=True, help="Compare words as they are (default: "
              "upper-case both sides, like gensim).")
@click.option("--dummy4unknown", is_flag=True,
              help="Count uncovered questions as wrong (gensim's option).")
@click.option("--sections", is_flag=True, help="Also print per-family and per-section rows.")
@click.option("--skip-bad-lines", is_flag=True,
              help="Skip malformed dataset lines with a warning instead of stopping.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of records.")
@click.option("--csv", "as_csv", is_flag=True, help="Print CSV.")
@click.option("--scheduler", default=None, metavar="ADDRESS",
              help="Run the sets on Dask: tcp://HOST:8786, or local:N worker processes "
                   "(needs embedkit[dask]).")
def evaluate_cmd(vectors, suite, sets, methods, restrict_vocab, case_sensitive, dummy4unknown,
                 sections, skip_bad_lines, as_json, as_csv, scheduler=None):
    """Evaluate VECTORS on analogy (accuracy) and word-similarity (Spearman) sets.

    \b
    Examples:
      embedkit evaluate vectors.ekv
      embedkit evaluate vectors.bin --suite analogy --sets google,msr --method 3cosadd,3cosmul
      embedkit evaluate vectors.txt --sets ws353,my_pairs.tsv --json
    """
    from embedkit.errors import ParameterError
    from embedkit.evaluation import evaluate
    from embedkit import load

    if as_json and as_csv:
        raise ParameterError("--json and --csv exclude each other: pick one")
    if restrict_vocab < 0:
        raise ParameterError(f"--restrict-vocab must be >= 0 (0 = all words), got {restrict_vocab}")
    options = dict(restrict_vocab=restrict_vocab or None, case_insensitive=not case_sensitive,
                   dummy4unknown=dummy4unknown, skip_bad_lines=skip_bad_lines)
    if scheduler is None:
        df = evaluate(load(vectors), suite=suite, sets=sets, methods=methods, **options)
    else:  # analogy questions in chunks (x methods) mapped over Dask workers, same rows
        from embedkit.distributed import connect
        from embedkit.distributed.query import evaluate_on

        with connect(scheduler) as client:
            df = evaluate_on(client, vectors, suite=suite, sets=sets, methods=methods,
                             **options)
    if not sections:
        df = df[df["level"] == "total"]
    if as_json:
        click.echo(json.dumps([_clean(r) for r in df.to_dict(orient="records")], indent=1))
        return
    if as_csv:
        click.echo(df.to_csv(index=False), nl=False)
        return
    rows = []
    for r in df.to_dict(orient="records"):
        label = r["set"] if r["level"] == "total" else f"  {r['set']}/{r['name']}"
        is_acc = r["metric"] in ("3cosadd", "3cosmul")
        rows.append([label, r["metric"], _fmt(r["score"], pct=is_acc),
                     _fmt(r["coverage"], pct=True), str(r["n"])])
    widths = [max(len(h), *(len(row[i]) for row in rows)) if rows else len(h)
              for i, h in enumerate(TABLE_COLUMNS)]
    line = "  ".join(h.ljust(w) if i < 2 else h.rjust(w)
                     for i, (h, w) in enumerate(zip(TABLE_COLUMNS, widths)))
    click.echo(line)
    for row in rows:
        click.echo("  ".join(c.ljust(w) if i < 2 else c.rjust(w)
                             for i, (c, w) in enumerate(zip(row, widths))))
