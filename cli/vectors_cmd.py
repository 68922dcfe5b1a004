"""``embedkit convert``, ``embedkit info`` and ``embedkit validate``: vector files from the shell."""

from __future__ import annotations

import click

FORMAT_CHOICE = click.Choice(["word2vec-text", "word2vec-binary", "glove", "fasttext",
                              "fasttext-bin", "native"])


def _resolve(path):
    """A path as given, or the vectors of a pretrained name (downloaded once); must exist."""
    import os

    from embedkit.errors import MissingFileError
    from embedkit.vectors.pretrained import resolve

    out = resolve(path)
    if not os.path.exists(out):
        raise MissingFileError(f"{path} does not exist (and is not a pretrained name: see "
                               "`embedkit vectors list`)")
    return out


@click.command()
@click.argument("source", type=click.Path())
@click.argument("target", type=click.Path(), required=False)
@click.option("--format", "fmt", type=FORMAT_CHOICE, default=None,
              help="Output format (default: from TARGET's extension: .txt/.vec text, .bin "
                   "binary, .ekv native; add .gz/.bz2/.xz to compress).")
@click.option("--input-format", type=FORMAT_CHOICE, default=None,
              help="Input format (default: detected from the content).")
@click.option("--limit", type=click.IntRange(min=1), default=None,
              help="Keep only the first N words.")
@click.option("--precision", type=click.IntRange(1, 9), default=None,
              help="Significant digits in text output (default: lossless).")
@click.option("--dtype", type=click.Choice(["float32", "float16", "int8"]), default=None,
              help="Native .ekv output: store the matrix as float32, float16 (half the size) "
                   "or int8 (a quarter; scalar quantisation); queries read it directly "
                   "[default: as stored, float32 from other formats].")
@click.option("--scale", type=click.Choice(["row", "dim"]), default="row", show_default=True,
              help="With --dtype int8: one scale per row or per dimension.")
def convert(source, target, fmt, input_format, limit, precision, dtype, scale):
    """Convert vectors SOURCE to TARGET (any format to any format).

    With TARGET omitted (or equal to SOURCE), SOURCE must be a native .ekv directory: its
    row norms are computed and stored in place (files written before embedkit stored
    norms), or, with --dtype, it is rewritten in place with that storage.  Both are atomic.

    \b
    Examples:
      embedkit convert glove.840B.300d.txt glove.ekv
      embedkit convert vectors.ekv vectors.bin
      embedkit convert GoogleNews.bin.gz top100k.txt --limit 100000
      embedkit convert GoogleNews.bin.gz news-int8.ekv --dtype int8
      embedkit convert old.ekv
    """
    import os

    import embedkit
    from embedkit.vectors import native

    in_place = target is None or (os.path.exists(target)
                                  and os.path.realpath(target) == os.path.realpath(source))
    if in_place:
        if not native.is_native(source):
            raise click.UsageError("give a TARGET: only a native .ekv directory is updated in "
                                   "place")
        if fmt not in (None, "native") or limit is not None or precision is not None:
            raise click.UsageError("--format, --limit and --precision need a TARGET other "
                                   "than SOURCE")
        if dtype is None:
            wrote = native.write_norms(source)
            click.echo(f"stored the row norms in {source}" if wrote
                       else f"{source} already stores its row norms")
            return
        target = source
    v = embedkit.load(_resolve(source), format=input_format, limit=limit)
    v.save(target, format=fmt, precision=precision, dtype=dtype, scale=scale)
    kind = f" ({dtype}{', ' + scale + ' scales' if dtype == 'int8' else ''})" if dtype else ""
    click.echo(f"wrote {len(v)} x {v.dim} vectors to {target}{kind}")


@click.command()
@click.argument("vectors", type=click.Path())
@click.option("--format", "fmt", type=FORMAT_CHOICE, default=None,
              help="Input format (default: detected from the content).")
def info(vectors, fmt):
    """Show count, dimension, format, storage, norm statistics and the memory a query needs.

    The resident-memory estimate counts what a brute-force query touches: the stored
    matrix (memory-mapped for .ekv: its pages are shared and can be dropped by the OS),
    the row norms, the decode buffer, and the index saved beside the vectors.
    """
    import numpy as np

    import embedkit
    from embedkit.vectors.default import is_packed, load_packed
    from embedkit.vectors.loader import detect_format

    vectors = _resolve(vectors)  # a path, or a pretrained name such as `default`
    if is_packed(vectors):
        detected, v = "packed (the shipped default vectors)", load_packed(vectors)
    else:
        detected = fmt or detect_format(vectors)
        v = embedkit.load(vectors, format=fmt)
    st = v.storage
    mapped = isinstance(st.data, np.memmap)
    stored_norms = st.norms_stored
    norms = st.norms
    zero = int((norms == 0).sum())
    mib = 2 ** 20
    click.echo(f"file        {vectors}")
    click.echo(f"format      {detected}")
    click.echo(f"words       {len(v)}")
    click.echo(f"dim         {v.dim}")
    scales = f", {st.scale_axis} scales" if st.scales is not None else ""
    click.echo(f"matrix      {st.data.nbytes / mib:.1f} MiB {st.dtype}{scales}"
               + (" (memory-mapped)" if mapped else ""))
    click.echo(f"row norms   " + ("stored" if stored_norms else
                                  "computed now (not stored; `embedkit convert "
                                  f"{vectors}` stores them)" if detected == "native"
                                  else "computed on load"))
    if len(v):
        q = np.percentile(norms, [0, 50, 100])
        click.echo(f"norms       min {q[0]:.4g}  median {q[1]:.4g}  mean {norms.mean():.4g}  "
                   f"max {q[2]:.4g}  zero rows {zero}")
        click.echo(f"first words {' '.join(v.words[:8])}")
    est = st.resident_estimate()
    query = est["matrix"] + est["norms"] + est["scales"] + est["buffer"]
    click.echo(f"query RAM   {query / mib:.1f} MiB for a brute-force query (matrix "
               f"{est['matrix'] / mib:.1f}{' mapped' if mapped else ''}, norms "
               f"{est['norms'] / mib:.1f}, scales {est['scales'] / mib:.1f}, decode buffer "
               f"{est['buffer'] / mib:.1f})")
    idx = _index_estimate(vectors, len(v), v.dim)
    if idx:
        click.echo(f"index       {idx}")
    if v.counts is not None:
        click.echo(f"counts      {int(v.counts.sum())} tokens")
    for key, value in sorted(v.metadata.items()):
        if key not in ("source", "format"):
            click.echo(f"{key:<11} {value}")


def _index_estimate(vectors, n, dim):
    """One line on the index saved beside ``vectors`` and the memory it takes, or ''."""
    import os

    from embedkit.search.index import index_resident_bytes
    from embedkit.search.store import index_paths, read_json

    index_path, meta_path = index_paths(vectors)
    if not os.path.exists(index_path):
        return ""
    meta = read_json(meta_path) or {}
    size = os.path.getsize(index_path)
    kind = meta.get("kind", "unknown")
    resident = index_resident_bytes(kind, size, n, dim, meta.get("params") or {})
    mib = 2 ** 20
    return (f"{kind}, {size / mib:.1f} MiB file ({index_path}); read into memory "
            f"{resident / mib:.1f} MiB, the rest memory-mapped")


@click.command()
@click.argument("file", type=click.Path())
@click.option("--format", "fmt", type=FORMAT_CHOICE, default=None,
              help="Input format (default: detected from the content).")
def validate(file, fmt):
    """List every malformed line of FILE with its number; exit 1 if there is any."""
    from embedkit.vectors.loader import validate as run

    report = run(_resolve(file), format=fmt)
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
