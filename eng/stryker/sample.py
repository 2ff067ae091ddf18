#!/usr/bin/env python3
"""A mutation score for a whole project from a random sample of its mutants.

Stryker.NET tests every mutant it is given; over src/Analyzers, src/CodeFixes and src/Runtime/Core that is about 7,000
mutants, many hours on a 2-core machine. This script draws a uniform random sample of them instead and scores it:

  pick   REPORT N SEED OUT.json
         REPORT is a Stryker JSON report that lists every mutant of the project (a run with a one-test filter is
         enough: the mutants it does not reach are listed as NoCoverage). Draws N of the mutants that compile (Stryker
         leaves out those that do not, and those its block filter ignores, from every score), writes them to
         OUT.json and prints one `-m` pattern per file, each with the character spans of its sampled mutants, for a
         second Stryker run with the real test filter. A span may also hold other mutants (a removed block holds
         those inside it); `score` counts only the sampled ones.
  score  SAMPLE.json REPORT [SAMPLE.json REPORT ...]
         Finds each sampled mutant in the second run's report (same file, place, mutator and replacement) and prints
         its status, the survivors, the score of each sample with a 95 % Wilson interval, and, for several projects,
         the score over all of them, each project weighted by its number of mutants.

The score is Stryker's: (killed + timeout) / (killed + timeout + survived + no coverage). See docs/benchmarks.md,
"Mutation testing: the score over every project, sampled".
"""

import json
import math
import os
import random
import sys

EXCLUDED = ("CompileError", "Ignored")
DETECTED = ("Killed", "Timeout")


def line_starts(text):
    starts = [0]
    for index, char in enumerate(text):
        if char == "\n":
            starts.append(index + 1)
    return starts


def span(starts, location):
    start, end = location["start"], location["end"]
    return starts[start["line"] - 1] + start["column"] - 1, starts[end["line"] - 1] + end["column"] - 1


def key(path, mutant):
    location = mutant["location"]
    return (
        "/".join(path.split("/")[-2:]),
        location["start"]["line"], location["start"]["column"], location["end"]["line"], location["end"]["column"],
        mutant["mutatorName"], mutant.get("replacement"),
    )


def pick(report_path, count, seed, out_path):
    report = json.load(open(report_path))
    population = [(path, mutant) for path, data in sorted(report["files"].items())
                  for mutant in data["mutants"] if mutant["status"] not in EXCLUDED]
    if count > len(population):
        sys.exit(f"asked for {count} mutants, the report has {len(population)} that compile")
    picked = random.Random(seed).sample(population, count)
    spans = {}
    rows = []
    for path, mutant in picked:
        source = report["files"][path]["source"]
        start, end = span(line_starts(source), mutant["location"])
        glob = "**/" + "/".join(path.split("/")[-2:])
        spans.setdefault(glob, []).append((start, end))
        rows.append({"key": list(key(path, mutant)), "text": source[start:end][:120]})
    json.dump({"report": os.path.abspath(report_path), "population": len(population), "seed": seed, "picked": rows},
              open(out_path, "w"), indent=1)
    for glob, file_spans in sorted(spans.items()):
        print(glob + "".join("{%d..%d}" % s for s in sorted(set(file_spans))))
    print(f"{count} of {len(population)} mutants", file=sys.stderr)


def wilson(detected, total, z=1.96):
    if total == 0:
        return 0.0, 0.0
    p = detected / total
    centre = (p + z * z / (2 * total)) / (1 + z * z / total)
    half = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / (1 + z * z / total)
    return centre - half, centre + half


def score(pairs):
    weighted, weights, variance = 0.0, 0, 0.0
    for sample_path, report_path in pairs:
        sample = json.load(open(sample_path))
        report = json.load(open(report_path))
        found = {}
        for path, data in report["files"].items():
            for mutant in data["mutants"]:
                found[key(path, mutant)] = mutant
        statuses = {}
        survivors = []
        for row in sample["picked"]:
            mutant = found.get(tuple(row["key"]))
            status = mutant["status"] if mutant else "Missing"
            statuses[status] = statuses.get(status, 0) + 1
            if status not in DETECTED:
                survivors.append((status, row))
        total = sum(n for s, n in statuses.items() if s not in EXCLUDED and s != "Missing")
        detected = sum(statuses.get(s, 0) for s in DETECTED)
        low, high = wilson(detected, total)
        print(f"== {sample_path}: {len(sample['picked'])} of {sample['population']} mutants; "
              + ", ".join(f"{s} {n}" for s, n in sorted(statuses.items())))
        for status, row in survivors:
            file, line, column = row["key"][0], row["key"][1], row["key"][2]
            print(f"   {status:10} {file}:{line}:{column} {row['key'][5]}: {row['text']!r} -> {row['key'][6]!r}")
        if total:
            p = detected / total
            print(f"   score {100 * p:.1f} % ({detected} of {total}); 95 % interval {100 * low:.1f} to {100 * high:.1f} %")
            weighted += sample["population"] * p
            variance += sample["population"] ** 2 * p * (1 - p) / total
            weights += sample["population"]
    if len(pairs) > 1 and weights:
        p = weighted / weights
        half = 1.96 * math.sqrt(variance) / weights
        print(f"== all: {100 * p:.1f} % over {weights} mutants (each project weighted by its mutants); "
              f"95 % interval {100 * (p - half):.1f} to {100 * (p + half):.1f} %")


def main(argv):
    if len(argv) == 5 and argv[0] == "pick":
        pick(argv[1], int(argv[2]), int(argv[3]), argv[4])
    elif len(argv) >= 3 and argv[0] == "score" and len(argv) % 2 == 1:
        score(list(zip(argv[1::2], argv[2::2])))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
