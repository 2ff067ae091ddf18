"""Bar chart of the `instances N` runs: successful queries per second of each instance, one group per run.

usage: python3 bench/plot_instances.py OUT.png LOG [LOG ...]
where each LOG is the output of `dotnet run -c Release --project bench/Runtime.Bench -- instances N --workers W`
(several runs may be concatenated in one file, each preceded by a line "=== instances N --workers W").
"""
import re
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def parse(paths):
    runs = []
    for path in paths:
        with open(path, encoding="utf-8") as log:
            for line in log:
                header = re.match(r"instances: (\d+) processes x (\d+) workers", line)
                if header:
                    runs.append({"label": f"{header.group(1)} x {header.group(2)}", "rates": [], "failed": 0})
                    continue
                row = re.match(r"\|\s+(\d+) \|\s+([\d,]+) \|\s+([\d,]+) \|\s+([\d,]+) \|", line)
                if row and runs:
                    runs[-1]["rates"].append(int(row.group(3).replace(",", "")))
                    runs[-1]["failed"] += int(row.group(4).replace(",", ""))
    return [run for run in runs if run["rates"]]


def main():
    out, paths = sys.argv[1], sys.argv[2:]
    runs = parse(paths)
    fig, ax = plt.subplots(figsize=(9, 4.5))
    x = 0
    ticks, labels = [], []
    for run in runs:
        rates = run["rates"]
        positions = [x + i for i in range(len(rates))]
        ax.bar(positions, rates, width=0.8, color="#4c72b0")
        ticks.append(x + (len(rates) - 1) / 2)
        fairness = min(rates) / max(rates)
        labels.append(f"{run['label']}\nslowest/fastest {fairness:.2f}\nfailed {run['failed']}")
        x += len(rates) + 2.5
    ax.set_xticks(ticks)
    ax.set_xticklabels(labels, fontsize=8)
    ax.set_ylabel("successful queries per second, per instance")
    ax.set_title("Instances (processes x workers) with default options on one server, max_connections 151, 300 tenants")
    ax.title.set_fontsize(9)
    fig.tight_layout()
    fig.savefig(out, dpi=110)


if __name__ == "__main__":
    main()
