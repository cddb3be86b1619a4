"""Every ```python block of README.md and docs/*.md runs as written (on the CPU, in a fresh
process and an empty folder, within a time limit), and so does every gallery example; the
user-facing docs carry no development-machine path and no broken relative link."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import nmfdnn

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", ROOT / "CONTRIBUTING.md", *sorted((ROOT / "docs").glob("*.md"))]
EXAMPLES = sorted((ROOT / "examples").glob("*.py"))
TIME_LIMIT = 180  # seconds per block; each takes a few seconds on one core

_BLOCK = re.compile(r"^```python\n(.*?)^```", re.M | re.S)


def _blocks():
    for page in PAGES:
        text = page.read_text()
        for match in _BLOCK.finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            yield pytest.param(match.group(1), id=f"{page.relative_to(ROOT)}:{line}")


def _run(args, cwd):
    env = dict(os.environ)
    # the nmfdnn under test, wherever it is imported from (source tree or installed)
    package_root = str(Path(nmfdnn.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join([package_root, env.get("PYTHONPATH", "")])
    env.update(MPLBACKEND="Agg", OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1",
               MKL_NUM_THREADS="1", CUDA_VISIBLE_DEVICES="")
    env.pop("NMFDNN_DATA", None)  # what a new user has: no data on disk
    return subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=TIME_LIMIT)


def test_there_are_blocks_to_run():
    assert len(list(_blocks())) >= 4


@pytest.mark.parametrize("code", list(_blocks()))
def test_python_block_runs(code, tmp_path):
    result = _run(["-c", code], tmp_path)
    assert result.returncode == 0, f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"


@pytest.mark.parametrize("example", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_gallery_example_runs(example, tmp_path):
    pytest.importorskip("matplotlib")
    result = _run([str(example)], tmp_path)
    assert result.returncode == 0, f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_no_development_paths_and_no_broken_links(page):
    text = page.read_text()
    assert "../shared" not in text and "/work/" not in text, page
    for target in re.findall(r"\]\((?!https?://|#|mailto:)([^)#\s]+)", text):
        assert (page.parent / target).exists(), f"{page.name}: broken link to {target}"
