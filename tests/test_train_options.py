"""Options shared by every trainer: case handling and the model switch of embedkit.train."""

import pytest
from click.testing import CliRunner

import embedkit
from embedkit.cli.main import cli

TEXT = "The King and the Queen . The King rides .\n" * 30


@pytest.fixture
def corpus(tmp_path):
    path = tmp_path / "case.txt"
    path.write_text(TEXT)
    return path


@pytest.mark.parametrize("model", ["sgns", "glove"])
def test_keep_case_reaches_the_vocabulary(corpus, tmp_path, model):
    kwargs = dict(dim=4, epochs=1, min_count=1, workers=1, progress=False)
    lower = embedkit.train(corpus, model=model, **kwargs).vectors
    kept = embedkit.train(corpus, model=model, lowercase=False, **kwargs).vectors
    assert "king" in lower and "King" not in lower
    assert "King" in kept and "king" not in kept


def test_train_model_glove_runs_glove(corpus):
    result = embedkit.train(corpus, model="glove", dim=4, epochs=2, min_count=1, workers=1,
                            progress=False)
    assert type(result).__name__ == "GloVeResult"


def test_cli_keep_case(corpus, tmp_path):
    out = tmp_path / "v.txt"
    r = CliRunner().invoke(cli, ["-q", "train", str(corpus), "--keep-case", "--dim", "4",
                                 "--epochs", "1", "--min-count", "1", "--workers", "1",
                                 "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert "King" in embedkit.load(out)
