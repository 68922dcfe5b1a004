"""``embedkit convert``, ``embedkit info`` and ``embedkit validate``: vector files from the shell."""

from __future__ import annotations

import click

FORMAT_CHOICE = click.Choice(["word2vec-text", "word2vec-binary", "glove", "fasttext", "native"])


@click.command()
@click.argument("source", type=click.Path(exists=True))
@click.argument("target", type=click.Path())
@click.option("--format", "fmt", type=FORMAT_CHOICE, default=None,
              help="Output format (default: from TARGET's extension: .txt/.vec text, .bin "
                   "binary, .ekv native; add .gz/.bz2/.xz to compress).")
@click.option("--input-format", type=FORMAT_CHOICE, default=None,
              help="Input format (default: detected from the content).")
@click.option("--limit", type=click.IntRange(min=1), default=None,
              help="Keep only the first N words.")
@click.option("--precision", type=click.IntRange(1, 9), default=None,
              help="Significant digits in text output (default: lossless).")
def convert(source, target, fmt, input_format, limit, precision):
    """Convert vectors SOURCE to TARGET (any format to any format).

    \b
    Examples:
      embedkit convert glove.840B.300d.txt glove.ekv
      embedkit convert vectors.ekv vectors.bin
      embedkit convert GoogleNews.bin.gz top100k.txt --limit 100000
    """
    import embedkit

    v = embedkit.load(source, format=input_format, limit=limit)
    v.save(target, format=fmt, precision=precision)
    click.echo(f"wrote {len(v)} x {v.dim} vectors to {target}")


@click.command()
@click.argument("vectors", type=click.Path(exists=True))
@click.option("--format", "fmt", type=FORMAT_CHOICE, default=None,
              help="Input format (default: detected from the content).")
def info(vectors, fmt):
    """Show count, dimension, format and norm statistics of VECTORS."""
    import numpy as np

    import embedkit
    from embedkit.vectors.loader import detect_format

    detected = fmt or detect_format(vectors)
    v = embedkit.load(vectors, format=fmt)
    norms = np.linalg.norm(v.vectors, axis=1)
    zero = int((norms == 0).sum())
    click.echo(f"file        {vectors}")
    click.echo(f"format      {detected}")
    click.echo(f"words       {len(v)}")
    click.echo(f"dim         {v.dim}")
    click.echo(f"matrix      {v.vectors.nbytes / 2**20:.1f} MiB float32"
               + (" (memory-mapped)" if isinstance(v.vectors, np.memmap) else ""))
    if len(v):
        q = np.percentile(norms, [0, 50, 100])
        click.echo(f"norms       min {q[0]:.4g}  median {q[1]:.4g}  mean {norms.mean():.4g}  "
                   f"max {q[2]:.4g}  zero rows {zero}")
        click.echo(f"first words {' '.join(v.words[:8])}")
    if v.counts is not None:
        click.echo(f"counts      {int(v.counts.sum())} tokens")
    for key, value in sorted(v.metadata.items()):
        if key not in ("source", "format"):
            click.echo(f"{key:<11} {value}")


@click.command()
@click.argument("file", type=click.Path(exists=True))
@click.option("--format", "fmt", type=FORMAT_CHOICE, default=None,
              help="Input format (default: detected from the content).")
def validate(file, fmt):
    """List every malformed line of FILE with its number; exit 1 if there is any."""
    from embedkit.vectors.loader import validate as run

    report = run(file, format=fmt)
    for where, what in report["errors"]:
        click.echo(f"{file}: {where}: {what}")
    for where, what in report["warnings"]:
        click.echo(f"{file}: {where}: warning: {what}")
    n = len(report["errors"])
    summary = (f"{file}: {report['format'] or 'unknown format'}, {report['count']} words"
               + (f" x {report['dim']}" if report["dim"] else "")
               + f", {n} malformed, {len(report['warnings'])} warnings")
    click.echo(summary)
    if n:
        click.get_current_context().exit(1)
