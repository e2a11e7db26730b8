#!/usr/bin/env python3
"""Katib's controller, played by a Python grpcio client, against ferrotune's Katib services.

    python3 crates/server/tests/katib_client.py HOST:PORT [--proto proto/katib/api.proto]

The stubs are generated from the project's proto/katib/api.proto with grpc_tools.protoc into
a temporary directory at run time (nothing generated is kept). Then, at HOST:PORT (a running
`ferrotune server`; crates/server/tests/python_client.rs starts one), it calls the services
the way Katib's Go controller does:

- GetSuggestions: the request is built from the Experiment (name, parameter specs, objective,
  algorithm) and *all* its Trials (parameter assignments, labels, condition, observation
  metrics as strings); current_request_number is how many trials the controller needs now
  and total_request_number the trials so far plus those. The reply's assignments become
  trials (named as the controller names them, carrying the reply's labels), run, and come
  back completed with a computed loss in the next request; the `algorithm` settings a reply
  returns are stored and sent with the next request (the controller keeps them in the
  Suggestion's status and merges them into the experiment's settings). Every algorithm
  Katib users pick (random, tpe, multivariate-tpe, cmaes, bayesianoptimization, grid,
  hyperband) runs a few rounds, and every returned value must lie in its feasible space.
- ValidateAlgorithmSettings: good settings pass; bad ones are INVALID_ARGUMENT naming the
  field; an unknown algorithm is INVALID_ARGUMENT listing the known ones.
- Abuse: a payload that is not protobuf, and a request over the server's 64 MiB limit, get
  an error status (never a crash, a hang or a dropped connection), and the server goes on
  serving.
- GetEarlyStoppingRules (medianstop): the server reads the completed trials' observation
  logs from a DBManager at the request's db_manager_address (served here by a small Python
  grpc.server) and returns Katib's rule.

Prints one line per check and a summary; exits 0 when every check passed, 1 otherwise.
"""

import argparse
import importlib
import math
import os
import random
import statistics
import sys
import tempfile
import threading
import time
import traceback
from concurrent import futures
from pathlib import Path

import grpc

TIMEOUT = 60.0  # seconds per call: a hang is a failure, not a stuck test
LIMIT = 64 * 1024 * 1024  # the server's largest request
OPTIONS = [("grpc.max_send_message_length", -1), ("grpc.max_receive_message_length", -1)]

pb = None  # api_pb2, once generated
rpc = None  # api_pb2_grpc


def generate_stubs(proto, out_dir):
    """api_pb2 and api_pb2_grpc from `proto`, written into `out_dir` and imported."""
    global pb, rpc
    from grpc_tools import protoc
    import grpc_tools

    well_known = Path(grpc_tools.__file__).parent / "_proto"
    args = ["grpc_tools.protoc", f"-I{proto.parent}", f"-I{well_known}",
            f"--python_out={out_dir}", f"--grpc_python_out={out_dir}", proto.name]
    if protoc.main(args) != 0:
        raise SystemExit(f"katib_client: grpc_tools.protoc failed on {proto}")
    sys.path.insert(0, str(out_dir))
    stem = proto.stem
    pb = importlib.import_module(f"{stem}_pb2")
    rpc = importlib.import_module(f"{stem}_pb2_grpc")


class Checks:
    def __init__(self):
        self.passed = 0
        self.failed = []

    def ok(self, cond, what):
        if cond:
            self.passed += 1
            print(f"  ok    {what}")
        else:
            self.failed.append(what)
            print(f"  FAIL  {what}")
        return cond

    def section(self, name, fn, *args):
        print(f"{name}:")
        started = time.monotonic()
        try:
            fn(*args)
        except Exception as e:  # noqa: BLE001 - any exception is a failed section
            self.failed.append(f"{name}: {type(e).__name__}: {e}")
            print(f"  FAIL  {name} raised:")
            traceback.print_exc(file=sys.stdout)
        print(f"  ({time.monotonic() - started:.2f} s)")


# ---------------------------------------------------------------------------------------
# The experiment, as the controller converts the Experiment CR.

# (name, type, feasible space) of the main search space.
SPACE = [
    ("lr", "DOUBLE", dict(min="0.001", max="0.1", distribution="LOG_UNIFORM")),
    ("momentum", "DOUBLE", dict(min="0.5", max="0.99")),
    ("layers", "INT", dict(min="1", max="5")),
    ("batch", "DISCRETE", dict(list=["16", "32", "64"])),
    ("optimizer", "CATEGORICAL", dict(list=["sgd", "adam", "rmsprop"])),
]
# Grid: doubles need a step; 3 x 3 x 2 = 18 points.
GRID_SPACE = [
    ("lr", "DOUBLE", dict(min="0.01", max="0.03", step="0.01")),
    ("layers", "INT", dict(min="1", max="3")),
    ("optimizer", "CATEGORICAL", dict(list=["sgd", "adam"])),
]
# Hyperband: the resource is a parameter too (Katib's resource_name).
HYPERBAND_SPACE = SPACE + [("epochs", "INT", dict(min="1", max="9"))]

# Every algorithm of the issue, with settings as a Katib user writes them.
ALGORITHMS = [
    ("random", [("random_state", "7")], SPACE, 4),
    ("tpe", [("n_startup_trials", "5"), ("n_ei_candidates", "24")], SPACE, 5),
    ("multivariate-tpe", [("n_startup_trials", "5")], SPACE, 5),
    ("cmaes", [("random_state", "3")], SPACE, 5),
    ("bayesianoptimization", [("n_initial_points", "5"), ("acq_func", "EI")], SPACE, 4),
    ("grid", [], GRID_SPACE, 8),
    ("hyperband", [("resource_name", "epochs"), ("r_l", "9"), ("eta", "3")],
     HYPERBAND_SPACE, 12),
]
PARALLEL = 3  # the experiment's parallelTrialCount
STATE_SETTING = "ferrotune.io/state"
PARENT_LABEL = "ferrotune.io/parent"
HYPERBAND_LABELS = ["hyperband.ferrotune.io/cycle", "hyperband.ferrotune.io/bracket",
                    "hyperband.ferrotune.io/rung"]


def parameter_specs(space):
    out = []
    for name, type_, fs in space:
        feasible = pb.FeasibleSpace(
            min=fs.get("min", ""), max=fs.get("max", ""), step=fs.get("step", ""),
            list=fs.get("list", []),
            distribution=pb.Distribution.Value(fs.get("distribution", "DISTRIBUTION_UNSPECIFIED")))
        out.append(pb.ParameterSpec(name=name, parameter_type=pb.ParameterType.Value(type_),
                                    feasible_space=feasible))
    return out


def objective(maximize=False, metric="loss"):
    return pb.ObjectiveSpec(type=pb.MAXIMIZE if maximize else pb.MINIMIZE,
                            objective_metric_name=metric,
                            additional_metric_names=["accuracy" if metric == "loss" else "loss"])


def experiment(name, algorithm, settings, space, early_stopping=None, maximize=False,
               metric="loss"):
    spec = pb.ExperimentSpec(
        parameter_specs=pb.ExperimentSpec.ParameterSpecs(parameters=parameter_specs(space)),
        objective=objective(maximize, metric),
        algorithm=pb.AlgorithmSpec(
            algorithm_name=algorithm,
            algorithm_settings=[pb.AlgorithmSetting(name=k, value=v) for k, v in settings]),
        parallel_trial_count=PARALLEL,
        max_trial_count=60)
    if early_stopping is not None:
        spec.early_stopping.CopyFrom(early_stopping)
    return pb.Experiment(name=name, spec=spec)


def merged_settings(experiment_settings, stored):
    """The experiment's settings with the Suggestion's stored ones over them, by name, as
    the controller sends them (a stored setting the experiment lacks is appended)."""
    out = [(k, stored.get(k, v)) for k, v in experiment_settings]
    names = {k for k, _ in experiment_settings}
    out += [(k, v) for k, v in stored.items() if k not in names]
    return out


# ---------------------------------------------------------------------------------------
# Trials, as the controller converts the Trial CRs.

def loss_of(values):
    """The trial's 'training': a smooth loss of its parameters (lower is better)."""
    lr = float(values["lr"])
    loss = (math.log10(lr) + 2.0) ** 2
    loss += (float(values.get("momentum", "0.9")) - 0.9) ** 2
    loss += 0.05 * (int(values["layers"]) - 3) ** 2
    loss += {"sgd": 0.3, "adam": 0.0, "rmsprop": 0.1}[values["optimizer"]]
    if "batch" in values:
        loss += 0.001 * abs(float(values["batch"]) - 32.0)
    if "epochs" in values:
        loss += 1.0 / int(values["epochs"])
    return loss


def trial(name, values, labels, condition, loss=None):
    t = pb.Trial(name=name)
    t.spec.objective.CopyFrom(objective())
    for k, v in values.items():
        t.spec.parameter_assignments.assignments.add(name=k, value=v)
    for k, v in labels.items():
        t.spec.labels[k] = v
    t.status.start_time = "2026-11-24T00:00:00Z"
    t.status.condition = condition
    if loss is not None:
        t.status.completion_time = "2026-11-24T00:05:00Z"
        t.status.observation.metrics.add(name="loss", value=repr(loss))
        t.status.observation.metrics.add(name="accuracy", value=repr(1.0 / (1.0 + loss)))
    return t


class KatibExperiment:
    """The controller's view of one experiment: its trials and the Suggestion's settings."""

    def __init__(self, name, algorithm, settings, space):
        self.name, self.algorithm, self.settings, self.space = name, algorithm, settings, space
        self.stored = {}  # settings the replies asked to keep
        self.trials = []  # [name, values, labels, condition, loss]
        self.rng = random.Random(name)

    def request(self, n):
        exp = experiment(self.name, self.algorithm, merged_settings(self.settings, self.stored),
                         self.space)
        trials = [trial(*t) for t in self.trials]
        return pb.GetSuggestionsRequest(experiment=exp, trials=trials, current_request_number=n,
                                        total_request_number=len(self.trials) + n)

    def running(self):
        return [t for t in self.trials if t[3] == pb.TrialStatus.RUNNING]

    def accept(self, reply):
        """The reply's assignments as new running trials; its settings stored."""
        if reply.HasField("algorithm"):
            for s in reply.algorithm.algorithm_settings:
                self.stored[s.name] = s.value
        new = []
        for a in reply.parameter_assignments:
            # The controller names a trial the service left unnamed: experiment-random8.
            suffix = "".join(self.rng.choices("abcdefghijklmnopqrstuvwxyz0123456789", k=8))
            name = a.trial_name or f"{self.name}-{suffix}"
            values = {x.name: x.value for x in a.assignments}
            t = [name, values, dict(a.labels), pb.TrialStatus.RUNNING, None]
            self.trials.append(t)
            new.append(t)
        return new

    def finish(self, keep_running=0):
        """Running trials complete with their loss (all but the newest `keep_running`)."""
        running = self.running()
        for t in running[:len(running) - keep_running]:
            t[3] = pb.TrialStatus.SUCCEEDED
            t[4] = loss_of(t[1])


def feasibility_problems(space, values):
    """Why `values` (name -> string) is not a point of `space`, if it is not."""
    problems = []
    names = [n for n, _, _ in space]
    if sorted(values) != sorted(names):
        problems.append(f"parameters {sorted(values)} are not {sorted(names)}")
    for name, type_, fs in space:
        v = values.get(name)
        if v is None:
            continue
        try:
            if type_ == "DOUBLE":
                x = float(v)
                if not (math.isfinite(x) and float(fs["min"]) <= x <= float(fs["max"])):
                    problems.append(f"{name}={v} outside [{fs['min']}, {fs['max']}]")
                if "step" in fs:
                    k = (x - float(fs["min"])) / float(fs["step"])
                    if abs(k - round(k)) > 1e-9:
                        problems.append(f"{name}={v} is not on the step {fs['step']}")
            elif type_ == "INT":
                x = int(v)
                if not int(fs["min"]) <= x <= int(fs["max"]):
                    problems.append(f"{name}={v} outside [{fs['min']}, {fs['max']}]")
            elif type_ == "DISCRETE":
                if float(v) not in {float(s) for s in fs["list"]}:
                    problems.append(f"{name}={v} not in {fs['list']}")
            elif v not in fs["list"]:
                problems.append(f"{name}={v!r} not in {fs['list']}")
        except ValueError:
            problems.append(f"{name}={v!r} does not parse as {type_}")
    return problems


def labels_and_values(reply):
    return [(sorted((a.name, a.value) for a in p.assignments), sorted(p.labels.items()))
            for p in reply.parameter_assignments]


# ---------------------------------------------------------------------------------------
# The checks.

def call(method, request, timeout=TIMEOUT):
    """(reply, None) or (None, grpc.RpcError)."""
    try:
        return method(request, timeout=timeout), None
    except grpc.RpcError as e:
        return None, e


def run_algorithm(checks, stub, algorithm, settings, space, rounds):
    exp = KatibExperiment(f"py-{algorithm}", algorithm, settings, space)
    returned = 0
    out_of_space = []
    for r in range(rounds):
        need = PARALLEL - len(exp.running())
        request = exp.request(need)
        reply, err = call(stub.GetSuggestions, request)
        if not checks.ok(err is None, f"{algorithm}: round {r}: GetSuggestions({need}) with "
                         f"{len(request.trials)} trials answers"
                         + (f" (got {err.code().name}: {err.details()})" if err else "")):
            return
        if r == 1:
            again, _ = call(stub.GetSuggestions, request)
            checks.ok(again is not None and labels_and_values(again) == labels_and_values(reply),
                      f"{algorithm}: the same request gets the same answer")
        got = len(reply.parameter_assignments)
        returned += got
        if algorithm in ("grid", "hyperband"):
            checks.ok(got <= need, f"{algorithm}: round {r}: {got} of {need} asked")
        else:
            checks.ok(got == need, f"{algorithm}: round {r}: {got} of {need} asked")
        if algorithm == "hyperband" and not exp.running():
            checks.ok(got > 0, f"hyperband: round {r}: with nothing running it does not wait")
        for p in reply.parameter_assignments:
            values = {a.name: a.value for a in p.assignments}
            problems = feasibility_problems(space, values)
            if problems:
                out_of_space.append((values, problems))
        if algorithm == "cmaes":
            state = [s for s in reply.algorithm.algorithm_settings if s.name == STATE_SETTING]
            checks.ok(reply.algorithm.algorithm_name == "cmaes" and len(state) == 1
                      and state[0].value.startswith("{"),
                      f"cmaes: round {r}: returns its state as the setting {STATE_SETTING}")
            if r > 0:
                sent = [s for s in request.experiment.spec.algorithm.algorithm_settings
                        if s.name == STATE_SETTING]
                checks.ok(len(sent) == 1, f"cmaes: round {r}: the request carried the stored state")
        if algorithm == "hyperband":
            checks.ok(all(all(k in p.labels for k in HYPERBAND_LABELS)
                          for p in reply.parameter_assignments),
                      f"hyperband: round {r}: every suggestion carries the labels "
                      f"{HYPERBAND_LABELS}")
        exp.accept(reply)
        # As trials finish at different times: on odd rounds one stays running.
        exp.finish(keep_running=1 if r % 2 == 1 else 0)
    checks.ok(not out_of_space, f"{algorithm}: all {returned} suggested trials lie in the "
              f"feasible space" + (f": {out_of_space[:3]}" if out_of_space else ""))
    if algorithm == "grid":
        exp.finish()
        end, err = call(stub.GetSuggestions, exp.request(PARALLEL))
        points = {tuple(sorted(t[1].items())) for t in exp.trials}
        checks.ok(len(exp.trials) == 18 and len(points) == 18,
                  f"grid: {len(exp.trials)} trials, {len(points)} distinct, of the 18 points")
        checks.ok(err is None and len(end.parameter_assignments) == 0,
                  "grid: at its end it answers an empty list")
    if algorithm == "hyperband":
        by_name = {t[0]: t for t in exp.trials}
        promoted = [t for t in exp.trials if PARENT_LABEL in t[2]]
        checks.ok(len(promoted) > 0, f"hyperband: {len(promoted)} promotions in "
                  f"{len(exp.trials)} trials (label {PARENT_LABEL})")
        good = True
        for t in promoted:
            parent = by_name.get(t[2][PARENT_LABEL])
            if (parent is None or parent[3] != pb.TrialStatus.SUCCEEDED
                    or {k: v for k, v in parent[1].items() if k != "epochs"}
                    != {k: v for k, v in t[1].items() if k != "epochs"}
                    or int(t[1]["epochs"]) <= int(parent[1]["epochs"])):
                good = False
                print(f"        promotion {t} of parent {parent}")
        checks.ok(good, "hyperband: each promotion names a completed trial and keeps its "
                  "parameters with a larger budget")


def suggestions(checks, stub):
    for algorithm, settings, space, rounds in ALGORITHMS:
        run_algorithm(checks, stub, algorithm, settings, space, rounds)


def validation(checks, stub):
    for algorithm, settings, space, _ in ALGORITHMS:
        _, err = call(stub.ValidateAlgorithmSettings, pb.ValidateAlgorithmSettingsRequest(
            experiment=experiment("py-validate", algorithm, settings, space)))
        checks.ok(err is None, f"ValidateAlgorithmSettings({algorithm}, {settings}) is OK"
                  + (f" (got {err.code().name}: {err.details()})" if err else ""))

    def invalid(algorithm, settings, space, want, what):
        _, err = call(stub.ValidateAlgorithmSettings, pb.ValidateAlgorithmSettingsRequest(
            experiment=experiment("py-validate", algorithm, settings, space)))
        checks.ok(err is not None and err.code() == grpc.StatusCode.INVALID_ARGUMENT
                  and all(w in err.details() for w in want),
                  f"ValidateAlgorithmSettings: {what} is INVALID_ARGUMENT naming {want}"
                  + (f" (got {err.code().name}: {err.details()!r})" if err else " (got OK)"))

    invalid("tpe", [("n_startup_trials", "5"), ("n_ei_candidates", "-1")], SPACE,
            ["spec.algorithm.algorithmSettings[1].value"], "tpe n_ei_candidates=-1")
    invalid("random", [("random_state", "x")], SPACE,
            ["spec.algorithm.algorithmSettings[0].value"], "random random_state=x")
    invalid("hyperband", [("resource_name", "epochs")], HYPERBAND_SPACE, ["r_l"],
            "hyperband without r_l")
    bad_space = [("lr", "DOUBLE", dict(min="0.1", max="0.001"))]
    invalid("random", [], bad_space, ["spec.parameters[0]"], "a double with min > max")

    # Unknown algorithm: INVALID_ARGUMENT listing the known ones, from both methods.
    known = sorted(a for a, *_ in ALGORITHMS)
    for method, request in [
        ("ValidateAlgorithmSettings", pb.ValidateAlgorithmSettingsRequest(
            experiment=experiment("py-unknown", "simulated-annealing", [], SPACE))),
        ("GetSuggestions", pb.GetSuggestionsRequest(
            experiment=experiment("py-unknown", "simulated-annealing", [], SPACE),
            current_request_number=1, total_request_number=1)),
    ]:
        _, err = call(getattr(stub, method), request)
        listed = err is not None and all(a in err.details() for a in known)
        checks.ok(err is not None and err.code() == grpc.StatusCode.INVALID_ARGUMENT and listed
                  and "spec.algorithm.algorithmName" in err.details(),
                  f"{method}: an unknown algorithm is INVALID_ARGUMENT at "
                  f"spec.algorithm.algorithmName listing {known}"
                  + (f" (got {err.code().name}: {err.details()!r})" if err else " (got OK)"))

    # A trial value outside the space names the trial's field.
    exp = KatibExperiment("py-outside", "random", [], SPACE)
    exp.trials.append(["py-outside-t0", {"lr": "7.5", "momentum": "0.9", "layers": "2",
                                         "batch": "32", "optimizer": "sgd"}, {},
                       pb.TrialStatus.SUCCEEDED, 1.0])
    _, err = call(stub.GetSuggestions, exp.request(1))
    field = "trials[0].spec.parameterAssignments.assignments[0].value"
    checks.ok(err is not None and err.code() == grpc.StatusCode.INVALID_ARGUMENT
              and field in err.details(),
              f"GetSuggestions: a trial's value outside the space is INVALID_ARGUMENT at {field}"
              + (f" (got {err.code().name}: {err.details()!r})" if err else " (got OK)"))


def still_serving(stub):
    reply, err = call(stub.GetSuggestions,
                      KatibExperiment("py-after", "random", [], SPACE).request(1))
    return err is None and len(reply.parameter_assignments) == 1


def abuse(checks, channel, stub):
    raw = channel.unary_unary("/api.v1.beta1.Suggestion/GetSuggestions",
                              request_serializer=None, response_deserializer=None)
    rng = random.Random(1)
    garbage = [
        ("text", b"this is not a protobuf message \xff\xfe"),
        ("a length past the end", b"\x0a\xff\xff\xff\xff\x0f" + b"\x00" * 10),
        ("random bytes", bytes(rng.randrange(256) for _ in range(4096))),
    ]
    for what, payload in garbage:
        try:
            raw(payload, timeout=TIMEOUT)
            code, details = grpc.StatusCode.OK, ""
        except grpc.RpcError as e:
            code, details = e.code(), e.details()
        checks.ok(code not in (grpc.StatusCode.OK, grpc.StatusCode.UNAVAILABLE,
                               grpc.StatusCode.DEADLINE_EXCEEDED),
                  f"garbage ({what}, {len(payload)} bytes) is answered with an error status "
                  f"({code.name}: {details[:100]!r})")
    checks.ok(still_serving(stub), "the server still serves after the garbage")

    # Over the limit: a request of 65 MiB (the experiment's name).
    big = pb.GetSuggestionsRequest(
        experiment=experiment("x" * (LIMIT + (1 << 20)), "random", [], SPACE),
        current_request_number=1, total_request_number=1)
    size = big.ByteSize()
    started = time.monotonic()
    _, err = call(stub.GetSuggestions, big, timeout=120.0)
    took = time.monotonic() - started
    # tonic answers a message over its decoding limit with OUT_OF_RANGE ("decoded message
    # length too large"); gRPC's own servers say RESOURCE_EXHAUSTED. Either is an answer.
    too_large = (grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.StatusCode.OUT_OF_RANGE)
    checks.ok(err is not None and err.code() in too_large,
              f"a {size / 2**20:.1f} MiB request (limit {LIMIT // 2**20} MiB) is refused with "
              f"{' or '.join(c.name for c in too_large)} in {took:.1f} s"
              + (f" (got {err.code().name}: {err.details()[:200]!r})" if err else " (got OK)"))
    checks.ok(still_serving(stub), "the server still serves after the oversized request")

    # Just under the limit is accepted: a long history is what the limit is for.
    exp = KatibExperiment("py-large", "random", [], SPACE)
    rng = random.Random(2)
    for i in range(20000):
        values = {"lr": repr(10 ** rng.uniform(-3, -1)), "momentum": repr(rng.uniform(0.5, 0.99)),
                  "layers": str(rng.randint(1, 5)), "batch": rng.choice(["16", "32", "64"]),
                  "optimizer": rng.choice(["sgd", "adam", "rmsprop"])}
        exp.trials.append([f"py-large-{i}", values, {}, pb.TrialStatus.SUCCEEDED,
                           loss_of(values)])
    request = exp.request(1)
    reply, err = call(stub.GetSuggestions, request)
    checks.ok(err is None and len(reply.parameter_assignments) == 1,
              f"a history of 20000 trials ({request.ByteSize() / 2**20:.1f} MiB) is answered"
              + (f" (got {err.code().name}: {err.details()[:200]!r})" if err else ""))


def early_stopping(checks, channel):
    es = rpc.EarlyStoppingStub(channel)
    # Observation logs of the "loss" metric by trial, and who asked for what.
    curves = {
        "es-t0": [4.0, 3.0, 2.0, 1.0, 0.5],
        "es-t1": [2.0, 2.0, 2.0, 2.0, 2.0],
        "es-t2": [9.0, 8.0, 7.0, 6.0, 5.0],
        "es-t3": [3.0, 1.0, 0.5, 0.4, 0.3],
    }
    asked = []
    lock = threading.Lock()

    class DBManager(rpc.DBManagerServicer):
        def GetObservationLog(self, request, context):
            with lock:
                asked.append((request.trial_name, request.metric_name))
            logs = pb.ObservationLog()
            for step, v in enumerate(curves.get(request.trial_name, [])):
                value = -v if request.metric_name == "accuracy" else v
                logs.metric_logs.add(time_stamp=f"2026-11-24T00:0{step}:00Z",
                                     metric=pb.Metric(name=request.metric_name, value=repr(value)))
            return pb.GetObservationLogReply(observation_log=logs)

        def ReportObservationLog(self, request, context):
            return pb.ReportObservationLogReply()

        def DeleteObservationLog(self, request, context):
            return pb.DeleteObservationLogReply()

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    rpc.add_DBManagerServicer_to_server(DBManager(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        start_step = 3
        medianstop = pb.EarlyStoppingSpec(
            algorithm_name="medianstop",
            algorithm_settings=[pb.EarlyStoppingSetting(name="min_trials_required", value="3"),
                                pb.EarlyStoppingSetting(name="start_step", value=str(start_step))])
        values = {"lr": "0.01", "momentum": "0.9", "layers": "2", "batch": "32",
                  "optimizer": "adam"}
        completed = [trial(name, values, {}, pb.TrialStatus.SUCCEEDED, curve[-1])
                     for name, curve in curves.items()]
        running = trial("es-t4", values, {}, pb.TrialStatus.RUNNING)

        # Katib asks for rules as the first trials are created: nothing completed, no rule.
        reply, err = call(es.GetEarlyStoppingRules, pb.GetEarlyStoppingRulesRequest(
            experiment=experiment("py-es", "random", [], SPACE, medianstop), trials=[running],
            db_manager_address=f"127.0.0.1:{port}"))
        checks.ok(err is None and len(reply.early_stopping_rules) == 0,
                  "medianstop: with no completed trial there is no rule yet"
                  + (f" (got {err.code().name}: {err.details()})" if err else ""))

        for maximize, metric, sign, comparison in [(False, "loss", 1.0, pb.GREATER),
                                                   (True, "accuracy", -1.0, pb.LESS)]:
            asked.clear()
            exp = experiment("py-es", "random", [], SPACE, medianstop, maximize, metric)
            reply, err = call(es.GetEarlyStoppingRules, pb.GetEarlyStoppingRulesRequest(
                experiment=exp, trials=completed + [running],
                db_manager_address=f"127.0.0.1:{port}"))
            if not checks.ok(err is None, f"medianstop ({metric}): GetEarlyStoppingRules answers"
                             + (f" (got {err.code().name}: {err.details()})" if err else "")):
                continue
            want = statistics.median(sign * statistics.fmean(c[:start_step])
                                     for c in curves.values())
            rules = list(reply.early_stopping_rules)
            checks.ok(len(rules) == 1 and rules[0].name == metric
                      and math.isclose(float(rules[0].value), want, rel_tol=1e-12)
                      and rules[0].comparison == comparison and rules[0].start_step == start_step,
                      f"medianstop ({metric}): the rule is {{{metric}, {want}, "
                      f"{pb.ComparisonType.Name(comparison)}, {start_step}}} (got "
                      + "; ".join(f"{{{r.name}, {r.value}, {pb.ComparisonType.Name(r.comparison)},"
                                  f" {r.start_step}}}" for r in rules) + ")")
            checks.ok(sorted(asked) == sorted((n, metric) for n in curves),
                      f"medianstop ({metric}): the DB manager was asked for the completed "
                      f"trials' logs of {metric} only (asked {sorted(asked)})")

        # No DB manager address while trials have completed: an error naming the field.
        _, err = call(es.GetEarlyStoppingRules, pb.GetEarlyStoppingRulesRequest(
            experiment=experiment("py-es", "random", [], SPACE, medianstop), trials=completed))
        checks.ok(err is not None and err.code() == grpc.StatusCode.INVALID_ARGUMENT
                  and "db_manager_address" in err.details(),
                  "medianstop: no db_manager_address is INVALID_ARGUMENT naming it"
                  + (f" (got {err.code().name}: {err.details()!r})" if err else " (got OK)"))
    finally:
        server.stop(grace=None)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("address", help="HOST:PORT of a running ferrotune server")
    ap.add_argument("--proto", type=Path,
                    default=Path(__file__).resolve().parents[3] / "proto" / "katib" / "api.proto",
                    help="the Katib-compatible .proto (default: the project's)")
    args = ap.parse_args()
    started = time.monotonic()
    checks = Checks()
    with tempfile.TemporaryDirectory(prefix="katib-stubs-") as tmp:
        generate_stubs(args.proto, Path(tmp))
        print(f"katib_client: stubs from {args.proto} (grpcio {grpc.__version__}); "
              f"server at {args.address}")
        with grpc.insecure_channel(args.address, options=OPTIONS) as channel:
            try:
                grpc.channel_ready_future(channel).result(timeout=TIMEOUT)
            except grpc.FutureTimeoutError:
                print(f"katib_client: no server at {args.address} after {TIMEOUT:.0f} s")
                return 1
            stub = rpc.SuggestionStub(channel)
            checks.section("ValidateAlgorithmSettings and errors", validation, checks, stub)
            checks.section("GetSuggestions, as Katib's controller calls it", suggestions,
                           checks, stub)
            checks.section("GetEarlyStoppingRules (medianstop, DB manager in Python)",
                           early_stopping, checks, channel)
            checks.section("garbage and oversized requests", abuse, checks, channel, stub)
    took = time.monotonic() - started
    if checks.failed:
        print(f"katib_client: {len(checks.failed)} of {checks.passed + len(checks.failed)} "
              f"checks FAILED in {took:.1f} s:")
        for f in checks.failed:
            print(f"  - {f}")
        return 1
    print(f"katib_client: all {checks.passed} checks passed in {took:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
