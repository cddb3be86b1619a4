"""``benchmarks/time_to_accuracy.py``: how repeated runs become one row (no training here)."""

import importlib.util
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def tta():
    spec = importlib.util.spec_from_file_location(
        "time_to_accuracy", ROOT / "benchmarks" / "time_to_accuracy.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def record(tta, setup, epoch_seconds, errors, target=2.0):
    """A run's record as ``fit_row`` builds it, from a set-up time and per-epoch figures."""
    cumulative, t = [], setup
    for s in epoch_seconds:
        t += s
        cumulative.append(t)
    t_hit, e_hit = tta.first_reach(errors, cumulative, target)
    return dict(method="m", params={}, test_error=errors, epoch_seconds=epoch_seconds,
                cumulative_seconds=cumulative, setup_seconds=setup, fit_time=cumulative[-1],
                wall_seconds=cumulative[-1], conversion_seconds=0.0, time_to_target=t_hit,
                epoch_to_target=e_hit, final_test_error=errors[-1])


def test_first_reach_is_the_first_epoch_at_or_below_the_target(tta):
    assert tta.first_reach([3.0, 2.0, 1.5], [1.0, 2.0, 3.0], 2.0) == (2.0, 2)
    assert tta.first_reach([3.0, 2.5], [1.0, 2.0], 2.0) == (None, None)


def test_one_run_is_its_own_row(tta):
    r = record(tta, 1.0, [2.0, 2.0], [3.0, 1.9])
    assert tta.merge_runs([r]) is r


def test_repeated_runs_give_the_median_clock_and_time_to_target(tta):
    errors = [3.0, 2.5, 1.9, 1.8]  # the same seed: the same errors, target at epoch 3
    runs = [record(tta, 1.0, [2.0, 2.0, 2.0, 2.0], errors),   # reaches 2 % after 7 s
            record(tta, 3.0, [5.0, 6.0, 4.0, 5.0], errors),   # a slow spell: 18 s
            record(tta, 2.0, [3.0, 1.0, 3.0, 9.0], errors)]   # 9 s
    row = tta.merge_runs(runs)
    assert row["time_to_target"] == 9.0  # the median of 7, 18 and 9 s
    assert row["epoch_to_target"] == 3
    assert row["setup_seconds"] == 2.0
    assert row["epoch_seconds"] == [3.0, 2.0, 3.0, 5.0]  # per-epoch medians
    assert row["cumulative_seconds"] == pytest.approx([5.0, 7.0, 10.0, 15.0])
    assert [r["time_to_target"] for r in row["runs"]] == [7.0, 18.0, 9.0]
    assert [r["fastest_epoch"] for r in row["runs"]] == [2.0, 4.0, 1.0]
    assert row["test_error_runs"] == [errors] * 3
    # the time at the fastest epoch: median set-up + 3 epochs × the fastest epoch of any run
    assert tta.quiet_time(row) == pytest.approx(2.0 + 3 * 1.0)


def test_a_target_reached_by_half_the_runs_or_fewer_is_not_reached(tta):
    runs = [record(tta, 0.0, [1.0, 1.0], [3.0, 1.0]),
            record(tta, 0.0, [1.0, 1.0], [3.0, 2.5]),
            record(tta, 0.0, [1.0, 1.0], [3.0, 2.5])]
    assert tta.merge_runs(runs)["time_to_target"] is None
    assert tta.merge_runs(runs[:1] * 2 + runs[1:2])["time_to_target"] == 2.0


def test_ratio_is_nmfdnn_over_each_pytorch_row(tta):
    nmf = dict(record(tta, 1.0, [2.0, 2.0], [3.0, 1.9]), method="nmfdnn bias-reg (defaults)")
    torch = dict(record(tta, 0.0, [4.0, 4.0], [3.0, 1.9]), method="PyTorch BP (x)")
    slow = dict(record(tta, 0.0, [4.0, 4.0], [3.0, 2.9]), method="PyTorch BP (y)")
    assert tta.ratios({"methods": [nmf, torch, slow]}) == {"PyTorch BP (x)": 5.0 / 8.0,
                                                            "PyTorch BP (y)": None}
