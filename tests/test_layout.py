"""The module layout stays as docs/design/modules.md describes it: no import circles, lower
layers never import higher ones, and the CLI reads the presets without the kernels."""

import subprocess
import sys

from helpers.imports import cycles, import_graph


def test_no_module_level_import_cycles():
    assert cycles(import_graph()) == []


def test_the_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def _reaches(graph, start, prefix):
    return sorted(m for m in graph[start] if m.startswith(prefix))


def test_vectors_never_import_search():
    graph = import_graph(lazy=True)
    bad = {m: _reaches(graph, m, "embedkit.search") for m in graph
           if m.startswith("embedkit.vectors")}
    assert {m: v for m, v in bad.items() if v} == {}


def test_downstream_file_io_knows_no_model():
    graph = import_graph(lazy=True)
    assert _reaches(graph, "embedkit.downstream.io", "embedkit.downstream") == []


def test_presets_load_without_the_kernels():
    code = ("import sys; import embedkit.downstream.presets as p; p.get('ner'); "
            "print('numba' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_split_modules_keep_their_public_names():
    """Code importing from a module that was split keeps working: the old module
    re-exports what moved out of it."""
    from embedkit.vectors import native, native_reader, scoring, storage

    for name in ("open_native", "load_native", "is_native", "FULL_CHECK_BYTES",
                 "NORM_SAMPLE_ROWS", "NORM_RTOL", "VOCAB_FILE", "VECTORS_FILE", "NORMS_FILE"):
        assert getattr(native, name) is getattr(native_reader, name)
    for name in ("FEW_QUERIES", "DECODE_BYTES", "SCORE_BYTES", "MAX_BLOCK_ROWS"):
        assert getattr(storage, name) is getattr(scoring, name)
    assert issubclass(storage.StoredMatrix, scoring.ScoringMixin)
