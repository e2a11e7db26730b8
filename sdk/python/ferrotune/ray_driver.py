"""ferrotune's Ray driver: `python3 -m ferrotune.ray_driver`, one Ray job per experiment.

ferrotune's Ray runner (tasks mode) submits this module once per experiment through Ray's
Job Submission API. It connects back to the controller over gRPC (`RayDriverService.Attach`)
with the token it was given, receives trial launches and cancels, and runs each trial as a
`ray.remote` task with the trial's resources. The task starts the trial's process (argv,
environment and working folder as the controller sent them: never through a shell) in a
process group of its own, streams its output lines back, and returns its exit status.

Its configuration arrives as JSON in FERROTUNE_RAY_DRIVER (the job's runtime_env):

    {"endpoint": "127.0.0.1:7700", "token": "...", "driver_id": "ferrotune_ns_exp_..._driver_...",
     "ca_file": null, "reconnect_for": 120}

Stopping a trial sends SIGTERM to its process group on its node (a small task pinned to that
node), then SIGKILL after the grace period; a trial that has not started yet is cancelled in
Ray's queue. When the connection breaks the driver keeps its trials running and reconnects;
after `reconnect_for` seconds without its controller (or when the controller no longer knows
it) it stops every trial and ends.
"""

from __future__ import annotations

import asyncio
import collections
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Dict, Iterator, List, Mapping, Optional, Tuple

VAR = "FERROTUNE_RAY_DRIVER"

# Output lines are sent in batches of at most this many.
MAX_BATCH = 1000
# A line longer than this is cut (a trial that prints megabytes without a newline).
MAX_LINE = 64 * 1024
# How many of each process's latest output lines are sent again on each new connection.
RESEND_LINES = 2000
# How many ended attempts (with their latest lines) a reconnection offers again.
MAX_ENDED_KEPT = 64
# How many of the latest exit messages are sent again on each new connection.
MAX_RESENT_EXITS = 256
# How long a cancelled trial may take beyond its grace before Ray kills its worker.
CANCEL_SLACK = 10.0


class DriverConfigError(ValueError):
    """FERROTUNE_RAY_DRIVER is missing or malformed."""


def read_config(environ: Mapping[str, str]) -> Dict[str, Any]:
    """The driver's settings, checked."""
    text = environ.get(VAR, "")
    if not text:
        raise DriverConfigError(f"{VAR} is not set: this module is ferrotune's Ray driver")
    try:
        cfg = json.loads(text)
    except ValueError as e:
        raise DriverConfigError(f"{VAR} is not JSON: {e}") from None
    if not isinstance(cfg, dict):
        raise DriverConfigError(f"{VAR} is not a JSON object")
    for key in ("endpoint", "token", "driver_id"):
        if not isinstance(cfg.get(key), str) or not cfg[key]:
            raise DriverConfigError(f"{VAR}: {key} must be a non-empty string")
    ca = cfg.get("ca_file")
    if ca is not None and not isinstance(ca, str):
        raise DriverConfigError(f"{VAR}: ca_file must be a string")
    again = cfg.get("reconnect_for", 120)
    if not isinstance(again, (int, float)) or again < 0:
        raise DriverConfigError(f"{VAR}: reconnect_for must be a number of seconds")
    cfg["reconnect_for"] = float(again)
    return cfg


def exit_status(returncode: int) -> Dict[str, int]:
    """Popen's returncode as the controller wants it: a code, or the signal that ended it."""
    return {"code": returncode} if returncode >= 0 else {"signal": -returncode}


def _die_with_parent() -> None:
    """In the trial's process before exec: killed when the task's worker dies (Linux), so a
    worker Ray kills never leaves the trial running."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except Exception:
        pass


def group_alive(pgid: int) -> bool:
    """Whether a process group has a member that is not a zombie (an orphaned zombie stays
    until something reaps it, which a container's first process may never do)."""
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    try:
        entries = os.listdir("/proc")
    except OSError:
        return True
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rfind(b")") + 2 :].split()
        if len(fields) > 2 and int(fields[2]) == pgid and fields[0] != b"Z":
            return True
    return False


def kill_group(pgid: int, grace: float) -> bool:
    """SIGTERM to a process group, SIGKILL after `grace` seconds if any of it is left, then
    a wait (up to 5 s) for the killed members to be gone: SIGKILL is delivered
    asynchronously, and on a loaded machine a member may still run for a moment after it.
    Whether the group existed."""
    try:
        os.killpg(pgid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    except PermissionError:
        return False
    deadline = time.monotonic() + max(grace, 0.0)
    while time.monotonic() < deadline:
        if not group_alive(pgid):
            return True
        time.sleep(0.05)
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        return True
    deadline = time.monotonic() + 5.0
    while group_alive(pgid) and time.monotonic() < deadline:
        time.sleep(0.01)
    return True


def _ray_node() -> Dict[str, str]:
    import ray

    return {"node_id": ray.get_runtime_context().get_node_id(),
            "node_ip": ray.util.get_node_ip_address()}


def run_trial(spec: Mapping[str, Any], node: Any = None) -> Iterator[Dict[str, Any]]:
    """The body of a trial's Ray task: starts its process and yields, in order,
    {"started": {"pid", "node_id", "node_ip"}}, {"lines": [...]} batches, and
    {"exit": {"code"|"signal": n}} (or {"exit": {"code": 126|127, "error": ...}} when it
    cannot start). `node` says where it runs (default: Ray's node of this worker)."""
    env = dict(os.environ)
    for name, value in spec["env"]:
        env[name] = value
    argv = list(spec["argv"])
    try:
        for d in spec["mkdirs"]:
            os.makedirs(d, exist_ok=True)
        proc = subprocess.Popen(
            argv,
            env=env,
            cwd=spec["cwd"] or None,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
    except FileNotFoundError as e:
        yield {"exit": {"code": 127, "error": f"cannot run {argv[0]!r}: {e}"}}
        return
    except OSError as e:
        yield {"exit": {"code": 126, "error": f"cannot run {argv[0]!r}: {e}"}}
        return
    lines: "queue.Queue[Optional[str]]" = queue.Queue()

    def read() -> None:
        assert proc.stdout is not None
        for raw in proc.stdout:
            lines.put(raw[:MAX_LINE].decode("utf-8", "replace").rstrip("\r\n"))
        lines.put(None)

    reader = threading.Thread(target=read, daemon=True)
    try:
        yield {"started": {"pid": proc.pid, **(node or _ray_node)()}}
        reader.start()
        done = False
        while not done:
            batch: List[str] = []
            item = lines.get()
            while True:
                if item is None:
                    done = True
                    break
                batch.append(item)
                if len(batch) >= MAX_BATCH:
                    break
                try:
                    item = lines.get_nowait()
                except queue.Empty:
                    break
            if batch:
                yield {"lines": batch}
        yield {"exit": exit_status(proc.wait())}
    finally:
        # Cancelled (or the generator closed) while the trial still runs: end its group.
        if proc.poll() is None:
            kill_group(proc.pid, 5.0)
            proc.wait()
        if not reader.is_alive() and proc.stdout is not None:
            proc.stdout.close()


@dataclass
class Member:
    """One replica's task of a trial attempt."""

    rank: int
    gen: Any = None
    pgid: Optional[int] = None
    node_id: str = ""
    node_ip: str = ""
    exit: Optional[Dict[str, Any]] = None  # its {"code"|"signal"|"error": ...}, once ended
    sent: int = 0  # lines of the process sent so far
    # The latest of them, sent again on each new connection (any in flight when one broke
    # are not lost; the controller keeps the ones it lacks by their index).
    recent: Any = field(default_factory=lambda: collections.deque(maxlen=RESEND_LINES))


@dataclass
class Running:
    """A trial attempt the driver runs: one task, or one per replica in a placement group."""

    trial: str
    attempt: int
    members: List[Member] = field(default_factory=list)
    pg: Any = None
    replicas: int = 1
    started: bool = False
    cancel: Optional[float] = None  # the grace, once a cancel was asked for
    cancelled_at: Optional[float] = None
    exited: bool = False
    token: str = ""  # the trial's FERROTUNE_TOKEN, for a controller that re-attaches


def replica_env(rank: int, world: int, local_rank: int, addr: str, port: int) -> List[Tuple[str, str]]:
    """torch.distributed's variables for one replica (and FERROTUNE_REPLICA)."""
    return [("MASTER_ADDR", addr), ("MASTER_PORT", str(port)), ("WORLD_SIZE", str(world)),
            ("RANK", str(rank)), ("LOCAL_RANK", str(local_rank)),
            ("FERROTUNE_REPLICA", str(rank))]


def local_ranks(nodes: List[str]) -> List[int]:
    """Each replica's index among the replicas on its node, in rank order."""
    seen: Dict[str, int] = {}
    out = []
    for n in nodes:
        out.append(seen.get(n, 0))
        seen[n] = seen.get(n, 0) + 1
    return out


def free_port() -> Tuple[str, int]:
    """This node's address and a port free on it now (rank 0's rendezvous)."""
    import socket

    import ray

    with socket.socket() as sock:
        sock.bind(("", 0))
        port = sock.getsockname()[1]
    return ray.util.get_node_ip_address(), port


@dataclass
class Driver:
    cfg: Dict[str, Any]
    ray: Any
    pb: Any
    pb_grpc: Any
    running: Dict[Tuple[str, int], Running] = field(default_factory=dict)
    # Messages for the controller; those not sent when a connection breaks go on the next.
    outbox: Any = field(default_factory=collections.deque)
    wakeup: asyncio.Event = field(default_factory=asyncio.Event)
    # Which connection may take from the outbox: a broken one's sender, still waiting,
    # must not take a message the next connection should carry.
    connection: int = 0
    # Every exit message, resent on each new connection (the runner ignores repeats), so
    # that one in flight when a connection broke is not lost.
    exits: List[Any] = field(default_factory=list)
    # The attempts of those exits, with their report tokens: a controller started again
    # may not have heard of their end, and takes them back to hear it.
    ended: Dict[Tuple[str, int], "Running"] = field(default_factory=dict)
    shutdown: bool = False

    # -- messages

    def send(self, **kind: Any) -> None:
        m = self.pb.DriverMessage(**kind)
        if "exited" in kind:
            self.exits.append(m)
            if len(self.exits) > MAX_RESENT_EXITS:
                # Older ones were delivered long ago (a connection carries them in order).
                del self.exits[: len(self.exits) - MAX_RESENT_EXITS]
        self.outbox.append(m)
        self.wakeup.set()

    def exited(self, r: Running, code: Optional[int] = None, sig: Optional[int] = None,
               error: str = "", not_started: bool = False) -> None:
        if r.exited:
            return
        r.exited = True
        self.running.pop((r.trial, r.attempt), None)
        self.ended[(r.trial, r.attempt)] = r
        while len(self.ended) > MAX_ENDED_KEPT:
            self.ended.pop(next(iter(self.ended)))
        ex = self.pb.TaskExited(trial=r.trial, attempt=r.attempt, error=error,
                                not_started=not_started)
        if code is not None:
            ex.code = code
        if sig is not None:
            ex.signal = sig
        self.send(exited=ex)

    # -- trials

    def launch(self, t: Any) -> None:
        key = (t.trial, t.attempt)
        if key in self.running:
            return  # sent again after a reconnection: it runs already
        resources: Dict[str, Any] = {"num_cpus": t.num_cpus}
        if t.num_gpus:
            resources["num_gpus"] = t.num_gpus
        if t.memory:
            resources["memory"] = t.memory
        if t.resources:
            resources["resources"] = dict(t.resources)
        spec = {"argv": list(t.argv), "env": [(e.name, e.value) for e in t.env],
                "cwd": t.cwd, "mkdirs": list(t.mkdirs)}
        token = next((e.value for e in reversed(t.env) if e.name == "FERROTUNE_TOKEN"), "")
        r = Running(trial=t.trial, attempt=t.attempt, replicas=max(t.replicas, 1), token=token)
        self.running[key] = r
        asyncio.get_running_loop().create_task(self.run_attempt(r, resources, spec))

    async def run_attempt(self, r: Running, resources: Dict[str, Any], spec: Dict[str, Any]) -> None:
        """Starts the attempt's task (or, for replicas, reserves their placement group, finds
        rank 0's address and a free port, and starts one task per replica), follows them,
        and reports the attempt's end."""
        options = dict(resources, max_retries=0, num_returns="streaming")
        try:
            if r.replicas == 1:
                r.members = [Member(rank=0)]
                r.members[0].gen = _trial_task.options(**options).remote(spec)
            else:
                if not await self.place(r, resources):
                    return
                from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy

                def where(i: int) -> Any:
                    return PlacementGroupSchedulingStrategy(
                        placement_group=r.pg, placement_group_bundle_index=i)

                addr, port = await _port_task.options(
                    num_cpus=0, max_retries=0, scheduling_strategy=where(0)).remote()
                table = self.ray.util.placement_group_table(r.pg)
                nodes = [table["bundles_to_node_id"][i] for i in range(r.replicas)]
                local = local_ranks(nodes)
                for i in range(r.replicas):
                    env = list(spec["env"]) + replica_env(i, r.replicas, local[i], addr, port)
                    m = Member(rank=i)
                    m.gen = _trial_task.options(**options, scheduling_strategy=where(i)).remote(
                        dict(spec, env=env))
                    r.members.append(m)
        except Exception as e:  # bad resources, say
            self.exited(r, error=f"Ray refused the task: {type(e).__name__}: {e}", not_started=True)
            self.release(r)
            return
        await asyncio.gather(*(self.follow(r, m) for m in r.members))
        self.finish(r)

    async def place(self, r: Running, resources: Dict[str, Any]) -> bool:
        """Reserves one bundle of the trial's resources per replica, spread over nodes where
        Ray can; waits until they are free. False when cancelled meanwhile."""
        from ray.util.placement_group import placement_group

        bundle: Dict[str, float] = {"CPU": resources["num_cpus"]}
        if "num_gpus" in resources:
            bundle["GPU"] = resources["num_gpus"]
        if "memory" in resources:
            bundle["memory"] = resources["memory"]
        bundle.update(resources.get("resources", {}))
        bundle = {k: v for k, v in bundle.items() if v}
        r.pg = placement_group([bundle] * r.replicas, strategy="SPREAD")
        # One readiness probe (each call of ready() submits a task), polled.
        probe = r.pg.ready()
        while True:
            if r.cancel is not None:
                self.exited(r, error="cancelled before it started", not_started=True)
                self.release(r)
                return False
            ready, _ = self.ray.wait([probe], timeout=0)
            if ready:
                return True
            await asyncio.sleep(0.05)

    def release(self, r: Running) -> None:
        if r.pg is not None:
            from ray.util.placement_group import remove_placement_group

            try:
                remove_placement_group(r.pg)
            except Exception:
                pass
            r.pg = None

    async def follow(self, r: Running, m: Member) -> None:
        """One replica's task, until it ends; a replica that fails ends its gang."""
        try:
            async for ref in m.gen:
                item = await ref
                if "started" in item:
                    s = item["started"]
                    m.pgid, m.node_id, m.node_ip = s["pid"], s["node_id"], s["node_ip"]
                    if r.cancel is not None:
                        self.kill(m, r.cancel)
                    elif not r.started and all(x.pgid is not None for x in r.members):
                        r.started = True
                        first = r.members[0]
                        self.send(started=self.pb.TaskStarted(
                            trial=r.trial, attempt=r.attempt, node_id=first.node_id,
                            node_ip=first.node_ip))
                elif "lines" in item:
                    first = m.sent
                    m.sent += len(item["lines"])
                    m.recent.extend(item["lines"])
                    self.send(output=self.pb.TaskOutput(trial=r.trial, attempt=r.attempt,
                                                        lines=item["lines"], rank=m.rank,
                                                        first_line=first))
                elif "exit" in item:
                    m.exit = item["exit"]
                    if m.exit.get("error"):
                        self.send(output=self.pb.TaskOutput(
                            trial=r.trial, attempt=r.attempt, rank=m.rank,
                            lines=[f"[ferrotune] {m.exit['error']}"]))
            if m.exit is None:
                m.exit = {"error": "the trial's task ended without an exit status"}
        except self.ray.exceptions.TaskCancelledError:
            m.exit = {"signal": signal.SIGTERM} if m.pgid else {
                "error": "cancelled before it started", "not_started": True}
        except Exception as e:  # the worker or its node died, or the task failed
            if r.cancel is not None and m.pgid is None:
                m.exit = {"error": "cancelled before it started", "not_started": True}
            else:
                m.exit = {"error": f"the trial's Ray task failed: {type(e).__name__}: {e}"}
        failed = m.exit.get("code", 0) != 0 or "signal" in m.exit or "error" in m.exit
        if failed and r.replicas > 1 and r.cancel is None:
            # Gang semantics: the others cannot go on without it.
            for other in r.members:
                if other is not m and other.exit is None:
                    self.cancel_member(r, other, 5.0)

    def finish(self, r: Running) -> None:
        """The attempt's end: rank 0's, or the first replica's that failed."""
        self.release(r)
        ends = [m.exit or {} for m in r.members]

        def bad(e: Dict[str, Any]) -> bool:
            return e.get("code", 0) != 0 or "signal" in e or "error" in e

        end = next((e for e in ends if bad(e)), ends[0] if ends else {})
        rank = ends.index(end) if end in ends else 0
        error = end.get("error", "")
        if r.replicas > 1 and bad(end):
            error = f"replica {rank} of {r.replicas} failed" + (f": {error}" if error else "")
            if not end.get("error"):
                self.send(output=self.pb.TaskOutput(
                    trial=r.trial, attempt=r.attempt, lines=[f"[ferrotune] {error}"]))
        self.exited(r, code=end.get("code"), sig=end.get("signal"),
                    error=error if "error" in end else "",
                    not_started=bool(end.get("not_started")))

    def kill(self, m: Member, grace: float) -> None:
        """Ends a replica's process group on its node (SIGTERM, SIGKILL after grace)."""
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        try:
            _kill_task.options(
                num_cpus=0, max_retries=0,
                scheduling_strategy=NodeAffinitySchedulingStrategy(m.node_id, soft=False),
            ).remote(m.pgid, grace)
        except Exception as e:
            print(f"ferrotune.ray_driver: cannot stop a trial's process: {e}", file=sys.stderr,
                  flush=True)

    def cancel_member(self, r: Running, m: Member, grace: float) -> None:
        if m.pgid is not None:
            self.kill(m, grace)
        elif m.gen is not None:
            # Still waiting for resources (or starting): out of Ray's queue; should it have
            # started meanwhile, its "started" item kills it (above).
            try:
                self.ray.cancel(m.gen)
            except Exception:
                pass

    def cancel(self, trial: str, attempt: int, grace: float) -> None:
        r = self.running.get((trial, attempt))
        if r is None or r.cancel is not None:
            return
        r.cancel, r.cancelled_at = grace, time.monotonic()
        for m in r.members:
            self.cancel_member(r, m, grace)

    async def watchdog(self) -> None:
        """Forces out trials that outlived their cancel (their node stopped answering)."""
        while not self.shutdown:
            await asyncio.sleep(1.0)
            now = time.monotonic()
            for r in list(self.running.values()):
                if r.cancelled_at is not None and now - r.cancelled_at > r.cancel + CANCEL_SLACK:
                    for m in r.members:
                        if m.exit is None and m.gen is not None:
                            try:
                                self.ray.cancel(m.gen, force=True)
                            except Exception:
                                pass
                    r.cancelled_at = now

    def stop_all(self, grace: float) -> None:
        for r in list(self.running.values()):
            self.cancel(r.trial, r.attempt, grace)

    # -- the connection

    def hello(self) -> Any:
        running = [self.pb.TaskRef(trial=t, attempt=a, token=r.token)
                   for (t, a), r in self.running.items()]
        running += [self.pb.TaskRef(trial=t, attempt=a, token=r.token)
                    for (t, a), r in self.ended.items()]
        return self.pb.DriverMessage(hello=self.pb.DriverHello(
            driver_id=self.cfg["driver_id"], running=running,
            ray_version=getattr(self.ray, "__version__", "")))

    def channel(self) -> Any:
        import grpc

        from ._client import parse_endpoint

        target, tls = parse_endpoint(self.cfg["endpoint"])
        if tls:
            roots = None
            if self.cfg.get("ca_file"):
                with open(self.cfg["ca_file"], "rb") as f:
                    roots = f.read()
            return grpc.aio.secure_channel(target, grpc.ssl_channel_credentials(roots))
        return grpc.aio.insecure_channel(target)

    async def session(self) -> None:
        """One connection, until it breaks or the controller says to shut down."""
        channel = self.channel()
        self.connection += 1
        mine = self.connection
        try:
            stub = self.pb_grpc.RayDriverServiceStub(channel)

            async def upward() -> Any:
                yield self.hello()
                for r in list(self.running.values()) + list(self.ended.values()):
                    for m in r.members:
                        if m.recent:
                            yield self.pb.DriverMessage(output=self.pb.TaskOutput(
                                trial=r.trial, attempt=r.attempt, rank=m.rank,
                                lines=list(m.recent), first_line=m.sent - len(m.recent)))
                for m in list(self.exits):
                    yield m
                while True:
                    while self.connection == mine and not self.outbox:
                        self.wakeup.clear()
                        await self.wakeup.wait()
                    if self.connection != mine:
                        return
                    yield self.outbox.popleft()

            call = stub.Attach(upward(), metadata=(("authorization", f"Bearer {self.cfg['token']}"),))
            async for cmd in call:
                kind = cmd.WhichOneof("kind")
                if kind == "launch":
                    self.launch(cmd.launch)
                elif kind == "cancel":
                    self.cancel(cmd.cancel.trial, cmd.cancel.attempt, cmd.cancel.grace_seconds)
                elif kind == "shutdown":
                    self.shutdown = True
                    return
        finally:
            # This connection's sender, if still waiting, ends without taking anything.
            self.connection += 1
            self.wakeup.set()
            await channel.close(grace=1.0)

    async def run(self) -> int:
        import grpc

        asyncio.get_running_loop().create_task(self.watchdog())
        alone_since = time.monotonic()
        backoff = 0.1
        while not self.shutdown:
            try:
                await self.session()
                backoff = 0.1
                alone_since = time.monotonic()
            except grpc.aio.AioRpcError as e:
                if e.code() == grpc.StatusCode.UNAUTHENTICATED:
                    print(f"ferrotune.ray_driver: the controller no longer knows this driver "
                          f"({e.details()}); stopping its trials", file=sys.stderr, flush=True)
                    break
                print(f"ferrotune.ray_driver: connection to {self.cfg['endpoint']}: "
                      f"{e.code().name}: {e.details()}", file=sys.stderr, flush=True)
            if self.shutdown:
                break
            if time.monotonic() - alone_since > self.cfg["reconnect_for"]:
                print(f"ferrotune.ray_driver: no controller at {self.cfg['endpoint']} for "
                      f"{self.cfg['reconnect_for']:.0f}s; stopping its trials",
                      file=sys.stderr, flush=True)
                break
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 5.0)
        self.stop_all(5.0)
        deadline = time.monotonic() + 5.0 + CANCEL_SLACK
        while self.running and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        return 0


def _remote_functions() -> Tuple[Any, Any, Any]:
    import ray

    # Imported by the module's own name (this file may run as __main__), so that workers
    # import the functions rather than receive them by value.
    from ferrotune.ray_driver import free_port as port, kill_group as kill, run_trial as trial

    return ray.remote(trial), ray.remote(kill), ray.remote(port)


_trial_task: Any = None
_kill_task: Any = None
_port_task: Any = None


def init_ray(ray: Any) -> None:
    """Connects to the cluster the job runs on (RAY_ADDRESS, set by Ray's job manager)."""
    address = os.environ.get("RAY_ADDRESS", "auto")
    host = address.split("://")[-1].rsplit(":", 1)[0]
    if host in ("127.0.0.1", "localhost"):
        # A head bound to loopback: Ray would turn 127.0.0.1 into the machine's own IP, where
        # nothing answers; keep the address as given.
        import ray._private.services as services

        services.resolve_ip_for_localhost = lambda h: h
        ray.init(address=address, _node_ip_address="127.0.0.1", logging_level="WARNING",
                 log_to_driver=False)
    else:
        ray.init(address=address, logging_level="WARNING", log_to_driver=False)


def main(environ: Optional[Mapping[str, str]] = None) -> int:
    global _trial_task, _kill_task, _port_task
    environ = os.environ if environ is None else environ
    try:
        cfg = read_config(environ)
    except DriverConfigError as e:
        print(f"ferrotune.ray_driver: {e}", file=sys.stderr, flush=True)
        return 2
    import ray

    from ._proto import ferrotune_pb2 as pb
    from ._proto import ferrotune_pb2_grpc as pb_grpc

    init_ray(ray)
    _trial_task, _kill_task, _port_task = _remote_functions()

    async def go() -> int:
        return await Driver(cfg=cfg, ray=ray, pb=pb, pb_grpc=pb_grpc).run()

    try:
        return asyncio.run(go())
    finally:
        ray.shutdown()


if __name__ == "__main__":
    sys.exit(main())
