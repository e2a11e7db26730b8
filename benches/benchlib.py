"""What the benchmarks' renderers share: number formatting, mean ± standard error, reading
JSON lines, and replacing one section of benches/RESULTS.md."""

import json
import math
import statistics
import sys


def sig(x, digits):
    """x with `digits` significant digits, without an exponent between 1e-3 and 1e7."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "—"
    if x == 0:
        return "0"
    if math.isinf(x):
        return "∞" if x > 0 else "−∞"
    e = math.floor(math.log10(abs(x)))
    if e < -3 or e >= 7:
        return f"{x:.{digits - 1}e}"
    if digits - 1 - e < 0:
        return f"{round(x, digits - 1 - e):.0f}"
    return f"{x:.{digits - 1 - e}f}"


def mean_se(values, digits=4):
    """The mean and its standard error, e.g. `0.4112 ± 0.0037`."""
    m = statistics.fmean(values)
    if len(values) < 2:
        return sig(m, digits)
    se = statistics.stdev(values) / math.sqrt(len(values))
    return f"{sig(m, digits)} ± {sig(se, 2)}"


def read(paths):
    """Every JSON line of the files; a line cut short by an interrupted run is skipped."""
    records = []
    for p in paths:
        with open(p) as fh:
            for line in fh:
                line = line.strip()
                if not line:
                    continue
                try:
                    records.append(json.loads(line))
                except ValueError:
                    print(f"render: skipping a line cut short in {p}", file=sys.stderr)
    return records


def replace_section(text, new, heading):
    """`text` with its section `heading` (a `## ` line, up to the next one) replaced by
    `new`, or `new` appended when there is none."""
    lines = text.splitlines(keepends=True)
    start = next((i for i, l in enumerate(lines) if l.rstrip("\n") == heading), None)
    if start is None:
        return text.rstrip("\n") + "\n\n" + new
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")),
               len(lines))
    tail = "".join(lines[end:])
    return "".join(lines[:start]) + new + ("\n" + tail if tail else "")
