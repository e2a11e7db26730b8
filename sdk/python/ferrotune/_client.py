"""The client that sends a trial's reports to ferrotune's ReportService."""

from __future__ import annotations

import atexit
import collections
import itertools
import numbers
import operator
import os
import random
import sys
import threading
import time
from datetime import datetime, timezone
from typing import Any, Callable, Deque, Dict, Mapping, Optional, Tuple

import grpc

from . import _env
from ._proto import ferrotune_pb2 as pb
from ._proto import ferrotune_pb2_grpc as pb_grpc

# Failures worth another try: the server is restarting or busy, or the network hiccuped.
RETRYABLE = frozenset(
    {
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.ABORTED,
    }
)

_INT64 = 2**63

# What one attempt to deliver came to.
_SENT, _KEEP, _DROP = "sent", "keep", "drop"


def warn(message: str) -> None:
    """A warning on stderr (looked up at call time, so redirections see it)."""
    try:
        print(f"ferrotune: {message}", file=sys.stderr, flush=True)
    except Exception:  # stderr closed at exit: nothing better to do
        pass


def parse_endpoint(endpoint: str) -> Tuple[str, bool]:
    """`host:port`, `http://host:port` or `https://host:port` -> (target, tls)."""
    text = endpoint.strip()
    tls = False
    lower = text.lower()
    if lower.startswith("https://"):
        text, tls = text[len("https://") :], True
    elif lower.startswith("http://"):
        text = text[len("http://") :]
    text = text.rstrip("/")
    if not text or "/" in text:
        raise ValueError(f"ferrotune endpoint {endpoint!r} is not [http://|https://]host:port")
    return text, tls


def check_metrics(metrics: Mapping[str, Any]) -> Dict[str, float]:
    """Metric values as floats: numbers only (ints become floats, NaN and infinities stay);
    TypeError naming the metric otherwise."""
    if not metrics:
        raise ValueError("report() needs at least one metric, e.g. report(loss=0.25)")
    out: Dict[str, float] = {}
    for name, value in metrics.items():
        if not isinstance(name, str) or not name:
            raise TypeError(f"metric names must be non-empty strings, not {name!r}")
        if (
            isinstance(value, bool)
            or type(value).__name__ == "bool_"  # numpy's bool, in case it is registered
            or not isinstance(value, numbers.Real)
        ):
            raise TypeError(
                f"metric {name!r} must be a number, not {type(value).__name__} ({value!r})"
            )
        try:
            out[name] = float(value)
        except OverflowError:
            raise ValueError(f"metric {name!r} is too large for a double: {value!r}") from None
    return out


def check_step(step: Any) -> Optional[int]:
    """The step as an int64, or None; TypeError for anything but an integer."""
    if step is None:
        return None
    if isinstance(step, bool):
        raise TypeError(f"step must be an integer, not bool ({step!r})")
    try:
        value = operator.index(step)
    except TypeError:
        raise TypeError(f"step must be an integer, not {type(step).__name__} ({step!r})") from None
    if not -_INT64 <= value < _INT64:
        raise ValueError(f"step {value} does not fit in 64 bits")
    return value


def format_line(step: Optional[int], metrics: Mapping[str, float]) -> str:
    """One report as Katib's StdOut collector reads it: `step=N name=value ...`."""
    pairs = [] if step is None else [f"step={step}"]
    pairs += [f"{name}={value!r}" for name, value in metrics.items()]
    return " ".join(pairs)


def now_rfc3339() -> str:
    """The current time, RFC 3339 in UTC with microseconds."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Client:
    """Sends one trial's reports to a ferrotune server.

    Reports are buffered and sent in batches through ReportStream by a daemon thread
    (every `flush_interval` seconds, or as soon as `batch_size` are waiting); `flush()`
    sends them synchronously, and so does an `atexit` hook, so none is lost when the
    process ends normally (also by sys.exit or an unhandled exception).

    Transient failures (UNAVAILABLE, DEADLINE_EXCEEDED, ABORTED) are retried `retries`
    times with exponential backoff; after that the reports stay buffered for the next
    flush and a warning goes to stderr. Other failures (a wrong token, an unknown trial)
    drop the batch with a warning: retrying could not help.
    """

    def __init__(
        self,
        endpoint: str,
        trial: str,
        token: Optional[str] = None,
        *,
        ca_file: Optional[str] = None,
        namespace: str = "",
        flush_interval: float = 0.5,
        batch_size: int = 256,
        retries: int = 5,
        backoff: float = 0.2,
        max_backoff: float = 2.0,
        timeout: float = 30.0,
        exit_timeout: float = 60.0,
    ) -> None:
        if not trial:
            raise ValueError("a ferrotune Client needs the trial's name")
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        target, tls = parse_endpoint(endpoint)
        self.endpoint = endpoint
        self.trial = trial
        # Trial names are unique within a namespace only; empty: the server finds the one
        # running trial of that name the token may report for.
        self.namespace = namespace
        self._metadata = (("authorization", f"Bearer {token}"),) if token else None
        options = [
            # Reconnect quickly after the server restarts, within the retries' time.
            ("grpc.initial_reconnect_backoff_ms", 100),
            ("grpc.min_reconnect_backoff_ms", 100),
            ("grpc.max_reconnect_backoff_ms", int(max_backoff * 1000)),
        ]
        if tls:
            roots = None
            if ca_file:
                with open(ca_file, "rb") as f:
                    roots = f.read()
            creds = grpc.ssl_channel_credentials(root_certificates=roots)
            self._channel = grpc.secure_channel(target, creds, options=options)
        else:
            self._channel = grpc.insecure_channel(target, options=options)
        self._stub = pb_grpc.ReportServiceStub(self._channel)

        self._flush_interval = flush_interval
        self._batch_size = batch_size
        self._retries = retries
        self._backoff = backoff
        self._max_backoff = max_backoff
        self._timeout = timeout
        self._exit_timeout = exit_timeout

        # _cond guards the buffer and the counters; _send_lock makes one sender at a time,
        # so the reports at the buffer's front are the ones being sent.
        self._cond = threading.Condition()
        self._pending: Deque[pb.ReportRequest] = collections.deque()
        self._appended = 0  # reports ever buffered
        self._removed = 0  # reports ever taken off the buffer (sent or dropped)
        self._send_lock = threading.Lock()
        self._thread: Optional[threading.Thread] = None
        self._thread_stopped = False  # at exit or close: reports are sent at once
        self._closed = False
        self._failing = False  # a retryable failure outlasted the retries; warned once
        self._should_stop = False
        self._stop_reason = ""
        atexit.register(self._at_exit)

    @classmethod
    def from_env(
        cls, environ: Optional[Mapping[str, str]] = None, **kwargs: Any
    ) -> Optional["Client"]:
        """A client from FERROTUNE_ENDPOINT, FERROTUNE_TRIAL, FERROTUNE_NAMESPACE,
        FERROTUNE_TOKEN and FERROTUNE_CA_FILE; None when FERROTUNE_ENDPOINT is unset or
        empty."""
        env = os.environ if environ is None else environ
        endpoint = env.get(_env.ENDPOINT, "").strip()
        if not endpoint:
            return None
        trial = env.get(_env.TRIAL, "").strip()
        if not trial:
            raise RuntimeError(f"{_env.ENDPOINT} is set but {_env.TRIAL} is not")
        kwargs.setdefault("ca_file", env.get(_env.CA_FILE) or None)
        kwargs.setdefault("namespace", env.get(_env.NAMESPACE, "").strip())
        return cls(endpoint, trial, env.get(_env.TOKEN) or None, **kwargs)

    # -- reporting -------------------------------------------------------------------

    def report(self, step: Optional[int] = None, **metrics: Any) -> None:
        """Buffers one report of the given metrics at `step` (unset: the server counts),
        stamped with the current time. TypeError when a value is not a number."""
        self.report_metrics(metrics, step=step)

    def report_metrics(self, metrics: Mapping[str, Any], step: Optional[int] = None) -> None:
        """`report` for metric names that are not Python identifiers (`val/loss`)."""
        values = check_metrics(metrics)
        step = check_step(step)
        request = pb.ReportRequest(
            trial=self.trial, namespace=self.namespace, metrics=values, timestamp=now_rfc3339()
        )
        if step is not None:
            request.step = step
        with self._cond:
            if self._closed:
                raise RuntimeError("this ferrotune Client is closed")
            self._pending.append(request)
            self._appended += 1
            if len(self._pending) >= self._batch_size:
                self._cond.notify_all()
            exiting = self._thread_stopped
            if not exiting and self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="ferrotune-reporter", daemon=True
                )
                self._thread.start()
        if exiting:  # after the atexit flush (another atexit hook reporting): send now
            self.flush()

    def flush(self, timeout: Optional[float] = None) -> bool:
        """Sends every report buffered so far; True when all were delivered. `timeout`
        bounds the whole flush, retries included (None: the retries alone bound it)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            target = self._appended
        return self._drain(target, deadline)

    def pending(self) -> int:
        """How many reports wait to be sent."""
        with self._cond:
            return len(self._pending)

    # -- stopping --------------------------------------------------------------------

    def should_stop(self) -> bool:
        """Whether the trial should stop (its early-stopping rule decided, or the experiment
        was stopped). Sends the buffered reports first, so the decision sees them. Once
        True, always True."""
        self.flush()
        if self._should_stop:
            return True
        request = pb.TrialRef(namespace=self.namespace, trial=self.trial)
        outcome, response = self._call(
            "ShouldStop",
            lambda timeout: self._stub.ShouldStop(
                request, metadata=self._metadata, timeout=timeout
            ),
            None,
        )
        if outcome == _SENT and response.should_stop:
            self._remember_stop(response.reason)
        return self._should_stop

    @property
    def stop_reason(self) -> str:
        """Why the trial should stop, when the server said (may be empty)."""
        return self._stop_reason

    def _remember_stop(self, reason: str = "") -> None:
        self._should_stop = True
        if reason and not self._stop_reason:
            self._stop_reason = reason

    # -- lifecycle -------------------------------------------------------------------

    def close(self) -> bool:
        """Flushes, stops the sending thread and closes the channel. True when every
        report was delivered."""
        ok = self._stop_thread_and_flush(None)
        with self._cond:
            self._closed = True
        atexit.unregister(self._at_exit)
        self._channel.close()
        return ok

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _at_exit(self) -> None:
        ok = self._stop_thread_and_flush(time.monotonic() + self._exit_timeout)
        if not ok:
            left = self.pending()
            if left:
                warn(f"{left} reports of trial {self.trial} could not be sent before exit")

    def _stop_thread_and_flush(self, deadline: Optional[float]) -> bool:
        with self._cond:
            self._thread_stopped = True
            self._cond.notify_all()
            target = self._appended
        return self._drain(target, deadline)

    def _run(self) -> None:
        """The sending thread: a batch every flush_interval, or when batch_size wait."""
        while True:
            with self._cond:
                wake = time.monotonic() + self._flush_interval
                while not self._thread_stopped and len(self._pending) < self._batch_size:
                    left = wake - time.monotonic()
                    if left <= 0:
                        break
                    self._cond.wait(left)
                if self._thread_stopped:
                    return
                if not self._pending:
                    continue
                target = self._appended
            try:
                self._drain(target, None)
            except Exception as e:  # never let the thread die silently
                warn(f"sending reports failed: {e!r}")
                time.sleep(self._flush_interval)

    # -- sending ---------------------------------------------------------------------

    def _drain(self, target: int, deadline: Optional[float]) -> bool:
        """Sends batches until the first `target` reports ever buffered are off the buffer.
        False when some were dropped, or could not be sent now (they stay buffered)."""
        ok = True
        with self._send_lock:
            while True:
                with self._cond:
                    if self._removed >= target or not self._pending:
                        return ok
                    batch = list(itertools.islice(self._pending, self._batch_size))
                outcome, response = self._call(
                    "ReportStream",
                    lambda timeout: self._stub.ReportStream(
                        iter(batch), metadata=self._metadata, timeout=timeout
                    ),
                    deadline,
                    count=len(batch),
                )
                if outcome == _KEEP:
                    return False
                if outcome == _DROP:
                    ok = False
                elif response.should_stop:
                    self._remember_stop()
                with self._cond:
                    for _ in batch:
                        self._pending.popleft()
                    self._removed += len(batch)

    def _call(
        self,
        what: str,
        rpc: Callable[[float], Any],
        deadline: Optional[float],
        count: int = 0,
    ) -> Tuple[str, Any]:
        """One RPC with retries: (_SENT, response), (_KEEP, None) when transient failures
        outlasted the retries or the deadline, or (_DROP, None) on another failure."""
        delay = self._backoff
        attempt = 0
        while True:
            timeout = self._timeout
            if deadline is not None:
                timeout = min(timeout, deadline - time.monotonic())
            if timeout <= 0:
                code, details = grpc.StatusCode.DEADLINE_EXCEEDED, "flush timed out"
            else:
                try:
                    response = rpc(timeout)
                except grpc.RpcError as e:
                    code = e.code() if hasattr(e, "code") else grpc.StatusCode.UNKNOWN
                    details = e.details() if hasattr(e, "details") else str(e)
                else:
                    if self._failing:
                        self._failing = False
                        warn(f"{what}: the server answers again")
                    return _SENT, response
            attempt += 1
            name = code.name if code is not None else "UNKNOWN"
            if code in RETRYABLE:
                pause = delay * random.uniform(0.75, 1.25)
                out_of_time = deadline is not None and time.monotonic() + pause >= deadline
                if attempt <= self._retries and not out_of_time:
                    time.sleep(pause)
                    delay = min(delay * 2, self._max_backoff)
                    continue
                if not self._failing:
                    self._failing = True
                    kept = f"; {count} reports stay buffered for the next flush" if count else ""
                    warn(f"{what} to {self.endpoint} failed {attempt} times ({name}: {details}){kept}")
                return _KEEP, None
            lost = f"; dropping {count} reports" if count else ""
            warn(f"{what} to {self.endpoint} failed ({name}: {details}){lost}")
            return _DROP, None

