#!/usr/bin/env python3
"""A sampled mutation score for src/Runtime/Core, each mutant tested against the whole runtime suite.

Stryker.NET runs the runtime's mutants slowly here: its tests start MariaDB, and Stryker's own test runs over the whole
suite (about 6 minutes each) come before any mutant is tested. This script uses Stryker only to list the mutants, then
tests each drawn mutant itself, one at a time, in the clone it is given:

  1. list every mutant of src/Runtime/Core: Stryker with a filter that runs one test (as eng/stryker/sampled-score.sh);
  2. draw COUNT of those that compile (eng/stryker/sample.py pick, the same draw as the other projects');
  3. for each drawn mutant: write Stryker's replacement over its span in the source, build the runtime tests, and run
     the whole suite with xUnit's stop-on-fail (a killed mutant ends at its first failing test, a survivor runs all of
     it), with a hang timeout; then put the source back. A block removed from a method that returns a value becomes
     `{ return default!; }`, as Stryker compiles it. The mutant is built as Stryker builds it, with warnings left as
     warnings (a mutant that only adds a nullable warning or a redundant pattern is tested, not left out).
  4. print the score, (killed + timeout) / (killed + timeout + survived), with a 95 % Wilson interval, and the survivors.

Usage: python3 eng/stryker/runtime-sample.py OUT_DIR [SEED] [COUNT]
The clone's source is changed while a mutant is tested: build or test nothing else in it meanwhile. Results go to
OUT_DIR/results.jsonl (one line per mutant; a run that is stopped carries on where it was), the test output of each
mutant to OUT_DIR/out/. About 1 minute per killed mutant and 6 per survivor on a 2-core machine.
"""

import json
import os
import pathlib
import subprocess
import sys
import time

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(HERE))
import sample  # noqa: E402  (eng/stryker/sample.py)

TESTS = "tests/TenantDbGuard.Runtime.Tests"


def sh(command, **kwargs):
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, **kwargs)


def mariadb_servers():
    """pid -> parent pid of every MariaDB server a test fixture started."""
    servers = {}
    for line in sh(["ps", "-eo", "pid,ppid,args"]).stdout.splitlines()[1:]:
        pid, ppid, args = line.split(None, 2)
        if "mariadbd --no-defaults" in args:
            servers[pid] = ppid
    return servers


def list_mutants(out):
    report = out / "all" / "reports" / "mutation-report.json"
    if report.exists():
        return report
    step = ("source eng/common.sh && dotnet tool restore >/dev/null && ensure_mariadb && cd " + TESTS +
            " && dotnet stryker --target-framework net10.0 --concurrency 2 -r json -f ../../eng/stryker/runtime.json"
            " --test-case-filter 'FullyQualifiedName~TenantInfoTests.Keeps_what_it_is_given' -m '**/Core/**/*.cs'"
            f" -O '{out / 'all'}'")
    result = sh(["bash", "-c", step])
    (out / "all.log").write_text(result.stdout + result.stderr)
    if result.returncode != 0 or not report.exists():
        sys.exit(f"listing the mutants failed; see {out / 'all.log'}")
    # Stryker leaves its mutated assembly in the test project's output: the next build replaces it.
    return report


def replacement_for(mutant, original):
    text = mutant.get("replacement") or ""
    if mutant["mutatorName"] == "Block removal mutation" and text.strip() == "{}":
        return text, "{ return default!; }"
    return text, None


def test_mutant(out, path, mutant, runsettings):
    rel = path[path.index("src/Runtime/"):]
    source_file = ROOT / rel
    original = source_file.read_text()
    start, end = sample.span(sample.line_starts(original), mutant["location"])
    first, fallback = replacement_for(mutant, original[start:end])
    before = set(mariadb_servers())
    started = time.time()
    status, detail = "CompileError", []
    try:
        for text in [first] + ([fallback] if fallback else []):
            source_file.write_text(original[:start] + text + original[end:])
            build = sh(["dotnet", "build", TESTS, "-f", "net10.0", "-p:TreatWarningsAsErrors=false"])
            if build.returncode == 0:
                break
            detail = [line.strip() for line in build.stdout.splitlines() if " error " in line][:2]
        else:
            return rel, status, detail, round(time.time() - started)
        run = sh(["timeout", "1500", "dotnet", "test", TESTS, "-f", "net10.0", "--no-build", "--settings", str(runsettings),
                  "--blame-hang-timeout", "5m"])
        name = "%s_%d_%d.txt" % (rel.split("/")[-1], mutant["location"]["start"]["line"], mutant["location"]["start"]["column"])
        (out / "out" / name).write_text(run.stdout[-20000:] + "\n--- stderr ---\n" + run.stderr[-5000:])
        lines = run.stdout.splitlines()
        failed = [line.strip() for line in lines if line.strip().startswith("Failed ") and "[" in line][:2]
        summary = [line.strip() for line in lines if "Passed!" in line or "Failed!" in line]
        if run.returncode == 124 or any("hang" in line.lower() for line in lines[-40:]) and not failed:
            status = "Timeout"
        elif run.returncode != 0:
            # A test host that ends without a failing test (a crash the mutant caused) kills the mutant too, as in Stryker.
            status = "Killed" if failed else "Crashed"
        else:
            status = "Survived"
        detail = failed + summary
        return rel, status, detail, round(time.time() - started)
    finally:
        source_file.write_text(original)
        # A test host stopped at its first failure leaves its MariaDB server behind (parent 1): stop those it started.
        time.sleep(3)
        for pid, ppid in mariadb_servers().items():
            if ppid == "1" and pid not in before:
                subprocess.run(["kill", "-9", pid])


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    out = pathlib.Path(sys.argv[1]).resolve()
    seed = int(sys.argv[2]) if len(sys.argv) > 2 else 20261205
    count = int(sys.argv[3]) if len(sys.argv) > 3 else 30
    (out / "out").mkdir(parents=True, exist_ok=True)
    report_path = list_mutants(out)
    drawn = out / "sample.json"
    if not drawn.exists():
        with open(out / "patterns.txt", "w") as patterns:
            sys.stdout, saved = patterns, sys.stdout
            try:
                sample.pick(str(report_path), count, seed, str(drawn))
            finally:
                sys.stdout = saved
    report = json.load(open(report_path))
    index = {tuple(sample.key(path, m)): (path, m) for path, data in report["files"].items() for m in data["mutants"]}
    results_path = out / "results.jsonl"
    done = set()
    if results_path.exists():
        done = {tuple(json.loads(line)["key"]) for line in results_path.read_text().splitlines() if line.strip()}
    runsettings = out / "stop-on-fail.runsettings"
    runsettings.write_text("<RunSettings><xUnit><StopOnFail>true</StopOnFail></xUnit></RunSettings>\n")
    for row in json.load(open(drawn))["picked"]:
        key = tuple(row["key"])
        if key in done:
            continue
        path, mutant = index[key]
        rel, status, detail, seconds = test_mutant(out, path, mutant, runsettings)
        record = {"key": list(key), "status": status, "seconds": seconds, "file": rel, "text": row["text"], "detail": detail}
        with open(results_path, "a") as results:
            results.write(json.dumps(record) + "\n")
        print(status, rel, mutant["location"]["start"]["line"], mutant["mutatorName"], f"{seconds} s", flush=True)

    rows = [json.loads(line) for line in results_path.read_text().splitlines() if line.strip()]
    scored = [r for r in rows if r["status"] != "CompileError"]
    detected = sum(r["status"] in ("Killed", "Timeout", "Crashed") for r in scored)
    low, high = sample.wilson(detected, len(scored))
    for r in rows:
        if r["status"] not in ("Killed", "Timeout", "Crashed"):
            print(f"   {r['status']:<12} {r['file']}:{r['key'][1]}:{r['key'][2]} {r['key'][5]}: {r['text'][:80]!r}")
    print(f"   score {100 * detected / max(len(scored), 1):.1f} % ({detected} of {len(scored)}); 95 % interval {100 * low:.1f} to {100 * high:.1f} %"
          f" ({len(rows) - len(scored)} not compiled, left out)")


if __name__ == "__main__":
    main()
