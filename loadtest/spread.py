#!/usr/bin/env python3
"""Each figure of several runs of one scenario (the harness's --json files): its median,
least and most, and the spread (most / least); with what was lost or duplicated in all.
Used by loadtest/repeat.sh."""

import json
import statistics
import sys


def main(paths):
    runs = [json.load(open(p)) for p in paths]
    figures = {}
    lost = duplicated = 0
    for run in runs:
        outcome = run["outcomes"][0]  # gonghui's; a peer's would follow
        lost += outcome["lost"]
        duplicated += outcome["duplicated"]
        for name, value in outcome["metrics"]:
            figures.setdefault(name, []).append(value)
    print(f"{len(runs)} runs; lost {lost}, duplicated {duplicated}")
    print(f"  {'':<40}{'median':>12}{'least':>12}{'most':>12}{'spread':>9}")
    for name, values in figures.items():
        least, most = min(values), max(values)
        spread = f"{most / least:.2f}" if least > 0 else "-"
        print(f"  {name:<40}{statistics.median(values):>12.2f}{least:>12.2f}{most:>12.2f}{spread:>9}")


if __name__ == "__main__":
    main(sys.argv[1:])
