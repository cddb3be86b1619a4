"""Turn pytest-benchmark JSON into a markdown table and a throughput plot.

    python benchmarks/report.py benchmarks/results/cpu.json [--out benchmarks/results/cpu]

Writes ``OUT.md`` (one row per case: backend, dtype, batch, time, samples/s, GFLOP/s, GEMM
efficiency) and, when matplotlib is installed, ``OUT.png`` (samples/s against batch size, one
line per method/backend/dtype).
"""

from __future__ import annotations

import argparse
import json
import pathlib
from collections import defaultdict


def load_rows(path):
    data = json.loads(pathlib.Path(path).read_text())
    rows = []
    for b in data["benchmarks"]:
        info = b.get("extra_info", {})
        rows.append(dict(
            group=b.get("group") or b["name"], name=b["name"], method=info.get("method", "?"),
            backend=info.get("backend", "?"), dtype=info.get("dtype", "?"),
            batch=info.get("batch", 0), seconds=b["stats"]["min"],
            samples_per_s=info.get("samples_per_s", float("nan")),
            gflops=info.get("gflops", float("nan")), efficiency=info.get("efficiency",
                                                                          float("nan")),
            test_error=info.get("test_error"),
        ))
    return data.get("machine_info", {}), rows


def markdown(machine, rows):
    cpu = machine.get("cpu", {}).get("brand_raw", machine.get("processor", "?"))
    lines = [f"Machine: {cpu}, {machine.get('cpu', {}).get('count', '?')} logical cores; "
             f"Python {machine.get('python_version', '?')}.", "",
             "| group | backend | dtype | batch | time (ms) | samples/s | GFLOP/s | "
             "GEMM efficiency |", "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: |"]
    for r in sorted(rows, key=lambda r: (r["group"], r["backend"], r["dtype"], r["batch"])):
        lines.append(
            f"| {r['group']} | {r['backend']} | {r['dtype']} | {r['batch']} | "
            f"{1e3 * r['seconds']:.2f} | {r['samples_per_s']:.0f} | {r['gflops']:.1f} | "
            f"{100 * r['efficiency']:.0f} % |"
        )
    return "\n".join(lines) + "\n"


def plot(rows, out_png):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib not installed: no plot (pip install 'nmfdnn[plot]')")
        return False
    lines = defaultdict(list)
    for r in rows:
        lines[(r["group"], r["backend"], r["dtype"])].append((r["batch"], r["samples_per_s"]))
    fig, ax = plt.subplots(figsize=(8, 5))
    for (group, backend, dtype), pts in sorted(lines.items()):
        pts.sort()
        ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o",
                label=f"{group} · {backend} · {dtype}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("mini-batch size")
    ax.set_ylabel("samples / s")
    ax.legend(fontsize=6)
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(out_png, dpi=120)
    return True


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("json")
    p.add_argument("--out", default=None, help="output prefix (default: the JSON's path)")
    args = p.parse_args(argv)
    machine, rows = load_rows(args.json)
    out = pathlib.Path(args.out or pathlib.Path(args.json).with_suffix(""))
    out.with_suffix(".md").write_text(markdown(machine, rows))
    print(out.with_suffix(".md").read_text())
    if plot(rows, out.with_suffix(".png")):
        print(f"plot: {out.with_suffix('.png')}")


if __name__ == "__main__":
    main()
