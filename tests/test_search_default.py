"""How the vectors to query are found, the packed float16 form, and the shipped default vectors."""

import json
import pathlib
import tomllib

import numpy as np
import pytest

import embedkit
from embedkit.errors import FormatError, MissingFileError
from embedkit.search import combination_words
from embedkit.vectors import default


def test_packed_round_trip_is_float16_and_pickle_free(tmp_path, rng):
    v = embedkit.Vectors(["a", "b", "ü"], rng.standard_normal((3, 5)).astype(np.float32))
    default.save_packed(v, tmp_path / "p", {"corpus": "x"})
    raw = np.load(tmp_path / "p" / "vectors.npy", allow_pickle=False)
    assert raw.dtype == np.float16
    back = default.load_packed(tmp_path / "p")
    assert back.words == ["a", "b", "ü"] and back.vectors.dtype == np.float32
    np.testing.assert_allclose(back.vectors, v.vectors, rtol=1e-3, atol=1e-3)
    assert back.metadata == {"corpus": "x"}
    assert default.load_packed(tmp_path / "p", limit=2).words == ["a", "b"]


def test_inconsistent_packed_vectors_are_a_format_error(tmp_path):
    default.save_packed(embedkit.Vectors(["a", "b"], np.eye(2, dtype=np.float32)), tmp_path)
    (tmp_path / "words.json").write_text(json.dumps(["a"]))
    with pytest.raises(FormatError, match="inconsistent"):
        default.load_packed(tmp_path)


def test_resolution_order_flag_then_environment_then_default(tmp_path, monkeypatch):
    packaged = tmp_path / "packaged"
    default.save_packed(embedkit.Vectors(["a"], np.ones((1, 2), dtype=np.float32)), packaged)
    monkeypatch.setattr(default, "default_vectors_dir", lambda: packaged)
    env_file, flag_file = tmp_path / "env.bin", tmp_path / "flag.bin"
    env_file.write_text("")
    flag_file.write_text("")
    monkeypatch.delenv("EMBEDKIT_VECTORS", raising=False)
    assert default.find_vectors() == (str(packaged), "default")
    monkeypatch.setenv("EMBEDKIT_VECTORS", str(env_file))
    assert default.find_vectors() == (str(env_file), "$EMBEDKIT_VECTORS")
    assert default.find_vectors(flag_file) == (str(flag_file), "--vectors")


def test_nothing_to_load_names_every_fix(tmp_path, monkeypatch):
    monkeypatch.setattr(default, "default_vectors_dir", lambda: tmp_path / "missing")
    monkeypatch.delenv("EMBEDKIT_VECTORS", raising=False)
    with pytest.raises(MissingFileError, match=r"--vectors PATH, set \$EMBEDKIT_VECTORS"):
        default.find_vectors()
    monkeypatch.setenv("EMBEDKIT_VECTORS", str(tmp_path / "gone.bin"))
    with pytest.raises(MissingFileError, match=r"from \$EMBEDKIT_VECTORS\) does not exist"):
        default.find_vectors()


def test_default_vectors_are_package_data():
    root = pathlib.Path(__file__).resolve().parents[1]
    data = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert "embedkit.data.default" in data["packages"]
    assert "*" in data["package-data"]["embedkit.data.default"]
    assert default.default_vectors_dir() == root / "embedkit" / "data" / "default"


@pytest.mark.skipif(not default.has_default_vectors(), reason="no default vectors shipped yet")
def test_shipped_default_vectors_answer_queen_and_list_countries():
    d = default.default_vectors_dir()
    assert sum(f.stat().st_size for f in d.iterdir()) < 15e6  # the package stays < 25 MB
    v = default.load_packed(d)
    assert 10_000 <= len(v) <= 60_000 and v.metadata["evaluation"]
    assert combination_words(v, [["king", "woman"]], [["man"]], k=1)[0][0][0] == "queen"
    near = {w for w, _ in combination_words(v, [["france"]], None, k=10)[0]}
    assert len(near & {"germany", "italy", "spain", "england", "russia", "austria", "belgium",
                       "holland", "portugal", "switzerland", "prussia", "europe"}) >= 3
