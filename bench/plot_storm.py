#!/usr/bin/env python3
"""Draws the storm benchmark's time series as docs/images/storm.png.

Usage (from the repository root, after `dotnet run -c Release --project bench/Runtime.Bench -- storm`):

    python3 bench/plot_storm.py [artifacts/storm.csv] [docs/images/storm.png] [--max-connections 151]

Needs matplotlib: `pip install matplotlib`, or on Debian `apt-get install python3-matplotlib` (then run it
with /usr/bin/python3).

The CSV has the columns mode,elapsed_s,ok,failed,threads_connected,max_used, one row per 250 ms sample,
and comment lines: `# setting,<name>,<value>` (tenants, workers, seconds, max_connections) and
`# budget,<mode>,<n>` with the runtime's connection budget.
"""

import argparse
import csv
import sys
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import FuncFormatter  # noqa: E402

LABELS = {"raw": "raw MySqlConnector (one pool per tenant)", "runtime": "TenantDbGuard.Runtime"}
COLORS = {"raw": "#d62728", "runtime": "#1f77b4"}


def read(path):
    series = defaultdict(lambda: defaultdict(list))
    budgets = {}
    settings = {}
    with open(path, newline="", encoding="utf-8") as handle:
        lines = []
        for line in handle:
            if line.startswith("# budget,"):
                _, mode, value = line.strip().split(",")
                budgets[mode] = int(value)
            elif line.startswith("# setting,"):
                _, name, value = line.strip().split(",")
                settings[name] = int(value)
            elif not line.startswith("#"):
                lines.append(line)
    for row in csv.DictReader(lines):
        s = series[row["mode"]]
        s["t"].append(float(row["elapsed_s"]))
        s["ok"].append(int(row["ok"]))
        s["failed"].append(int(row["failed"]))
        s["threads"].append(int(row["threads_connected"]))
        s["max_used"].append(int(row["max_used"]))
    return series, budgets, settings


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("csv", nargs="?", default="artifacts/storm.csv")
    parser.add_argument("png", nargs="?", default="docs/images/storm.png")
    parser.add_argument("--max-connections", type=int, help="the server's max_connections (default: from the CSV, else 151)")
    args = parser.parse_args()

    series, budgets, settings = read(args.csv)
    max_connections = args.max_connections or settings.get("max_connections", 151)
    if not series:
        sys.exit(f"{args.csv} has no samples")
    modes = [m for m in ("raw", "runtime") if m in series] + [m for m in series if m not in ("raw", "runtime")]

    fig, (failures, connections) = plt.subplots(2, 1, figsize=(9, 7.2), sharex=True, constrained_layout=True)
    thousands = FuncFormatter(lambda v, _: f"{v:,.0f}")

    for mode in modes:
        s = series[mode]
        label = LABELS.get(mode, mode)
        total = s["ok"][-1] + s["failed"][-1]
        share = 100.0 * s["failed"][-1] / total if total else 0.0
        failures.plot(s["t"], s["failed"], color=COLORS.get(mode), linewidth=2.2,
                      label=f"{label}: {s['failed'][-1]:,} failed of {total:,} ({share:.0f}%)")
        connections.plot(s["t"], s["threads"], color=COLORS.get(mode), linewidth=2.2,
                         label=f"{label}: peak {max(s['threads'])}")

    failures.set_title("Failed queries (cumulative)", loc="left", fontweight="bold")
    failures.set_ylabel("failed queries")
    failures.yaxis.set_major_formatter(thousands)
    failures.set_ylim(bottom=0)
    failures.legend(loc="upper left", frameon=False)
    failures.grid(alpha=0.3)

    top = max(max_connections, *(max(series[m]["threads"]) for m in modes))
    connections.axhline(max_connections, color="black", linestyle="--", linewidth=1.2)
    connections.annotate(f"server max_connections = {max_connections}", (1, max_connections),
                         xycoords=("axes fraction", "data"), xytext=(-4, 8), textcoords="offset points",
                         fontsize=9, ha="right", bbox={"facecolor": "white", "edgecolor": "none", "pad": 1})
    for mode, budget in budgets.items():
        connections.axhline(budget, color=COLORS.get(mode, "gray"), linestyle=":", linewidth=1.4)
        how = " (default: max_connections - 10 reserved)" if budget == max_connections - 10 else ""
        connections.annotate(f"runtime budget = {budget}{how}", (0, budget),
                             xytext=(4, -13), textcoords="offset points", fontsize=9, color=COLORS.get(mode, "gray"))
    connections.set_title("Server connections (Threads_connected, sampler included)", loc="left", fontweight="bold")
    connections.set_ylabel("connections")
    connections.set_xlabel("seconds since the load started")
    connections.set_ylim(0, top * 1.18)
    connections.set_xlim(left=0)
    connections.legend(loc="center right", frameon=False)
    connections.grid(alpha=0.3)

    first = series[modes[0]]
    shape = ", ".join(part for part in (
        f"{settings['tenants']} tenant databases" if "tenants" in settings else None,
        f"{settings['workers']} concurrent workers" if "workers" in settings else None,
        f"MariaDB max_connections {max_connections}") if part)
    fig.suptitle(f"Connection storm: {shape}\nthe same load twice, each on a freshly restarted server", fontsize=11)
    fig.savefig(args.png, dpi=110)
    print(f"wrote {args.png} ({len(first['t'])} samples per mode)")


if __name__ == "__main__":
    main()
