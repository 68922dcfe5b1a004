"""The shared trainer machinery: jobs, seeding, checkpoints and the Hogwild driver."""

import _thread
import json
import math
import threading
import time

import numpy as np
import pytest

from embedkit.errors import FormatError, MissingFileError, ParameterError
from embedkit import _params as P
from embedkit import errors as E
from embedkit.training import _common as C, checkpoint as CK, driver as D


def test_split_jobs_covers_every_item_once():
    offsets = np.array([0, 3, 10, 12, 30, 31, 40], np.int64)
    bounds = C.split_jobs(offsets, words_per_job=10)
    assert bounds[0] == 0 and bounds[-1] == 6
    assert np.all(np.diff(bounds) > 0)
    assert C.split_jobs(np.array([0], np.int64)).tolist() == [0]


def test_rng_states_are_seeded_and_distinct():
    a, b = C.rng_states(5, 4), C.rng_states(5, 4)
    assert a.dtype == np.uint64 and np.array_equal(a, b)
    assert len(set(a.tolist())) == 4 and 0 not in a
    assert not np.array_equal(a, C.rng_states(6, 4))


def test_checkpoint_round_trip_is_atomic(tmp_path):
    arrays = {"w": np.arange(6, dtype=np.float32).reshape(2, 3), "r": np.ones(2, np.uint64)}
    path = CK.save_checkpoint(tmp_path / "ck", arrays, {"epoch": 1})
    assert path.endswith(".json")
    got, state = CK.load_checkpoint(tmp_path / "ck.npz")
    assert state["epoch"] == 1
    assert all(np.array_equal(got[k], arrays[k]) for k in arrays)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ck.json", "ck.npz"]


def test_truncated_checkpoint_is_refused(tmp_path):
    CK.save_checkpoint(tmp_path / "ck", {"w": np.zeros(100)}, {})
    data = (tmp_path / "ck.npz").read_bytes()
    (tmp_path / "ck.npz").write_bytes(data[:50])
    with pytest.raises(FormatError, match="ck.npz"):
        CK.load_checkpoint(tmp_path / "ck")
    with pytest.raises(MissingFileError):
        CK.load_checkpoint(tmp_path / "other")


def _counting_work(loss=1.0):
    seen = []
    lock = threading.Lock()

    def work(epoch, job, thread):
        with lock:
            seen.append((epoch, job))
        return 10, loss * 10, 10

    return work, seen


@pytest.mark.parametrize("workers", [1, 3])
def test_run_training_runs_every_job_and_keeps_history(workers):
    work, seen = _counting_work()
    hist = D.run_training(work, 4, [10] * 4, 3, workers, progress=False)
    assert sorted(seen) == [(e, j) for e in range(3) for j in range(4)]
    assert [h.epoch for h in hist] == [1, 2, 3]
    assert all(h.words == 40 and h.loss == 1.0 for h in hist)


def test_run_training_starts_at_a_position():
    work, seen = _counting_work()
    prev = [D.EpochRecord(1, 1.0, 40.0, 40, 40, 1.0, 40.0, 0.1)]
    state = {"jobs_done": 2, "words": 20, "loss_sum": 20.0, "loss_count": 20, "seconds": 1.0}
    hist = D.run_training(work, 4, [10] * 4, 2, 1, start=(1, 2), history=prev,
                          epoch_state=state, progress=False)
    assert seen == [(1, 2), (1, 3)]
    assert len(hist) == 2 and hist[1].words == 40 and hist[1].loss_count == 40


def test_nan_loss_stops_training():
    work, _ = _counting_work(loss=math.nan)
    with pytest.raises(E.TrainingDiverged, match="lower --alpha"):
        D.run_training(work, 4, [10] * 4, 2, 2, progress=False)


def test_worker_exception_reaches_the_caller():
    def work(epoch, job, thread):
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        D.run_training(work, 3, [1] * 3, 1, 2, progress=False)


def test_ctrl_c_saves_a_checkpoint_at_a_consistent_position(tmp_path):
    saved = []

    def work(epoch, job, thread):
        if (epoch, job) == (0, 5):
            _thread.interrupt_main()
        time.sleep(0.01)
        return 1, 0.5, 1

    def save(position):
        saved.append(position)
        return "CKPT"

    with pytest.raises(E.TrainingInterrupted, match="--resume CKPT") as info:
        D.run_training(work, 50, [1] * 50, 1, 1, save=save, progress=False)
    assert info.value.checkpoint == "CKPT"
    pos = saved[-1]
    assert pos["epoch"] == 0 and pos["job"] >= 6
    assert pos["epoch_state"]["jobs_done"] == pos["job"]


def test_periodic_checkpoints_and_json_ticks(tmp_path):
    work, _ = _counting_work()
    saved = []
    log = tmp_path / "ticks.jsonl"
    D.run_training(work, 5, [10] * 5, 2, 1, save=lambda p: saved.append(p) or "x",
                   checkpoint_every=1e-9, log_json=str(log), progress=False,
                   lr_at=lambda f: 0.1 * (1 - f))
    assert saved and all(0 <= p["job"] < 5 for p in saved)
    ticks = [json.loads(x) for x in log.read_text().splitlines()]
    assert ticks[-1]["progress"] == 1.0 and ticks[-1]["words"] == 100


@pytest.mark.parametrize("check, value, match", [
    (P.check_positive, 0, "must be > 0"),
    (P.check_positive, float("nan"), "finite"),
    (P.check_non_negative, -1, "must be >= 0"),
    (P.check_positive, "3", "must be a number"),
])
def test_checks(check, value, match):
    with pytest.raises(ParameterError, match=match):
        check("x", value)


def test_history_is_in_epoch_order_when_a_later_epoch_finishes_first():
    # regression: with two workers, epoch 2 finished while a slow thread still held the last
    # job of epoch 1, and the history came out as [epoch 2, epoch 1, ...]
    import threading

    release = threading.Event()

    def work(epoch, job, thread):
        if epoch == 0 and job == 1:
            release.wait(5)  # the last job of epoch 1 is held back ...
        if epoch == 1 and job == 1:
            release.set()    # ... until epoch 2 is done
        return 10, float(epoch + 1), 1

    history = D.run_training(work, 2, [10, 10], 2, 2, progress=False)
    assert [h.epoch for h in history] == [1, 2]
