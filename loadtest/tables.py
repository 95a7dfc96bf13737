#!/usr/bin/env python3
"""Writes the committed figures as BENCHMARKS.md's tables, so the page says what the JSON
says: every scenario of loadtest/results/ (gonghui beside the peer where it ran), the
machine and the commit of the run (results/run.json), between the markers
<!-- suite:begin --> and <!-- suite:end --> of docs/BENCHMARKS.md. suite.sh runs it."""

import json
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
RESULTS = ROOT / "loadtest" / "results"
PAGE = ROOT / "docs" / "BENCHMARKS.md"
BEGIN, END = "<!-- suite:begin -->", "<!-- suite:end -->"
# The suite's scenarios, in its order; files that are not harness reports are left out.
SCENARIOS = [
    "idle", "idle-100k", "connect-burst", "fanout", "fanout-one", "approvals", "approvals-backlog", "approvals-capacity",
    "approvals-overload", "approvals-wide", "activity",
    "reconnect-storm", "login-flood", "tree-import",
]


def number(value):
    """A figure as a person reads it: whole above 100, three digits below."""
    if value != value:  # NaN
        return "—"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}"


def table(name, report):
    outcomes = report["outcomes"]
    targets = [o["target"] for o in outcomes]
    when = f" (commit `{report['commit']}`, {report['date']})" if "commit" in report else ""
    lines = [f"**{name}**{when}", "", "| figure | " + " | ".join(targets) + " |",
             "|---|" + "---|" * len(targets)]
    figures = {}
    for outcome in outcomes:
        for metric, value in outcome["metrics"]:
            figures.setdefault(metric, {})[outcome["target"]] = value
    for metric, by_target in figures.items():
        cells = [number(by_target[t]) if t in by_target else "" for t in targets]
        lines.append(f"| {metric} | " + " | ".join(cells) + " |")
    checks = [f"{o['target']}: lost {o['lost']}, duplicated {o['duplicated']}"
              + "".join(f", {n} × {cause}" for cause, n in o["failures"].items())
              for o in outcomes]
    lines += ["", "; ".join(checks), ""]
    # The pictures the harness drew of the run (src/plot.rs), where it drew any.
    pictures = [f"![{name}: {chart}](../loadtest/results/{name}-{chart}.svg)"
                for chart in ("deliveries", "latency", "memory")
                if (RESULTS / f"{name}-{chart}.svg").exists()]
    if pictures:
        lines += [" ".join(pictures), ""]
    return lines


def main():
    run_file = RESULTS / "run.json"
    lines = [BEGIN]
    if run_file.exists():
        run = json.loads(run_file.read_text())
        m = run["machine"]
        lines += [f"Last run: commit `{run['commit']}` on {run['date']}, {m['cpus']} cores "
                  f"({m['cpu']}), {m['memory_gib']} GiB, Linux {m['kernel']}, "
                  f"PostgreSQL {m['postgres']}.", ""]
    for name in SCENARIOS:
        path = RESULTS / f"{name}.json"
        if path.exists():
            lines += table(name, json.loads(path.read_text()))
    for extra in ("pgbench", "pgbench-decisions"):
        path = RESULTS / f"{extra}.json"
        if path.exists():
            figures = json.loads(path.read_text())
            lines += [f"**{extra}** ({figures.pop('scenario')}): "
                      + ", ".join(f"{k} {number(v)}" for k, v in figures.items()), ""]
    lines.append(END)
    page = PAGE.read_text()
    if BEGIN not in page or END not in page:
        sys.exit(f"{PAGE} has no {BEGIN} … {END} block")
    head, rest = page.split(BEGIN, 1)
    tail = rest.split(END, 1)[1]
    PAGE.write_text(head + "\n".join(lines) + tail)


if __name__ == "__main__":
    main()
