"""``nmfdnn``: digits end to end, --save, help and --version, and every bad flag answered before
any data is read, naming the flag."""

import re
import sys
import tomllib
from pathlib import Path

import pytest

import nmfdnn
from nmfdnn.cli import build_parser, main
from nmfdnn.datasets import load_digits

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True, scope="module")
def _one_blas_thread():
    """OpenBLAS's threaded eigh/solve on small matrices is 10-100x slower than one thread on a
    busy 2-core machine (300x300 eigh: 25 ms vs 0.3-3 s); these tests do many small solves."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):  # BLAS and OpenMP (torch)
        yield


@pytest.fixture
def no_data(monkeypatch):
    """Every data loader and every fit raises: a test using this proves nothing was read."""
    import sklearn.datasets

    import nmfdnn.datasets
    import nmfdnn.estimators

    def forbidden(*args, **kwargs):
        raise AssertionError("data were read before the arguments were checked")

    for name in ("load_digits", "load_mnist", "fetch_mnist"):
        monkeypatch.setattr(nmfdnn.datasets, name, forbidden)
    monkeypatch.setattr(sklearn.datasets, "load_digits", forbidden)
    for cls in (nmfdnn.estimators.NMFNetworkClassifier, nmfdnn.estimators.BackpropClassifier):
        monkeypatch.setattr(cls, "fit", forbidden)
    monkeypatch.delenv("NMFDNN_DATA", raising=False)


@pytest.mark.parametrize(
    "argv, flag, message",
    [
        (["train", "--hidden", "0"], "--hidden", "every layer width must be >= 1, got '0'"),
        (["train", "--hidden", "500,-1"], "--hidden", "must be >= 1"),
        (["train", "--hidden", "a,b"], "--hidden", "comma-separated layer widths"),
        (["train", "--hidden", ""], "--hidden", "comma-separated layer widths"),
        (["train", "--subset", "0"], "--subset", "must be an integer >= 1, got '0'"),
        (["train", "--subset", "-5"], "--subset", "must be an integer >= 1, got '-5'"),
        (["train", "--subset", "1.5"], "--subset", "expected an integer"),
        (["train", "--epochs", "0"], "--epochs", "must be an integer >= 1, got '0'"),
        (["train", "--inner-iter", "0"], "--inner-iter", ">= 1"),
        (["train", "--batch-size", "0"], "--batch-size", "'auto' or an integer >= 1"),
        (["train", "--batch-size", "big"], "--batch-size", "'auto' or an integer"),
        (["train", "--seed", "-1"], "--seed", ">= 0"),
        (["train", "--omega", "2"], "--omega", r"in \(0, 2\), got '2'"),
        (["train", "--omega", "0"], "--omega", r"in \(0, 2\)"),
        (["train", "--average", "1"], "--average", r"in \[0, 1\)"),
        (["train", "--alpha-W=-1e-3"], "--alpha-W", r"in \[0, inf\)"),
        (["train", "--alpha-W", "big"], "--alpha-W", "expected a number, got 'big'"),
        (["train", "--momentum", "1"], "--momentum", r"in \[0, 1\), got '1'"),
        (["train", "--momentum-epochs", "-1"], "--momentum-epochs", ">= 0"),
        (["train", "--momentum-epochs", "all"], "--momentum-epochs", "expected an integer"),
        (["train", "--alpha-Z", "nan"], "--alpha-Z", r"in \[0, inf\)"),
        (["train", "--rank-tol", "2"], "--rank-tol", r"in \[0, 1\]"),
        (["train", "--dtype", "float16"], "--dtype", "invalid choice"),
        (["train", "--method", "sgd"], "--method", "invalid choice"),
        (["train", "--backend", "nope"], "--backend", "unknown backend 'nope'; choose from"),
        (["train", "--device", "tpu"], "--device", "expected cpu, cuda or cuda:N"),
        (["train", "--save", "/nonexistent/dir/m.npz"], "--save",
         "folder '/nonexistent/dir' does not exist"),
        (["train", "--data", "/nonexistent/data"], "--data", "does not exist"),
        (["train", "--dataset", "cifar"], "--dataset", "invalid choice"),
        (["demo", "--rank", "0"], "--rank", ">= 1"),
        (["demo", "--iters", "-3"], "--iters", ">= 1"),
        (["bench", "--epochs", "0"], "--epochs", ">= 1"),
        (["fetch", "cifar"], "dataset", "invalid choice"),
    ],
)
def test_bad_flag_answered_before_data(argv, flag, message, no_data, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert last.startswith(f"nmfdnn {argv[0]}: error: argument {flag}:"), last
    assert re.search(message, last), last


def test_save_to_a_folder_and_unwritable(no_data, tmp_path, capsys):
    assert main(["train", "--save", str(tmp_path)]) == 2
    assert "argument --save:" in capsys.readouterr().err


def test_missing_backend_reported_before_data(no_data, capsys):
    missing = [b for b in nmfdnn.BACKENDS if b not in nmfdnn.available_backends()]
    if not missing:
        pytest.skip("every backend is installed here")
    assert main(["train", "--backend", missing[0]]) == 2
    err = capsys.readouterr().err
    assert f"argument --backend: backend {missing[0]!r} is not installed" in err


def test_no_command_prints_help(capsys):
    assert main([]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: nmfdnn")
    for command in ("train", "demo", "fetch", "bench"):
        assert f"    {command} " in out


def test_version(capsys):
    assert main(["--version"]) == 0
    expected = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert capsys.readouterr().out.strip() == f"nmfdnn {expected}"


def test_alpha_W_takes_auto_or_a_number():
    """--alpha-W: "auto" (the default, any case) is passed on for the estimator to resolve;
    a number is a float."""
    parser = build_parser()
    assert parser.parse_args(["train"]).alpha_W == "auto"
    assert parser.parse_args(["train", "--alpha-W", "AUTO"]).alpha_W == "auto"
    assert parser.parse_args(["train", "--alpha-W", "3e-2"]).alpha_W == 0.03


def test_momentum_takes_auto_or_a_number_and_its_epochs_none_or_an_int():
    """--momentum: "auto" (the default) or μ; --momentum-epochs: 2 (the default), an int, or
    "none" (every epoch)."""
    parser = build_parser()
    args = parser.parse_args(["train"])
    assert (args.momentum, args.momentum_epochs) == ("auto", 2)
    args = parser.parse_args(["train", "--momentum", "0.5", "--momentum-epochs", "NONE"])
    assert (args.momentum, args.momentum_epochs) == (0.5, None)
    assert parser.parse_args(["train", "--momentum-epochs", "0"]).momentum_epochs == 0


def test_every_option_documented_with_its_default():
    """Each option of each command has help text that says its default (added by the
    formatter, or written out where the default is computed); switches excepted."""
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    for name, command in sub.choices.items():
        formatter = command._get_formatter()
        for action in command._actions:
            if action.dest == "help":
                continue
            assert action.help, (name, action.option_strings)
            if action.option_strings and not isinstance(action.default, bool):
                shown = formatter._get_help_string(action)
                assert "default" in shown, (name, action.option_strings, shown)


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


def test_train_original_method_on_a_subset(capsys):
    assert main(["train", "--epochs", "2", "--hidden", "100", "--method", "original",
                 "--subset", "300", "--no-progress"]) == 0
    assert "digits: 300 training / 360 test samples" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["train", "--dataset", "mnist", "--data", "."], "nmfdnn fetch mnist"),
        (["train", "--batch-size", "500", "--subset", "100"],
         "--batch-size=500 is larger than the number of training samples"),
        (["train", "--subset", "5000"], "argument --subset: 5000 is more than the 1437"),
    ],
)
def test_errors_after_loading_are_one_line_and_name_flags(argv, message, capsys, monkeypatch,
                                                          tmp_path):
    monkeypatch.delenv("NMFDNN_DATA", raising=False)
    monkeypatch.chdir(tmp_path)
    assert main(argv + ["--no-progress", "--epochs", "1"]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_progress_bar_shows_loss_and_accuracy(capsys):
    assert main(["train", "--epochs", "2", "--hidden", "50"]) == 0
    err = capsys.readouterr().err  # tqdm writes to stderr
    assert "loss=" in err and "test_acc=" in err and "2/2" in err


def test_fetch_command(tmp_path, monkeypatch, capsys):
    """``nmfdnn fetch`` hands its flags to fetch_mnist and checks the files it got."""
    import nmfdnn.datasets

    def fake_fetch(kind, data_home, *, base_url, progress):
        assert (kind, data_home, base_url) == ("fashion", str(tmp_path), "http://127.0.0.1:1/")
        raise OSError("could not download http://127.0.0.1:1/train-images-idx3-ubyte.gz")

    monkeypatch.setattr(nmfdnn.datasets, "fetch_mnist", fake_fetch)
    assert main(["fetch", "fashion", "--dir", str(tmp_path), "--base-url",
                 "http://127.0.0.1:1/"]) == 2
    assert "nmfdnn fetch: error: could not download" in capsys.readouterr().err


def test_fetch_without_pooch(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "pooch", None)
    assert main(["fetch", "mnist", "--dir", str(tmp_path)]) == 2
    assert "pip install 'nmfdnn[data]'" in capsys.readouterr().err


def test_bench_prints_both_trainers(capsys):
    assert main(["bench", "--epochs", "10", "--hidden", "50"]) == 0
    rows = capsys.readouterr().out.splitlines()[2:]
    assert [r.split()[0] for r in rows] == ["NMF", "backprop,"]
    # well above chance (10 %) on both; the NMF trainer reaches 95 % here, backprop 86 %
    assert all(75.0 < float(r.split()[-3]) <= 100.0 for r in rows), rows
