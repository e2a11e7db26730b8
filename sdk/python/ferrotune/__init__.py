"""ferrotune's Python SDK for trial code.

    import ferrotune

    p = ferrotune.params(defaults={"lr": 0.01})
    for epoch in range(10):
        loss = train_one_epoch(p["lr"])
        ferrotune.report(step=epoch, loss=loss)
        if ferrotune.should_stop():
            break

Under ferrotune (FERROTUNE_ENDPOINT set) reports go to the server's ReportService, buffered
and sent in batches by a daemon thread, and flushed at exit. Elsewhere `report` prints
`name=value` lines that Katib's (and ferrotune's) StdOut collector reads, so the same script
runs anywhere.
"""

from __future__ import annotations

import threading
from typing import Any, Mapping, Optional

from ._client import Client, check_metrics, check_step, format_line
from ._env import checkpoint_dir, params, parent_checkpoint_dir

__version__ = "0.1.0"

__all__ = [
    "Client",
    "checkpoint_dir",
    "flush",
    "params",
    "parent_checkpoint_dir",
    "report",
    "report_metrics",
    "should_stop",
]

_default_lock = threading.Lock()
_default_made = False
_default: Optional[Client] = None


def _client() -> Optional[Client]:
    """The default client, made from the environment on first use; None outside ferrotune."""
    global _default, _default_made
    with _default_lock:
        if not _default_made:
            _default = Client.from_env()
            _default_made = True
        return _default


def report(step: Optional[int] = None, **metrics: Any) -> None:
    """Reports metric values at an optional step: `report(step=3, loss=0.25, acc=0.9)`.

    Values must be numbers (ints become floats; NaN and infinities are kept); anything else
    raises TypeError naming the metric. Under ferrotune the report is buffered and sent in
    the background; otherwise one line `step=3 loss=0.25 acc=0.9` is printed to stdout.
    """
    report_metrics(metrics, step=step)


def report_metrics(metrics: Mapping[str, Any], step: Optional[int] = None) -> None:
    """`report` with the metrics in a mapping, for names that are not Python identifiers."""
    client = _client()
    if client is not None:
        client.report_metrics(metrics, step=step)
        return
    values = check_metrics(metrics)
    print(format_line(check_step(step), values), flush=True)


def flush(timeout: Optional[float] = None) -> bool:
    """Sends the buffered reports now; True when all were delivered (always outside
    ferrotune). An atexit hook does this at exit anyway."""
    client = _client()
    return True if client is None else client.flush(timeout)


def should_stop() -> bool:
    """Whether the trial should stop early; sends the buffered reports first. Once True,
    always True. False outside ferrotune."""
    client = _client()
    return False if client is None else client.should_stop()
