"""``benchmarks/gpu_suite.py --smoke``: the GPU suite's code paths, on the CPU, in seconds."""

import importlib.util
import json
import os
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
SUITE = ROOT / "benchmarks" / "gpu_suite.py"


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("gpu_smoke")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]))
    proc = subprocess.run([sys.executable, str(SUITE), "--smoke", "--out", str(out)],
                          capture_output=True, text=True, timeout=600, env=env, cwd=ROOT)
    return out, proc


def test_smoke_writes_json_markdown_and_plots(smoke_run):
    out, proc = smoke_run
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    res = json.loads((out / "results.json").read_text())
    assert [p["part"] for p in res["parts"]] == ["machine", "tests", "epoch", "mnist", "orl"]
    assert {p["status"] for p in res["parts"]} == {"done"}
    md = (out / "results.md").read_text()
    for heading in ("## Parts", "## Bare GEMM", "## Test suite", "## One epoch", "## MNIST",
                    "## ORL"):
        assert heading in md
    if importlib.util.find_spec("matplotlib") is None:
        assert "matplotlib is not installed" in md
    else:
        for png in ("epoch.png", "mnist.png"):
            assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len([p for p in out.iterdir()]) <= 6  # what a GPU machine gives back


def test_smoke_records_every_part(smoke_run):
    out, _ = smoke_run
    recs = [json.loads(line) for line in (out / "records.jsonl").read_text().splitlines()]
    kinds = {(r["part"], r["kind"]) for r in recs}
    assert {("machine", "facts"), ("machine", "gemm"), ("tests", "pytest"), ("epoch", "epoch"),
            ("mnist", "curve"), ("orl", "orl-run")} <= kinds
    tests = [r for r in recs if r["kind"] == "pytest"]
    assert tests[0]["status"] == "done" and tests[0]["counts"].get("passed", 0) > 0
    for r in recs:
        if r["kind"] == "epoch":  # throughput follows from the timing
            assert r["samples_per_s"] == pytest.approx(r["samples"] / r["seconds"])
            assert r["gflops"] > 0
    trainers = {r["trainer"] for r in recs if r["kind"] == "epoch"}
    assert {"nmf bias-reg", "nmf original", "nmfdnn BP (Adam)"} <= trainers


def test_cut_part_is_recorded_and_reports_still_written(tmp_path):
    # a budget too short for the part: it is killed, recorded as cut, and the reports exist
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, str(SUITE), "--smoke", "--out", str(tmp_path),
                           "--parts", "machine", "--budget", "machine=0.01"],
                          capture_output=True, text=True, timeout=120, env=env, cwd=ROOT)
    assert proc.returncode == 1
    res = json.loads((tmp_path / "results.json").read_text())
    assert res["parts"][0]["status"] == "cut"
    assert "| machine | cut |" in (tmp_path / "results.md").read_text()


def test_bad_budget_is_rejected(tmp_path):
    proc = subprocess.run([sys.executable, str(SUITE), "--smoke", "--out", str(tmp_path),
                           "--budget", "nope=3"], capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0 and "--budget" in proc.stderr
