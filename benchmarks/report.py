"""Turn pytest-benchmark JSON into a markdown table and a throughput plot.

    python benchmarks/report.py benchmarks/results/cpu.json [--out benchmarks/results/cpu]

Writes ``OUT.md``: the acceptance table "batch 5000, MNIST [1000, 500]" (per method, one column
per backend/dtype with samples/s and GEMM efficiency; the backpropagation rows at their batch
100), then the full table (one row per case: backend, dtype, batch, time, samples/s, GFLOP/s,
GEMM efficiency).  With matplotlib, ``OUT.png``: one panel per benchmark group, samples/s
against the batch size (groups timed at a single batch size: horizontal bars), one colour per
backend/dtype in every panel, one line style per method.
"""

from __future__ import annotations

import argparse
import json
import math
import pathlib
from collections import defaultdict

#: The batch size of the acceptance table and the one of the backpropagation rows.
HEADLINE_BATCH = 5000
BP_BATCH = 100


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
            test_error=info.get("test_error"), data=info.get("data"),
        ))
    return data.get("machine_info", {}), rows


def _num(x, fmt="{:,.0f}"):
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    return fmt.format(x).replace(",", " ")


def _pct(x):
    return "–" if x is None or math.isnan(x) else f"{100 * x:.0f} %"


def _columns(rows):
    """Backend/dtype pairs in a stable order (numpy first, float32 before float64)."""
    def key(c):
        return (c[0] != "numpy", c[0], c[1])
    return sorted({(r["backend"], r["dtype"]) for r in rows}, key=key)


def headline(rows, batch=HEADLINE_BATCH, bp_batch=BP_BATCH):
    """The acceptance table: every method at ``batch``, the methods timed only at ``bp_batch``
    (backpropagation) at theirs; one column per backend/dtype: ``samples/s · efficiency``."""
    at = [r for r in rows if r["batch"] == batch]
    methods_at = {(r["group"], r["method"]) for r in at}
    only_bp = [r for r in rows if r["batch"] == bp_batch
               and (r["group"], r["method"]) not in methods_at
               and all(o["batch"] == bp_batch for o in rows
                       if (o["group"], o["method"]) == (r["group"], r["method"]))]
    sel = at + only_bp
    if not sel:
        return ""
    cols = _columns(sel)
    groups_of = defaultdict(set)
    for r in sel:
        groups_of[r["method"]].add(r["group"])
    cells = defaultdict(dict)
    order = []
    for r in sel:
        label = r["method"] if len(groups_of[r["method"]]) == 1 else \
            f"{r['method']}: {r['group']}"
        if f"batch {r['batch']}" not in label:
            label += f" (batch {r['batch']})"
        if label not in cells:
            order.append((r["batch"] != batch, r["group"], label))
        cells[label][(r["backend"], r["dtype"])] = r
    data = sorted({r["data"] for r in sel if r.get("data")})
    lines = [f"## batch {batch}, MNIST [1000, 500]", "",
             "Samples/s and GEMM efficiency (GEMM work ÷ time ÷ bare-GEMM rate of the same "
             f"backend and dtype); backpropagation at batch {bp_batch}."
             + (f" Data: {', '.join(data)}." if data else ""), "",
             "| method | " + " | ".join(f"{b} {d}" for b, d in cols) + " |",
             "| --- |" + " ---: |" * len(cols)]
    for *_, label in sorted(order):
        row = [f"| {label} |"]
        for c in cols:
            r = cells[label].get(c)
            row.append(" |" if r is None else
                       f" {_num(r['samples_per_s'])} /s, {_pct(r['efficiency'])} |")
        lines.append("".join(row))
    return "\n".join(lines) + "\n"


def markdown(machine, rows):
    cpu = machine.get("cpu", {}).get("brand_raw", machine.get("processor", "?"))
    lines = [f"Machine: {cpu}, {machine.get('cpu', {}).get('count', '?')} logical cores; "
             f"Python {machine.get('python_version', '?')}.", ""]
    head = headline(rows)
    if head:
        lines += [head, "## all cases", ""]
    lines += ["| group | method | backend | dtype | batch | time (ms) | samples/s | GFLOP/s | "
              "GEMM efficiency |", "| --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: |"]
    for r in sorted(rows, key=lambda r: (r["group"], r["method"], r["backend"], r["dtype"],
                                         r["batch"])):
        lines.append(
            f"| {r['group']} | {r['method']} | {r['backend']} | {r['dtype']} | {r['batch']} | "
            f"{1e3 * r['seconds']:.2f} | {_num(r['samples_per_s'])} | "
            f"{_num(r['gflops'], '{:.1f}')} | {_pct(r['efficiency'])} |"
        )
    return "\n".join(lines) + "\n"


def plot(rows, out_png):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.ticker import FuncFormatter, MaxNLocator
    except ImportError:
        print("matplotlib not installed: no plot (pip install 'nmfdnn[plot]')")
        return False
    groups = sorted({r["group"] for r in rows})
    cols = _columns(rows)
    cmap = plt.get_cmap("tab10")
    colour = {c: cmap(i % 10) for i, c in enumerate(cols)}
    methods = sorted({r["method"] for r in rows})
    styles = ["-", "--", ":", "-."]
    markers = ["o", "s", "^", "D", "v", "P"]
    style = {m: (styles[i % 4], markers[i % 6]) for i, m in enumerate(methods)}
    ncols = min(3, len(groups))
    nrows = math.ceil(len(groups) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(5.2 * ncols, 3.9 * nrows), squeeze=False)
    for ax, group in zip(axes.flat, groups):
        grows = [r for r in rows if r["group"] == group]
        lines = defaultdict(list)
        for r in grows:
            lines[(r["method"], r["backend"], r["dtype"])].append((r["batch"], r["samples_per_s"]))
        single = len({r["batch"] for r in grows}) == 1
        several = len({r["method"] for r in grows}) > 1
        if single:  # one batch size: bars, one per method/backend/dtype
            keys = sorted(lines, key=lambda k: (k[0], cols.index((k[1], k[2]))))
            vals = [lines[k][0][1] for k in keys]
            ax.barh(range(len(keys)), vals, color=[colour[(k[1], k[2])] for k in keys])
            ax.set_yticks(range(len(keys)),
                          [f"{k[0]} · {k[1]} {k[2]}" for k in keys], fontsize=7)
            ax.invert_yaxis()
            ax.set_xlabel(f"samples / s (batch {grows[0]['batch']})")
            ax.xaxis.set_major_locator(MaxNLocator(5))
            ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v / 1e3:g}k" if v else "0"))
            ax.grid(True, axis="x", alpha=0.3)
        else:
            for (method, backend, dtype), pts in sorted(lines.items()):
                pts.sort()
                ls, mk = style[method]
                label = f"{backend} {dtype}" + (f" · {method}" if several else "")
                ax.plot([p[0] for p in pts], [p[1] for p in pts], ls, marker=mk, ms=4,
                        color=colour[(backend, dtype)], label=label)
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_xlabel("mini-batch size")
            ax.set_ylabel("samples / s")
            ax.grid(True, which="both", alpha=0.3)
            ax.legend(fontsize=7)
        ax.set_title(group, fontsize=9)
    for ax in list(axes.flat)[len(groups):]:
        ax.set_visible(False)
    fig.tight_layout()
    fig.savefig(out_png, dpi=120)
    plt.close(fig)
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
