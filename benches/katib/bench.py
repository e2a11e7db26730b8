"""Katib-compatible GetSuggestions latency with a long history, against Optuna's ask time.

    bench.py --address HOST:PORT [--proto proto/katib/api.proto] [--history 1000]
             [--warmup 20] [--calls 200] [--asks 200] [--algorithms a,b]
             [--meta META.json] [--results benches/RESULTS.md] [--json OUT.json]

run.sh starts `ferrotune server`, then runs this. One GetSuggestionsRequest per algorithm
is built as Katib's controller builds it (the experiment, and all its trials: parameter
assignments and observation metrics as strings), with `--history` completed trials on
Hartmann-6's [0, 1]^6 (random points from a fixed seed, their Hartmann-6 values as the
loss) and current_request_number 1. The same request is sent `--warmup` times untimed,
then `--calls` times timed, each time from building the call to the decoded reply
(serialisation included), through the stubs generated from the project's .proto.

On Optuna's side, a study holds the same trials (`study.add_trials` of
`optuna.trial.create_trial`, the same six FloatDistribution(0, 1)), and the time of
`study.ask()` and the six `suggest_float` calls is measured, `--warmup` asks untimed, then
`--asks` timed. Each asked trial is then told FAIL (untimed), so that every ask learns
from the same `--history` completed trials as ferrotune's request holds: Optuna 5's
TPESampler is a constant liar by default, and would count earlier asks left running.

The section "## Katib GetSuggestions latency" is printed, and with --results it replaces
that section of the file (or is appended), keeping the rest.
"""

import argparse
import importlib
import json
import math
import os
import random
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

HEADING = "## Katib GetSuggestions latency"
ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benches" / "compare"))
from functions import hartmann6  # noqa: E402  (the definition the comparison checks)
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchlib import replace_section as replace_named  # noqa: E402

DIMS = 6
# ferrotune's algorithm: Optuna's counterpart (its code, a note) and how to make it.
PAIRS = {
    "multivariate-tpe": ("TPESampler()", " (multivariate by default in Optuna 5)",
                         lambda o: o.samplers.TPESampler(seed=0)),
    "tpe": ("TPESampler(multivariate=False)", "",
            lambda o: o.samplers.TPESampler(seed=0, multivariate=False)),
    "random": ("RandomSampler()", "", lambda o: o.samplers.RandomSampler(seed=0)),
    "cmaes": ("CmaEsSampler()", "", lambda o: o.samplers.CmaEsSampler(seed=0)),
}
STATE_SETTING = "ferrotune.io/state"
TARGET_MS = 2.0
TARGET_RATIO = 5.0


def generate_stubs(proto, out_dir):
    from grpc_tools import protoc
    import grpc_tools

    well_known = Path(grpc_tools.__file__).parent / "_proto"
    args = ["grpc_tools.protoc", f"-I{proto.parent}", f"-I{well_known}",
            f"--python_out={out_dir}", f"--grpc_python_out={out_dir}", proto.name]
    if protoc.main(args) != 0:
        raise SystemExit(f"bench: grpc_tools.protoc failed on {proto}")
    sys.path.insert(0, str(out_dir))
    return (importlib.import_module(f"{proto.stem}_pb2"),
            importlib.import_module(f"{proto.stem}_pb2_grpc"))


def history(n, seed=0):
    """n random points of [0, 1]^6 and their Hartmann-6 values."""
    rng = random.Random(seed)
    points = [[rng.random() for _ in range(DIMS)] for _ in range(n)]
    return [(x, hartmann6(x)) for x in points]


def katib_request(pb, algorithm, points, settings=()):
    """The GetSuggestionsRequest Katib's controller sends for an experiment with these
    completed trials, asking for one more."""
    spec = pb.ExperimentSpec(
        parameter_specs=pb.ExperimentSpec.ParameterSpecs(parameters=[
            pb.ParameterSpec(name=f"x{i}", parameter_type=pb.DOUBLE,
                             feasible_space=pb.FeasibleSpace(min="0", max="1"))
            for i in range(DIMS)]),
        objective=pb.ObjectiveSpec(type=pb.MINIMIZE, objective_metric_name="loss"),
        algorithm=pb.AlgorithmSpec(
            algorithm_name=algorithm,
            algorithm_settings=[pb.AlgorithmSetting(name=k, value=v) for k, v in settings]),
        parallel_trial_count=1,
        max_trial_count=len(points) + 100)
    request = pb.GetSuggestionsRequest(
        experiment=pb.Experiment(name=f"hartmann6-{algorithm}", spec=spec),
        current_request_number=1, total_request_number=len(points) + 1)
    for k, (x, y) in enumerate(points):
        t = request.trials.add(name=f"hartmann6-{algorithm}-{k:05d}")
        t.spec.objective.CopyFrom(spec.objective)
        for i, v in enumerate(x):
            t.spec.parameter_assignments.assignments.add(name=f"x{i}", value=repr(v))
        t.status.start_time = "2026-11-24T00:00:00Z"
        t.status.completion_time = "2026-11-24T00:01:00Z"
        t.status.condition = pb.TrialStatus.SUCCEEDED
        t.status.observation.metrics.add(name="loss", value=repr(y))
    return request


def p99(values):
    """The 99th percentile by nearest rank: the ⌈0.99·n⌉-th smallest."""
    s = sorted(values)
    return s[max(0, math.ceil(0.99 * len(s)) - 1)]


def check_reply(reply, algorithm):
    if len(reply.parameter_assignments) != 1:
        raise SystemExit(f"bench: {algorithm}: {len(reply.parameter_assignments)} suggestions, "
                         f"not 1")
    for a in reply.parameter_assignments[0].assignments:
        if not 0.0 <= float(a.value) <= 1.0:
            raise SystemExit(f"bench: {algorithm}: {a.name}={a.value} outside [0, 1]")


def server_suggestion_seconds(address):
    """The server's own suggestion-latency totals (sum, count) from its /metrics."""
    import urllib.request

    with urllib.request.urlopen(f"http://{address}/metrics", timeout=30) as r:
        text = r.read().decode()
    values = {}
    for line in text.splitlines():
        for name in ("ferrotune_suggestion_seconds_sum", "ferrotune_suggestion_seconds_count"):
            if line.startswith(name + " "):
                values[name] = float(line.split()[1])
    return (values["ferrotune_suggestion_seconds_sum"],
            values["ferrotune_suggestion_seconds_count"])


def call_ms(stub, request, timeout=600):
    """One `GetSuggestions` call: its time in milliseconds, from the stub call to the
    decoded reply, and the reply."""
    t0 = time.perf_counter()
    reply = stub.GetSuggestions(request, timeout=timeout)
    return (time.perf_counter() - t0) * 1e3, reply


def serialise_ms(request):
    """The client's protobuf serialisation of `request` (part of every call), in ms."""
    t0 = time.perf_counter()
    request.SerializeToString()
    return (time.perf_counter() - t0) * 1e3


def time_ferrotune(pb, stub, algorithm, points, warmup, calls, address=None):
    request = katib_request(pb, algorithm, points)
    state = False
    if algorithm == "cmaes":
        # Katib stores the settings a reply returns and sends them with every later request:
        # CMA-ES's state travels back with the history, as it would 1,000 trials into a run.
        reply = stub.GetSuggestions(request, timeout=600)
        saved = [s for s in reply.algorithm.algorithm_settings if s.name == STATE_SETTING]
        if saved:
            request = katib_request(pb, algorithm, points, [(STATE_SETTING, saved[0].value)])
            state = True
    for _ in range(warmup):
        check_reply(stub.GetSuggestions(request, timeout=600), algorithm)
    before = server_clock(address)
    times = []
    for _ in range(calls):
        ms, reply = call_ms(stub, request)
        times.append(ms)
        check_reply(reply, algorithm)
    server_ms = server_mean_ms(address, before)
    serialise = [serialise_ms(request) for _ in range(calls)]
    return dict(times_ms=times, request_bytes=request.ByteSize(), with_state=state,
                server_mean_ms=server_ms, serialise_ms=statistics.median(serialise))


def server_clock(address):
    """The server's suggestion time and count so far, if it is ours (see `server_mean_ms`)."""
    return server_suggestion_seconds(address) if address else None


def server_mean_ms(address, before):
    """The server's mean time per call since `before` (its `/metrics` histogram)."""
    if before is None:
        return None
    after = server_suggestion_seconds(address)
    if after[1] <= before[1]:
        return None
    return (after[0] - before[0]) / (after[1] - before[1]) * 1e3


def time_katib_patterns(pb, stub, algorithm, points, history_n, calls, address=None):
    """Two harder cases than a repeated request: Katib's own pattern, growing history (each
    call's history holds one more completed trial than the last; the same experiment, so
    the server's kept algorithm and trials are reused after their checks), and a first
    call, where each request names a new experiment (nothing kept: everything is built).
    Each request is made right before its call, untimed, as Katib's controller builds its
    request from its trials and then sends it. Each case also gives the server's mean and
    the client's serialisation of its requests, as the table does."""
    def timed(requests):
        times, serialise = [], []
        for request in requests:
            ms, reply = call_ms(stub, request)
            times.append(ms)
            check_reply(reply, algorithm)
            serialise.append(serialise_ms(request))
        return dict(median=statistics.median(times), p99=p99(times),
                    serialise=statistics.median(serialise)), len(times)

    def growing():
        for k in range(calls):
            yield katib_request(pb, algorithm, points[:history_n + k])

    def firsts():
        for k in range(max(1, calls // 4)):
            request = katib_request(pb, algorithm, points[:history_n])
            request.experiment.name = f"first-call-{algorithm}-{k}"
            yield request

    before = server_clock(address)
    grow, grow_n = timed(growing())
    grow["server_mean"] = server_mean_ms(address, before)
    before = server_clock(address)
    first, first_n = timed(firsts())
    first["server_mean"] = server_mean_ms(address, before)
    return dict(growing_ms=grow, growing_n=grow_n, first_ms=first, first_n=first_n)


def time_optuna(optuna, make_sampler, points, warmup, asks):
    dists = {f"x{i}": optuna.distributions.FloatDistribution(0.0, 1.0) for i in range(DIMS)}
    study = optuna.create_study(direction="minimize", sampler=make_sampler(optuna))
    study.add_trials([optuna.trial.create_trial(
        params={f"x{i}": v for i, v in enumerate(x)}, distributions=dists, value=y)
        for x, y in points])
    times = []
    for k in range(warmup + asks):
        t0 = time.perf_counter()
        trial = study.ask()
        x = [trial.suggest_float(f"x{i}", 0.0, 1.0) for i in range(DIMS)]
        dt = (time.perf_counter() - t0) * 1e3
        if not all(0.0 <= v <= 1.0 for v in x):
            raise SystemExit(f"bench: optuna asked {x}, outside [0, 1]^6")
        study.tell(trial, state=optuna.trial.TrialState.FAIL)
        if k >= warmup:
            times.append(dt)
    return dict(times_ms=times)


def sig(x):
    """Three significant digits, plainly."""
    if x == 0:
        return "0"
    e = math.floor(math.log10(abs(x)))
    return f"{x:.{max(0, 2 - e)}f}"


def sig_or(x):
    """`sig(x)`, or a dash for no figure."""
    return "—" if x is None else sig(x)


def section(results, meta):
    a = meta["args"]
    rows = results["rows"]
    sizes = sorted({r["request_bytes"] for r in rows})
    size_text = (f"{sizes[0]:,} bytes" if len(sizes) == 1
                 else f"{sizes[0]:,} to {sizes[-1]:,} bytes by algorithm")
    state_rows = [r["algorithm"] for r in rows if r["with_state"]]
    lines = [
        HEADING,
        "",
        f"Command: `{meta['command']}` ({meta['date']}; ferrotune {meta['ferrotune']}, "
        f"release build; {meta['rustc']}; Python {results['python']} with grpcio "
        f"{results['grpcio']}, protobuf {results['protobuf']}, optuna {results['optuna']}, "
        f"numpy {results['numpy']}, cmaes {results['cmaes']}; {meta['machine']}).",
        "",
        f"- **ferrotune**: `target/release/ferrotune server` on loopback; a Python grpcio client "
        f"with stubs generated from `proto/katib/api.proto` sends the `GetSuggestionsRequest` "
        f"Katib's controller would send for a single-objective experiment on Hartmann-6's "
        f"[0, 1]^6 (six DOUBLE parameters) with {a['history']:,} completed trials (random "
        f"points from a fixed seed; their Hartmann-6 values as the metric `loss`; values as "
        f"strings, trial names, conditions and times as Katib fills them) and "
        f"`current_request_number` 1: {size_text} on the wire. The same request is sent "
        f"{a['warmup']} times untimed, then {a['calls']} times timed, each from the stub call "
        f"to the decoded reply (request serialisation, loopback gRPC, the server's parsing, "
        f"validation and suggestion, the reply's decoding). Each algorithm runs at its "
        f"defaults. The server keeps a `tpe` or `multivariate-tpe` experiment's algorithm "
        f"between its calls (`crates/server/src/katib.rs`), which reuses the sorted "
        f"bandwidths, kernel masses and encoded trials of the previous call after checking "
        f"each against the request: a repeated request, as here, is its best case, and a "
        f"history that grows by a trial per call, as Katib's does, costs about what the "
        f"in-process speed table of \"Search algorithms\" shows at 1,000 trials; a first "
        f"call builds everything."
        + (f" `{'`, `'.join(state_rows)}` carries its `{STATE_SETTING}` setting, as Katib "
           f"sends back what an earlier reply returned (taken from a first, untimed reply "
           f"to the same history)." if state_rows else ""),
        f"- **Optuna**: a study with the same {a['history']:,} trials "
        f"(`study.add_trials` of `create_trial`, six `FloatDistribution(0, 1)`), `seed=0`; "
        f"the time of `study.ask()` and the six `suggest_float` calls, {a['warmup']} asks "
        f"untimed, then {a['asks']} timed. Each asked trial is then told FAIL, untimed, so "
        f"that each ask learns from the same {a['history']:,} completed trials (Optuna 5's "
        f"`TPESampler` is a constant liar by default: trials left running would count as "
        f"bad observations and make later asks slower). `CmaEsSampler` keeps its state in "
        f"trials it sampled itself, so it learns nothing from added trials: each of its asks "
        f"scans the history and samples a fresh CMA-ES.",
        f"- Median and p99 (nearest rank: the ⌈0.99·n⌉-th smallest) in milliseconds; "
        f"*ratio* is Optuna's median over ferrotune's. The client, the server and Optuna "
        f"share the machine, one at a time.",
        f"- The Python process (the client and Optuna alike) runs with glibc's "
        f"`MALLOC_TOP_PAD_={os.environ.get('MALLOC_TOP_PAD_', 'unset')}`, so that its heap "
        f"keeps room at the top as a long-running process's does: in a fresh process glibc "
        f"hands the top of the heap back to the kernel after each large free, and each "
        f"request's serialisation (some 290 kB) and each of Optuna's large arrays starts on "
        f"fresh pages (the table's `SerializeToString()` took 0.43 ms without the pad and "
        f"0.24 ms with it, on the machine of 2026-11-25).",
        f"- Where a call's time goes: *server mean* is the server's own time per call over "
        f"the timed calls (its `/metrics` histogram `ferrotune_suggestion_seconds`: from the "
        f"request's arrival to the reply, the request's parsing included), *client "
        f"serialisation* the median time of the client's `SerializeToString()` of the same "
        f"request (Python protobuf {results['protobuf']}), which every call pays before "
        f"sending; the rest is gRPC in both processes and the loopback transfer.",
        "",
        "| algorithm (ferrotune / Optuna) | ferrotune median ms | p99 ms | server mean ms "
        "| client serialisation ms | Optuna median ms | p99 ms | ratio (Optuna / ferrotune) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        f, o = r["ferrotune_ms"], r["optuna_ms"]
        server = r.get("server_mean_ms")
        ser = r.get("serialise_ms")
        lines.append(f"| `{r['algorithm']}` / `{r['optuna']}`{r['optuna_note']} | "
                     f"{sig(f['median'])} | {sig(f['p99'])} | "
                     f"{sig_or(server)} | "
                     f"{sig_or(ser)} | "
                     f"{sig(o['median'])} | {sig(o['p99'])} | "
                     f"{sig(o['median'] / f['median'])}× |")
    lines.append("")
    floor = results.get("floor_ms")
    if floor is not None:
        lines.append(f"The round trip's floor: the same client's `GetSuggestions` for `random` "
                     f"with no trials takes {sig(floor)} ms (median of {a['calls']}, timed "
                     f"after the algorithms).")
        lines.append("")
    tpe_rows = [r for r in rows if r["algorithm"] in ("tpe", "multivariate-tpe")]
    patterns = [r for r in tpe_rows if "growing_ms" in r]
    if patterns:
        lines += [
            "The same TPE rows in two harder cases, right after the table's calls: *growing "
            "history*, Katib's own pattern, each call's request holding one more completed "
            f"trial than the last ({a['history']:,} to {a['history'] + a['calls'] - 1:,}; the "
            "same experiment, so the kept algorithm is reused after its checks); *first call*, "
            "each request naming a new experiment with the table's "
            f"{a['history']:,} trials (nothing kept: everything is built). *ratio*: the "
            "table's Optuna median over these medians. *server* and *client serialisation* "
            "as in the table, the latter the median of one `SerializeToString()` of each of "
            "the case's requests right after its call. Each request is made right before its "
            "call (untimed), as Katib's controller makes its request from its trials and then "
            "sends it.",
            "",
            "| algorithm | growing history: median ms | p99 ms | server mean ms | client "
            "serialisation ms | ratio | first call: median ms | p99 ms | server mean ms | "
            "client serialisation ms | ratio |",
            "|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for r in patterns:
            g, f1, o = r["growing_ms"], r["first_ms"], r["optuna_ms"]["median"]
            lines.append(f"| `{r['algorithm']}` ({r['growing_n']} and {r['first_n']} calls) | "
                         f"{sig(g['median'])} | {sig(g['p99'])} | {sig_or(g['server_mean'])} | "
                         f"{sig(g['serialise'])} | {sig(o / g['median'])}× | "
                         f"{sig(f1['median'])} | {sig(f1['p99'])} | "
                         f"{sig_or(f1['server_mean'])} | {sig(f1['serialise'])} | "
                         f"{sig(o / f1['median'])}× |")
        lines.append("")
    if tpe_rows:
        verdicts = []
        for r in tpe_rows:
            med = r["ferrotune_ms"]["median"]
            ratio = r["optuna_ms"]["median"] / med
            ok = med <= TARGET_MS and ratio >= TARGET_RATIO
            verdicts.append(f"`{r['algorithm']}` {'meets' if ok else 'misses'} it "
                            f"({sig(med)} ms, {sig(ratio)}×)")
        lines.append(f"Target: a median of at most {sig(TARGET_MS)} ms, at least "
                     f"{TARGET_RATIO:.0f}× faster than Optuna's TPE ask: "
                     + "; ".join(verdicts) + ".")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"




def replace_section(text, new):
    return replace_named(text, new, HEADING)


def self_test():
    assert p99(list(range(1, 201))) == 198 and p99(list(range(1, 51))) == 50
    assert p99([3.0]) == 3.0
    doc = "# R\n\nintro\n\n## A\n\na\n\n## B\n\nb\n"
    new = f"{HEADING}\n\nx\n"
    once = replace_section(doc, new)
    assert once == doc + "\n" + new, once
    assert replace_section(once, f"{HEADING}\n\ny\n") == doc + "\n" + f"{HEADING}\n\ny\n"
    middle = "# R\n\n" + new + "\n## B\n\nb\n"
    assert replace_section(middle, f"{HEADING}\n\nz\n") == "# R\n\n" + f"{HEADING}\n\nz\n" \
        + "\n## B\n\nb\n"
    assert sig(0.123456) == "0.123" and sig(12.34) == "12.3" and sig(1234.5) == "1234"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--address", help="HOST:PORT of a running ferrotune server")
    ap.add_argument("--proto", type=Path, default=ROOT / "proto" / "katib" / "api.proto")
    ap.add_argument("--history", type=int, default=1000)
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--calls", type=int, default=200, help="timed GetSuggestions calls")
    ap.add_argument("--asks", type=int, default=200, help="timed Optuna asks")
    ap.add_argument("--algorithms", default=",".join(PAIRS))
    ap.add_argument("--meta", help="JSON from run.sh: command, date, ferrotune, rustc, machine")
    ap.add_argument("--results", help="the Markdown file whose section to replace")
    ap.add_argument("--json", help="where to write the raw times")
    ap.add_argument("--self-test", action="store_true")
    args = ap.parse_args()
    self_test()
    if args.self_test:
        print("bench: self-test passed")
        return
    if not args.address:
        ap.error("--address is required")
    algorithms = [a for a in args.algorithms.split(",") if a]
    unknown = [a for a in algorithms if a not in PAIRS]
    if unknown:
        ap.error(f"unknown algorithms {unknown} (known: {', '.join(PAIRS)})")

    import grpc
    import google.protobuf
    import numpy
    import optuna
    import cmaes

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.simplefilter("ignore")
    # Room for the growing-history case: each of its calls adds one trial.
    points = history(args.history + args.calls)
    base = points[:args.history]
    rows = []
    with tempfile.TemporaryDirectory(prefix="katib-bench-stubs-") as tmp:
        pb, rpc = generate_stubs(args.proto, Path(tmp))
        options = [("grpc.max_send_message_length", -1),
                   ("grpc.max_receive_message_length", -1)]
        with grpc.insecure_channel(args.address, options=options) as channel:
            grpc.channel_ready_future(channel).result(timeout=30)
            stub = rpc.SuggestionStub(channel)
            for alg in algorithms:
                r = time_ferrotune(pb, stub, alg, base, args.warmup, args.calls,
                                   args.address)
                t = r["times_ms"]
                print(f"bench: ferrotune {alg}: median {statistics.median(t):.3f} ms, "
                      f"p99 {p99(t):.3f} ms ({r['request_bytes']:,}-byte request)",
                      file=sys.stderr)
                rows.append(dict(algorithm=alg, optuna=PAIRS[alg][0], optuna_note=PAIRS[alg][1],
                                 request_bytes=r["request_bytes"], with_state=r["with_state"],
                                 server_mean_ms=r["server_mean_ms"],
                                 serialise_ms=r["serialise_ms"],
                                 ferrotune_times_ms=t,
                                 ferrotune_ms=dict(median=statistics.median(t), p99=p99(t))))
                if alg in ("tpe", "multivariate-tpe"):
                    rows[-1].update(time_katib_patterns(pb, stub, alg, points, args.history,
                                                        args.calls, args.address))
                    print(f"bench: ferrotune {alg}: growing history median "
                          f"{rows[-1]['growing_ms']['median']:.3f} ms, first call median "
                          f"{rows[-1]['first_ms']['median']:.3f} ms", file=sys.stderr)
            # The floor last: timed first, its 200 tiny calls left the client slower for a
            # while (its serialisation of the next algorithm's request took 0.6-0.9 ms
            # instead of 0.28 ms), which fell on whichever algorithm was timed first.
            empty = katib_request(pb, "random", [])
            for _ in range(args.warmup):
                stub.GetSuggestions(empty, timeout=60)
            floor = [call_ms(stub, empty, timeout=60)[0] for _ in range(args.calls)]
    for row in rows:
        o = time_optuna(optuna, PAIRS[row["algorithm"]][2], base, args.warmup, args.asks)
        t = o["times_ms"]
        row["optuna_times_ms"] = t
        row["optuna_ms"] = dict(median=statistics.median(t), p99=p99(t))
        print(f"bench: optuna {row['optuna']}: median {statistics.median(t):.3f} ms, "
              f"p99 {p99(t):.3f} ms", file=sys.stderr)

    results = dict(rows=rows, floor_ms=statistics.median(floor), python=sys.version.split()[0],
                   grpcio=grpc.__version__, protobuf=google.protobuf.__version__,
                   optuna=optuna.__version__, numpy=numpy.__version__,
                   cmaes=getattr(cmaes, "__version__", "?"))
    meta = {"command": "benches/katib/run.sh", "date": time.strftime("%Y-%m-%d"),
            "ferrotune": "?", "rustc": "?", "machine": "?"}
    if args.meta:
        with open(args.meta) as fh:
            meta.update(json.load(fh))
    meta["args"] = dict(history=args.history, warmup=args.warmup, calls=args.calls,
                        asks=args.asks)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(dict(meta=meta, results=results), fh, indent=1)
    text = section(results, meta)
    sys.stdout.write(text)
    if args.results:
        with open(args.results) as fh:
            old = fh.read()
        with open(args.results, "w") as fh:
            fh.write(replace_section(old, text))
        print(f"bench: wrote the section into {args.results}", file=sys.stderr)


if __name__ == "__main__":
    main()
