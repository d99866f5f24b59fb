#!/usr/bin/env python3
"""charts.py: draws the benchmark's charts from the data bench.py wrote.

    python3 bench/charts.py [DATA.json] [OUTDIR]

Reads DATA (bench/results.json) and writes one SVG per workload into OUTDIR
(the data's directory), named after the workload's id (bench/a20.svg, ...),
which bench/results.md embeds. Each chart is a horizontal bar per server:
the median of its runs, with a line from the fastest to the slowest run.
Workloads with an ideal time show the time of the last reply (shorter is
better) with the ideal marked; the others show requests/s (longer is
better). When latency.json (bench.py's "latency" scenario) lies beside
DATA, it also draws latency.svg: latency by percentile, one line per
server, on a log scale of 1/(1-p) as wrk2's and HdrHistogram's plots, so
that p99, p99.9 and p99.99 each get as much room as p50 to p90. Needs
matplotlib (Debian's python3-matplotlib, which
`tests/install-deps.sh bench` installs when missing).
"""
import json
import os
import statistics
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the backend)

UP = "#4c78a8"      # the toolkit's servers
PEER = "#bab0ac"    # what users would pick instead
# The same input gives the same bytes: no date, no random ids.
plt.rcParams["svg.hashsalt"] = "up-bench"
plt.rcParams["svg.fonttype"] = "none"
plt.rcParams["font.size"] = 10


def chart(w, path):
    """One chart for workload w; returns False when it has no results."""
    rows = [(name, runs) for name, runs in w["results"].items() if runs]
    if not rows:
        return False
    slow = "ideal" in w
    key = "last" if slow else "rps"
    names = [name for name, _ in rows]
    meds = [statistics.median(r[key] for r in runs) for _, runs in rows]
    lows = [m - min(r[key] for r in runs) for m, (_, runs) in zip(meds, rows)]
    highs = [max(r[key] for r in runs) - m for m, (_, runs) in zip(meds, rows)]
    colors = [UP if name.startswith("up-") else PEER for name in names]

    fig, ax = plt.subplots(figsize=(7.5, 0.42 * len(rows) + 1.3))
    y = range(len(rows))
    ax.barh(y, meds, color=colors, xerr=[lows, highs],
            error_kw={"ecolor": "#333333", "capsize": 2, "lw": 1})
    ax.set_yticks(list(y), names)
    ax.invert_yaxis()
    top = max(m + h for m, h in zip(meds, highs)) or 1
    for i, m in enumerate(meds):
        label = f"{m:.2f} s" if slow else f"{m:,.0f}"
        ax.text(m + highs[i] + top * 0.01, i, label, va="center",
                fontsize=8)
    ax.set_xlim(0, top * 1.18)
    if slow:
        ax.axvline(w["ideal"], color="#2ca02c", ls="--", lw=1)
        ax.set_xlabel(f"time of the last reply, s (shorter is better; "
                      f"ideal {w['ideal']} s, dashed)")
    else:
        ax.set_xlabel("requests/s (longer is better)")
    ax.set_title(w["title"], fontsize=10, loc="left", wrap=True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    fig.tight_layout()
    fig.savefig(path, format="svg", metadata={"Date": None})
    plt.close(fig)
    return True


def latency_chart(d, path):
    """Latency by percentile from latency.json's merged histograms;
    returns False when it has no servers."""
    if not d["servers"]:
        return False
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    top = 0
    for name, points in sorted(d["servers"].items()):
        # the last point is 100%: 1/(1-p) is infinite there, left out
        pts = [(1 / (1 - q / 100), v) for v, q in points if q < 100]
        if not pts:
            continue
        ax.plot([x for x, _ in pts], [v for _, v in pts], label=name,
                lw=1.5, drawstyle="steps-post")
        top = max(top, pts[-1][0])
    ax.set_xscale("log")
    ax.set_yscale("log")
    ticks = [p for p in (50, 90, 99, 99.9, 99.99, 99.999)
             if 1 / (1 - p / 100) <= max(top, 2) * 1.01]
    ax.set_xticks([1 / (1 - p / 100) for p in ticks],
                  [f"p{p:g}" for p in ticks])
    ax.minorticks_off()
    ax.set_xlabel("percentile (log scale of 1/(1-p))")
    ax.set_ylabel("latency, ms (log scale)")
    ax.legend(loc="upper left", frameon=False)
    ax.set_title(d["title"], fontsize=10, loc="left", wrap=True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    fig.tight_layout()
    fig.savefig(path, format="svg", metadata={"Date": None})
    plt.close(fig)
    return True


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    data = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        here, "results.json")
    outdir = sys.argv[2] if len(sys.argv) > 2 else os.path.dirname(
        os.path.abspath(data))
    with open(data) as f:
        d = json.load(f)
    for w in d["workloads"]:
        path = os.path.join(outdir, f"{w['id']}.svg")
        if chart(w, path):
            print(f"charts.py: wrote {path}")
    lat = os.path.join(os.path.dirname(os.path.abspath(data)),
                       "latency.json")
    if os.path.exists(lat):
        with open(lat) as f:
            path = os.path.join(outdir, "latency.svg")
            if latency_chart(json.load(f), path):
                print(f"charts.py: wrote {path}")


if __name__ == "__main__":
    main()
