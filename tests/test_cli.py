"""``nmfdnn train``: digits end to end, --save, and clear errors."""

import numpy as np
import pytest

import nmfdnn
from nmfdnn.cli import main
from nmfdnn.datasets import load_digits


@pytest.fixture(autouse=True, scope="module")
def _one_blas_thread():
    """OpenBLAS's threaded eigh/solve on small matrices is 10-100x slower than one thread on a
    busy 2-core machine (300x300 eigh: 25 ms vs 0.3-3 s); these tests do many small solves."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):  # BLAS and OpenMP (torch)
        yield


def test_train_digits_and_save(tmp_path, capsys):
    out = tmp_path / "model.npz"
    rc = main(["train", "--epochs", "3", "--hidden", "200", "--no-progress", "--save", str(out)])
    assert rc == 0
    text = capsys.readouterr().out
    assert "digits: 1437 training / 360 test samples" in text
    line = [s for s in text.splitlines() if s.startswith("test accuracy")][0]
    acc = float(line.split()[2])
    assert acc >= 94.0, line
    assert "wall time" in line
    clf = nmfdnn.load_model(out)
    _, _, Xt, yt = load_digits(random_state=0)
    assert abs(100 * clf.score(Xt, yt) - acc) < 0.01


def test_train_original_method(capsys):
    assert main(["train", "--epochs", "2", "--hidden", "100", "--method", "original",
                 "--no-progress"]) == 0
    assert "test accuracy" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["train", "--dataset", "mnist", "--data", "/nonexistent"], "never downloads"),
        (["train", "--backend", "nope"], "unknown backend"),
        (["train", "--batch-size", "5000", "--subset", "100"], "batch_size=5000 is larger"),
        (["train", "--hidden", "a,b"], "--hidden"),
    ],
)
def test_train_errors_are_one_line(argv, message, capsys, monkeypatch):
    monkeypatch.delenv("NMFDNN_DATA", raising=False)
    assert main(argv + ["--no-progress"]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_progress_bar_shows_loss_and_accuracy(capsys):
    assert main(["train", "--epochs", "2", "--hidden", "50"]) == 0
    err = capsys.readouterr().err  # tqdm writes to stderr
    assert "loss=" in err and "test_acc=" in err and "2/2" in err
    assert np.isfinite(1.0)
