"""Before and after, side by side: one benchmark run from two checkouts, alternating.

A change's effect on a shared, noisy machine is only meaningful against the figure before it,
measured in the same run. This runs `bench/<name>.py` from the `--before` checkout and from
this one (or `--after`), alternating for `--rounds` rounds, each writing its JSON; then prints,
for every number the two reports share, the median before, the median after and their ratio.
Rates (`throughput`, `per_s`, `rps`) are better higher; times (`_ms`, `seconds`, `p50`...)
are better lower; a ratio is flagged when it is more than `--tolerance` worse.

Both checkouts run with this interpreter (`fireside up` imports the package from the checkout
it is started in, `cwd`), so they must need the same dependencies.

Usage: python bench/compare.py invoke --before /work/wt-before [--rounds 2] -- --seconds 2
       (arguments after `--` go to the benchmark; `git worktree add DIR <commit>` makes a
       before checkout)
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from common import ROOT, log

#: Names of numbers where higher is better; anything else numeric is taken as a time or cost.
_HIGHER = re.compile(r"throughput|per_s|rps|/s|rate|ratio|passed|speedup", re.I)
#: Numbers that are neither (counts and settings): shown, never flagged.
_NEUTRAL = {
    "requests",
    "count",
    "clients",
    "rounds",
    "seconds",
    "cpus",
    "sent",
    "samples",
    "messages",
}


def leaves(report: Any, prefix: str = "") -> dict[str, float]:
    """Every number in a JSON report, by its path (`runs.fireside.GetItem x1.p50_ms`)."""
    found: dict[str, float] = {}
    if isinstance(report, dict):
        for key, value in report.items():
            found.update(leaves(value, f"{prefix}{key}."))
    elif isinstance(report, list) and report and all(_number(v) for v in report):
        # Samples (one per start, say): their median and best, not each by its position.
        found[f"{prefix}p50"] = float(statistics.median(report))
        found[f"{prefix}min"] = float(min(report))
    elif isinstance(report, list):
        for index, value in enumerate(report):
            found.update(leaves(value, f"{prefix}{index}."))
    elif _number(report):
        found[prefix.rstrip(".")] = float(report)
    return found


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def json_flag(script: Path) -> str:
    text = script.read_text()
    return "--out" if '"--out"' in text and '"--json"' not in text else "--json"


def run_once(tree: Path, name: str, extra: list[str], out: Path) -> dict[str, float]:
    script = tree / "bench" / f"{name}.py"
    command = [sys.executable, str(script), json_flag(script), str(out), *extra]
    log(f"  {tree}: {' '.join(command[1:])}")
    subprocess.run(command, cwd=tree, check=True, stdout=subprocess.DEVNULL)
    return leaves(json.loads(out.read_text()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("name", help="the benchmark: bench/<name>.py")
    parser.add_argument("--before", type=Path, required=True, help="the checkout before")
    parser.add_argument("--after", type=Path, default=ROOT, help="the checkout after (this one)")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--tolerance", type=float, default=0.05, help="flag worse than this")
    parser.add_argument("--json", type=Path, help="write the comparison here")
    argv = sys.argv[1:]
    extra = argv[argv.index("--") + 1 :] if "--" in argv else []
    args = parser.parse_args(argv[: argv.index("--")] if "--" in argv else argv)
    samples: dict[str, list[dict[str, float]]] = {"before": [], "after": []}
    with tempfile.TemporaryDirectory() as scratch:
        for round_ in range(args.rounds):
            log(f"round {round_ + 1}/{args.rounds}")
            for side, tree in (("before", args.before), ("after", args.after)):
                out = Path(scratch) / f"{side}-{round_}.json"
                samples[side].append(run_once(tree.resolve(), args.name, extra, out))
    rows = compare(samples["before"], samples["after"], args.tolerance)
    print(f"{'measure':<64}{'before':>12}{'after':>12}{'after/before':>14}")
    for row in rows:
        flag = "  WORSE" if row["worse"] else ""
        print(
            f"{row['measure'][:63]:<64}{row['before']:>12.4g}{row['after']:>12.4g}"
            f"{row['ratio']:>13.3f}x{flag}"
        )
    if args.json:
        args.json.write_text(json.dumps({"benchmark": args.name, "rows": rows}, indent=2))


def compare(
    before: list[dict[str, float]], after: list[dict[str, float]], tolerance: float
) -> list[dict[str, Any]]:
    """Median of each shared number on each side, the ratio, and whether it got worse."""
    shared = set.intersection(*(set(s) for s in before + after))
    rows = []
    for measure in sorted(shared):
        old = statistics.median(s[measure] for s in before)
        new = statistics.median(s[measure] for s in after)
        ratio = new / old if old else float("inf") if new else 1.0
        last = measure.rsplit(".", 1)[-1]
        if last in _NEUTRAL:
            worse = False
        elif _HIGHER.search(measure):
            worse = ratio < 1 - tolerance
        else:
            worse = ratio > 1 + tolerance
        rows.append(
            {"measure": measure, "before": old, "after": new, "ratio": ratio, "worse": worse}
        )
    return rows


if __name__ == "__main__":
    main()
