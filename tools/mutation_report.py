"""Kill rate per module of the last ``mutmut run`` (``make mutation``), and its survivors.

Reads ``mutmut results --all true`` (one ``<module>.<function>__mutmut_<k>: <status>`` line
per mutant) and prints, per module: mutants run, killed (a test failed, or timed out: the
mutant made the code hang), survived, untested (no selected test executes the mutated
function: counted apart, not as killed), and the kill rate over those run; then every
survivor's name (``mutmut show <name>`` prints its diff).
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter, defaultdict

LINE = re.compile(r"^\s*(?P<name>[\w.ǁ]+__mutmut_\d+): (?P<status>[\w ]+?)\s*$")
KILLED = {"killed", "timeout"}
RUN = KILLED | {"survived"}


def main() -> int:
    listing = subprocess.run([sys.executable, "-m", "mutmut", "results", "--all", "true"],
                             capture_output=True, text=True, check=True).stdout
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    survivors: dict[str, list[str]] = defaultdict(list)
    for line in listing.splitlines():
        match = LINE.match(line)
        if match is None:
            continue
        name, status = match["name"], match["status"]
        module = name.rsplit(".", 1)[0]
        counts[module][status] += 1
        if status == "survived":
            survivors[module].append(name)
    print(f"{'module':40s} {'run':>5s} {'killed':>7s} {'survived':>9s} {'untested':>9s} "
          f"{'kill rate':>9s}")
    for module in sorted(counts):
        run = sum(counts[module][s] for s in RUN)
        killed = sum(counts[module][s] for s in KILLED)
        untested = counts[module]["no tests"]
        if run + untested == 0:
            continue
        rate = f"{killed / run:9.1%}" if run else f"{'-':>9s}"
        print(f"{module:40s} {run:5d} {killed:7d} {counts[module]['survived']:9d} "
              f"{untested:9d} {rate}")
    for module in sorted(survivors):
        print(f"\nsurvivors in {module}:")
        for name in survivors[module]:
            print(f"  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
