"""``embedkit convert``, ``info``, ``validate`` and ``vector``: vector files from the shell."""

from __future__ import annotations

import sys

import click

from embedkit.cli._base import echo_json

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
@click.argument("source", type=click.Path(), metavar="SOURCE")
@click.argument("target", type=click.Path(), required=False, metavar="[TARGET]")
@click.option("--format", "fmt", type=FORMAT_CHOICE, default=None,
              help="Output format (default: from TARGET's extension: .txt/.vec text, .bin "
                   "binary, .ekv native; add .gz/.bz2/.xz to compress).")
@click.option("--input-format", type=FORMAT_CHOICE, default=None,
              help="Input format (default: detected from the content).")
@click.option("--limit", type=click.IntRange(min=1), default=None, metavar="N",
              help="Keep only the first N words.")
@click.option("--precision", type=click.IntRange(1, 9), default=None, metavar="DIGITS",
              help="Significant digits in text output, 1 to 9 (default: lossless).")
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
    TARGET's name, format and directory are checked before SOURCE is read.

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
    else:
        from embedkit.vectors.output import check_output

        check_output(target, fmt)
    v = embedkit.load(_resolve(source), format=input_format, limit=limit)
    v.save(target, format=fmt, precision=precision, dtype=dtype, scale=scale)
    kind = f" ({dtype}{', ' + scale + ' scales' if dtype == 'int8' else ''})" if dtype else ""
    click.echo(f"wrote {len(v)} x {v.dim} vectors to {target}{kind}")


def _summary_value(key, value, width: int = 100) -> str:
    """A metadata value as one readable line: dicts as key=value, histories summarised."""
    if key == "history" and isinstance(value, list) and value and isinstance(value[-1], dict):
        last = value[-1]
        parts = [f"{len(value)} epochs"]
        if "loss" in last:
            parts.append(f"last loss {last['loss']:.4f}")
        if "words_per_sec" in last:
            parts.append(f"{last['words_per_sec']:,.0f} words/s")
        total = sum(float(h.get("seconds", 0) or 0) for h in value)
        parts.append(f"{total:.1f} s in all")
        return ", ".join(parts)
    if isinstance(value, dict):
        flat = [f"{k}={v}" for k, v in value.items() if not isinstance(v, (dict, list))]
        text = " ".join(flat)
    elif isinstance(value, list):
        text = f"{len(value)} items" if len(str(value)) > width else ", ".join(map(str, value))
    else:
        text = str(value)
    return text if len(text) <= width else text[: width - 3] + "..."


def vectors_info(vectors, fmt=None) -> dict:
    """The facts ``embedkit info`` shows, as a JSON-ready dict."""
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
    norms = st.norms
    info = {"file": str(vectors), "format": detected, "words": len(v), "dim": v.dim,
            "dtype": str(st.dtype), "scale_axis": st.scale_axis if st.scales is not None
            else None, "matrix_bytes": int(st.data.nbytes),
            "memory_mapped": isinstance(st.data, np.memmap),
            "norms_stored": bool(st.norms_stored)}
    if len(v):
        q = np.percentile(norms, [0, 50, 100])
        info["norms"] = {"min": float(q[0]), "median": float(q[1]),
                         "mean": float(norms.mean()), "max": float(q[2]),
                         "zero_rows": int((norms == 0).sum())}
        info["first_words"] = list(v.words[:8])
    info["query_ram_bytes"] = {k: int(x) for k, x in st.resident_estimate().items()}
    info["index"] = _index_estimate(vectors, len(v), v.dim) or None
    if v.counts is not None:
        info["tokens"] = int(v.counts.sum())
    info["metadata"] = {k: val for k, val in v.metadata.items()
                        if k not in ("source", "format")}
    return info


@click.command()
@click.argument("vectors", type=click.Path(), metavar="VECTORS")
@click.option("--format", "fmt", type=FORMAT_CHOICE, default=None,
              help="Input format (default: detected from the content).")
@click.option("--json", "as_json", is_flag=True,
              help="Print one JSON object with every fact and the full metadata.")
def info(vectors, fmt, as_json):
    """Show count, dimension, format, storage, norm statistics, the memory a query needs
    and a summary of how the vectors were trained.

    The resident-memory estimate counts what a brute-force query touches: the stored
    matrix (memory-mapped for .ekv: its pages are shared and can be dropped by the OS),
    the row norms, the decode buffer, and the index saved beside the vectors.  Long
    metadata (training history, corpus details) is shortened; --json prints all of it.
    """
    facts = vectors_info(vectors, fmt)
    if as_json:
        echo_json(facts)
        return
    mib = 2 ** 20
    mapped = facts["memory_mapped"]
    scales = f", {facts['scale_axis']} scales" if facts["scale_axis"] else ""
    rows = [("file", facts["file"]), ("format", facts["format"]), ("words", facts["words"]),
            ("dim", facts["dim"]),
            ("matrix", f"{facts['matrix_bytes'] / mib:.1f} MiB {facts['dtype']}{scales}"
                       + (" (memory-mapped)" if mapped else "")),
            ("row norms", "stored" if facts["norms_stored"] else
             "computed now (not stored; `embedkit convert "
             f"{vectors}` stores them)" if facts["format"] == "native" else "computed on load")]
    if "norms" in facts:
        n = facts["norms"]
        rows.append(("norms", f"min {n['min']:.4g}  median {n['median']:.4g}  mean "
                              f"{n['mean']:.4g}  max {n['max']:.4g}  zero rows "
                              f"{n['zero_rows']}"))
        rows.append(("first words", " ".join(facts["first_words"])))
    est = facts["query_ram_bytes"]
    query = est["matrix"] + est["norms"] + est["scales"] + est["buffer"]
    rows.append(("query RAM", f"{query / mib:.1f} MiB for a brute-force query (matrix "
                              f"{est['matrix'] / mib:.1f}{' mapped' if mapped else ''}, norms "
                              f"{est['norms'] / mib:.1f}, scales {est['scales'] / mib:.1f}, "
                              f"decode buffer {est['buffer'] / mib:.1f})"))
    if facts["index"]:
        rows.append(("index", facts["index"]))
    if "tokens" in facts:
        rows.append(("counts", f"{facts['tokens']} tokens"))
    order = ["trainer", "embedkit_version", "params", "corpus", "history"]
    meta = facts["metadata"]
    for key in sorted(meta, key=lambda k: (order.index(k) if k in order else len(order), k)):
        label = "version" if key == "embedkit_version" else key.replace("_", " ")
        rows.append((label, _summary_value(key, meta[key])))
    for key, value in rows:
        click.echo(f"{key:<11} {value}")


def _index_estimate(vectors, n, dim):
    """One line on the index saved beside ``vectors`` and the memory it takes, or ''."""
    import os

    from embedkit.search.store import index_paths, index_resident_bytes, read_json

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
@click.argument("file", type=click.Path(), metavar="FILE")
@click.option("--format", "fmt", type=FORMAT_CHOICE, default=None,
              help="Input format (default: detected from the content).")
@click.option("--json", "as_json", is_flag=True,
              help="Print one JSON object: format, count, dim, errors and warnings (each a "
                   "{where, what} object).")
def validate(file, fmt, as_json):
    """List every malformed line of FILE with its number; exit 1 if there is any."""
    from embedkit.vectors.loader import validate as run

    report = run(_resolve(file), format=fmt)
    n = len(report["errors"])
    if as_json:
        out = dict(report)
        out["errors"] = [{"where": w, "what": m} for w, m in report["errors"]]
        out["warnings"] = [{"where": w, "what": m} for w, m in report["warnings"]]
        out["valid"] = n == 0
        echo_json(out)
    else:
        for where, what in report["errors"]:
            click.echo(f"{file}: {where}: {what}")
        for where, what in report["warnings"]:
            click.echo(f"{file}: {where}: warning: {what}")
        summary = (f"{file}: {report['format'] or 'unknown format'}, {report['count']} words"
                   + (f" x {report['dim']}" if report["dim"] else "")
                   + f", {n} malformed, {len(report['warnings'])} warnings")
        click.echo(summary)
    if n:
        click.get_current_context().exit(1)


@click.command("vector")
@click.argument("words", nargs=-1)
@click.option("--vectors", "vectors_path", type=click.Path(), metavar="PATH",
              help="Vectors to read (any format embedkit.load reads). "
                   "Default: $EMBEDKIT_VECTORS, else the vectors shipped with embedkit.")
@click.option("--json", "as_json", is_flag=True,
              help='Print one JSON object {"word", "vector"} per line.')
def vector(words, vectors_path, as_json):
    """Print the vector of each WORD: the word, then its values, space-separated.

    With no words, reads words from stdin (one or more per line), like fastText's
    print-word-vectors.  An unknown word is reported (with the closest spellings) and the
    command exits 1 after printing the others.

    \b
    Examples:
      embedkit vector king queen
      echo king | embedkit vector --vectors vectors.bin
    """
    from embedkit.errors import UnknownWordError
    from embedkit.vectors.default import load_vectors

    if not words:
        if sys.stdin.isatty():
            raise click.UsageError("give words as arguments, or on stdin")
        words = sys.stdin.read().split()
    v, _ = load_vectors(vectors_path)
    failed = 0
    for word in words:
        try:
            key = word if word in v or word.lower() not in v else word.lower()
            row = v[key]
        except UnknownWordError as exc:
            failed += 1
            click.echo(f"Error: {exc}", err=True)
            continue
        if as_json:
            echo_json({"word": word, "vector": [float(x) for x in row]})
        else:
            click.echo(word + " " + " ".join(f"{float(x):.6g}" for x in row))
    if failed:
        click.get_current_context().exit(1)
