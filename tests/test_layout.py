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
