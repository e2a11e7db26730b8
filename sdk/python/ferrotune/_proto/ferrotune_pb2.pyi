from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ExperimentRef(_message.Message):
    __slots__ = ("namespace", "name")
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    namespace: str
    name: str
    def __init__(self, namespace: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...

class TrialRef(_message.Message):
    __slots__ = ("namespace", "trial")
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    TRIAL_FIELD_NUMBER: _ClassVar[int]
    namespace: str
    trial: str
    def __init__(self, namespace: _Optional[str] = ..., trial: _Optional[str] = ...) -> None: ...

class CreateExperimentRequest(_message.Message):
    __slots__ = ("namespace", "document", "name", "seed", "parallel_trial_count", "max_trial_count", "source", "runner")
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    DOCUMENT_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    PARALLEL_TRIAL_COUNT_FIELD_NUMBER: _ClassVar[int]
    MAX_TRIAL_COUNT_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    RUNNER_FIELD_NUMBER: _ClassVar[int]
    namespace: str
    document: str
    name: str
    seed: int
    parallel_trial_count: int
    max_trial_count: int
    source: str
    runner: RunnerOverride
    def __init__(self, namespace: _Optional[str] = ..., document: _Optional[str] = ..., name: _Optional[str] = ..., seed: _Optional[int] = ..., parallel_trial_count: _Optional[int] = ..., max_trial_count: _Optional[int] = ..., source: _Optional[str] = ..., runner: _Optional[_Union[RunnerOverride, _Mapping]] = ...) -> None: ...

class RunnerOverride(_message.Message):
    __slots__ = ("kind", "ray_address", "ray_mode")
    KIND_FIELD_NUMBER: _ClassVar[int]
    RAY_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    RAY_MODE_FIELD_NUMBER: _ClassVar[int]
    kind: str
    ray_address: str
    ray_mode: str
    def __init__(self, kind: _Optional[str] = ..., ray_address: _Optional[str] = ..., ray_mode: _Optional[str] = ...) -> None: ...

class ListExperimentsRequest(_message.Message):
    __slots__ = ("namespace",)
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    namespace: str
    def __init__(self, namespace: _Optional[str] = ...) -> None: ...

class ListExperimentsResponse(_message.Message):
    __slots__ = ("experiments",)
    EXPERIMENTS_FIELD_NUMBER: _ClassVar[int]
    experiments: _containers.RepeatedCompositeFieldContainer[Experiment]
    def __init__(self, experiments: _Optional[_Iterable[_Union[Experiment, _Mapping]]] = ...) -> None: ...

class ResumeExperimentRequest(_message.Message):
    __slots__ = ("experiment", "max_trial_count", "parallel_trial_count")
    EXPERIMENT_FIELD_NUMBER: _ClassVar[int]
    MAX_TRIAL_COUNT_FIELD_NUMBER: _ClassVar[int]
    PARALLEL_TRIAL_COUNT_FIELD_NUMBER: _ClassVar[int]
    experiment: ExperimentRef
    max_trial_count: int
    parallel_trial_count: int
    def __init__(self, experiment: _Optional[_Union[ExperimentRef, _Mapping]] = ..., max_trial_count: _Optional[int] = ..., parallel_trial_count: _Optional[int] = ...) -> None: ...

class DeleteExperimentResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class Experiment(_message.Message):
    __slots__ = ("namespace", "name", "status", "reason", "message", "document_json", "seed", "created_at", "started_at", "completed_at", "run_dir", "source", "counts")
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    DOCUMENT_JSON_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    COMPLETED_AT_FIELD_NUMBER: _ClassVar[int]
    RUN_DIR_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    COUNTS_FIELD_NUMBER: _ClassVar[int]
    namespace: str
    name: str
    status: str
    reason: str
    message: str
    document_json: str
    seed: int
    created_at: str
    started_at: str
    completed_at: str
    run_dir: str
    source: str
    counts: TrialCounts
    def __init__(self, namespace: _Optional[str] = ..., name: _Optional[str] = ..., status: _Optional[str] = ..., reason: _Optional[str] = ..., message: _Optional[str] = ..., document_json: _Optional[str] = ..., seed: _Optional[int] = ..., created_at: _Optional[str] = ..., started_at: _Optional[str] = ..., completed_at: _Optional[str] = ..., run_dir: _Optional[str] = ..., source: _Optional[str] = ..., counts: _Optional[_Union[TrialCounts, _Mapping]] = ...) -> None: ...

class TrialCounts(_message.Message):
    __slots__ = ("created", "running", "succeeded", "failed", "killed", "early_stopped", "metrics_unavailable")
    CREATED_FIELD_NUMBER: _ClassVar[int]
    RUNNING_FIELD_NUMBER: _ClassVar[int]
    SUCCEEDED_FIELD_NUMBER: _ClassVar[int]
    FAILED_FIELD_NUMBER: _ClassVar[int]
    KILLED_FIELD_NUMBER: _ClassVar[int]
    EARLY_STOPPED_FIELD_NUMBER: _ClassVar[int]
    METRICS_UNAVAILABLE_FIELD_NUMBER: _ClassVar[int]
    created: int
    running: int
    succeeded: int
    failed: int
    killed: int
    early_stopped: int
    metrics_unavailable: int
    def __init__(self, created: _Optional[int] = ..., running: _Optional[int] = ..., succeeded: _Optional[int] = ..., failed: _Optional[int] = ..., killed: _Optional[int] = ..., early_stopped: _Optional[int] = ..., metrics_unavailable: _Optional[int] = ...) -> None: ...

class Trial(_message.Message):
    __slots__ = ("namespace", "experiment", "name", "seq", "parameters", "status", "reason", "message", "attempt", "objective", "metrics", "labels", "created_at", "start_time", "completion_time", "failed_attempts")
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    EXPERIMENT_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    OBJECTIVE_FIELD_NUMBER: _ClassVar[int]
    METRICS_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    COMPLETION_TIME_FIELD_NUMBER: _ClassVar[int]
    FAILED_ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    namespace: str
    experiment: str
    name: str
    seq: int
    parameters: _containers.RepeatedCompositeFieldContainer[Parameter]
    status: str
    reason: str
    message: str
    attempt: int
    objective: float
    metrics: _containers.RepeatedCompositeFieldContainer[MetricSummary]
    labels: _containers.ScalarMap[str, str]
    created_at: str
    start_time: str
    completion_time: str
    failed_attempts: int
    def __init__(self, namespace: _Optional[str] = ..., experiment: _Optional[str] = ..., name: _Optional[str] = ..., seq: _Optional[int] = ..., parameters: _Optional[_Iterable[_Union[Parameter, _Mapping]]] = ..., status: _Optional[str] = ..., reason: _Optional[str] = ..., message: _Optional[str] = ..., attempt: _Optional[int] = ..., objective: _Optional[float] = ..., metrics: _Optional[_Iterable[_Union[MetricSummary, _Mapping]]] = ..., labels: _Optional[_Mapping[str, str]] = ..., created_at: _Optional[str] = ..., start_time: _Optional[str] = ..., completion_time: _Optional[str] = ..., failed_attempts: _Optional[int] = ...) -> None: ...

class MetricSummary(_message.Message):
    __slots__ = ("name", "min", "max", "latest", "count")
    NAME_FIELD_NUMBER: _ClassVar[int]
    MIN_FIELD_NUMBER: _ClassVar[int]
    MAX_FIELD_NUMBER: _ClassVar[int]
    LATEST_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    name: str
    min: float
    max: float
    latest: float
    count: int
    def __init__(self, name: _Optional[str] = ..., min: _Optional[float] = ..., max: _Optional[float] = ..., latest: _Optional[float] = ..., count: _Optional[int] = ...) -> None: ...

class ListTrialsResponse(_message.Message):
    __slots__ = ("trials",)
    TRIALS_FIELD_NUMBER: _ClassVar[int]
    trials: _containers.RepeatedCompositeFieldContainer[Trial]
    def __init__(self, trials: _Optional[_Iterable[_Union[Trial, _Mapping]]] = ...) -> None: ...

class GetObservationLogRequest(_message.Message):
    __slots__ = ("trial", "metric", "attempt")
    TRIAL_FIELD_NUMBER: _ClassVar[int]
    METRIC_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    trial: TrialRef
    metric: str
    attempt: int
    def __init__(self, trial: _Optional[_Union[TrialRef, _Mapping]] = ..., metric: _Optional[str] = ..., attempt: _Optional[int] = ...) -> None: ...

class ObservationLog(_message.Message):
    __slots__ = ("observations",)
    OBSERVATIONS_FIELD_NUMBER: _ClassVar[int]
    observations: _containers.RepeatedCompositeFieldContainer[Observation]
    def __init__(self, observations: _Optional[_Iterable[_Union[Observation, _Mapping]]] = ...) -> None: ...

class Observation(_message.Message):
    __slots__ = ("attempt", "metric", "step", "timestamp", "value")
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    METRIC_FIELD_NUMBER: _ClassVar[int]
    STEP_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    attempt: int
    metric: str
    step: int
    timestamp: str
    value: float
    def __init__(self, attempt: _Optional[int] = ..., metric: _Optional[str] = ..., step: _Optional[int] = ..., timestamp: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...

class ExperimentEvent(_message.Message):
    __slots__ = ("experiment", "trial")
    EXPERIMENT_FIELD_NUMBER: _ClassVar[int]
    TRIAL_FIELD_NUMBER: _ClassVar[int]
    experiment: Experiment
    trial: Trial
    def __init__(self, experiment: _Optional[_Union[Experiment, _Mapping]] = ..., trial: _Optional[_Union[Trial, _Mapping]] = ...) -> None: ...

class ReportRequest(_message.Message):
    __slots__ = ("trial", "step", "metrics", "timestamp", "namespace")
    class MetricsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    TRIAL_FIELD_NUMBER: _ClassVar[int]
    STEP_FIELD_NUMBER: _ClassVar[int]
    METRICS_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    trial: str
    step: int
    metrics: _containers.ScalarMap[str, float]
    timestamp: str
    namespace: str
    def __init__(self, trial: _Optional[str] = ..., step: _Optional[int] = ..., metrics: _Optional[_Mapping[str, float]] = ..., timestamp: _Optional[str] = ..., namespace: _Optional[str] = ...) -> None: ...

class ReportResponse(_message.Message):
    __slots__ = ("accepted", "should_stop")
    ACCEPTED_FIELD_NUMBER: _ClassVar[int]
    SHOULD_STOP_FIELD_NUMBER: _ClassVar[int]
    accepted: int
    should_stop: bool
    def __init__(self, accepted: _Optional[int] = ..., should_stop: _Optional[bool] = ...) -> None: ...

class ShouldStopResponse(_message.Message):
    __slots__ = ("should_stop", "reason")
    SHOULD_STOP_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    should_stop: bool
    reason: str
    def __init__(self, should_stop: _Optional[bool] = ..., reason: _Optional[str] = ...) -> None: ...

class CreateStudyRequest(_message.Message):
    __slots__ = ("namespace", "document", "name", "seed")
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    DOCUMENT_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    namespace: str
    document: str
    name: str
    seed: int
    def __init__(self, namespace: _Optional[str] = ..., document: _Optional[str] = ..., name: _Optional[str] = ..., seed: _Optional[int] = ...) -> None: ...

class Study(_message.Message):
    __slots__ = ("namespace", "name", "document_json", "seed")
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DOCUMENT_JSON_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    namespace: str
    name: str
    document_json: str
    seed: int
    def __init__(self, namespace: _Optional[str] = ..., name: _Optional[str] = ..., document_json: _Optional[str] = ..., seed: _Optional[int] = ...) -> None: ...

class AskRequest(_message.Message):
    __slots__ = ("study", "count")
    STUDY_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    study: ExperimentRef
    count: int
    def __init__(self, study: _Optional[_Union[ExperimentRef, _Mapping]] = ..., count: _Optional[int] = ...) -> None: ...

class AskResponse(_message.Message):
    __slots__ = ("trials", "exhausted")
    TRIALS_FIELD_NUMBER: _ClassVar[int]
    EXHAUSTED_FIELD_NUMBER: _ClassVar[int]
    trials: _containers.RepeatedCompositeFieldContainer[Trial]
    exhausted: bool
    def __init__(self, trials: _Optional[_Iterable[_Union[Trial, _Mapping]]] = ..., exhausted: _Optional[bool] = ...) -> None: ...

class TellRequest(_message.Message):
    __slots__ = ("trial", "status", "metrics", "message")
    class MetricsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    TRIAL_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    METRICS_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    trial: TrialRef
    status: str
    metrics: _containers.ScalarMap[str, float]
    message: str
    def __init__(self, trial: _Optional[_Union[TrialRef, _Mapping]] = ..., status: _Optional[str] = ..., metrics: _Optional[_Mapping[str, float]] = ..., message: _Optional[str] = ...) -> None: ...

class TellResponse(_message.Message):
    __slots__ = ("trial",)
    TRIAL_FIELD_NUMBER: _ClassVar[int]
    trial: Trial
    def __init__(self, trial: _Optional[_Union[Trial, _Mapping]] = ...) -> None: ...

class SuggestRequest(_message.Message):
    __slots__ = ("document", "history", "count", "seed")
    DOCUMENT_FIELD_NUMBER: _ClassVar[int]
    HISTORY_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    document: str
    history: _containers.RepeatedCompositeFieldContainer[HistoryTrial]
    count: int
    seed: int
    def __init__(self, document: _Optional[str] = ..., history: _Optional[_Iterable[_Union[HistoryTrial, _Mapping]]] = ..., count: _Optional[int] = ..., seed: _Optional[int] = ...) -> None: ...

class HistoryTrial(_message.Message):
    __slots__ = ("name", "parameters", "status", "objectives")
    NAME_FIELD_NUMBER: _ClassVar[int]
    PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    OBJECTIVES_FIELD_NUMBER: _ClassVar[int]
    name: str
    parameters: _containers.RepeatedCompositeFieldContainer[Parameter]
    status: str
    objectives: _containers.RepeatedScalarFieldContainer[float]
    def __init__(self, name: _Optional[str] = ..., parameters: _Optional[_Iterable[_Union[Parameter, _Mapping]]] = ..., status: _Optional[str] = ..., objectives: _Optional[_Iterable[float]] = ...) -> None: ...

class SuggestResponse(_message.Message):
    __slots__ = ("assignments", "exhausted")
    ASSIGNMENTS_FIELD_NUMBER: _ClassVar[int]
    EXHAUSTED_FIELD_NUMBER: _ClassVar[int]
    assignments: _containers.RepeatedCompositeFieldContainer[Assignment]
    exhausted: bool
    def __init__(self, assignments: _Optional[_Iterable[_Union[Assignment, _Mapping]]] = ..., exhausted: _Optional[bool] = ...) -> None: ...

class Assignment(_message.Message):
    __slots__ = ("parameters",)
    PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    parameters: _containers.RepeatedCompositeFieldContainer[Parameter]
    def __init__(self, parameters: _Optional[_Iterable[_Union[Parameter, _Mapping]]] = ...) -> None: ...

class Parameter(_message.Message):
    __slots__ = ("name", "value")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    name: str
    value: str
    def __init__(self, name: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...

class DriverMessage(_message.Message):
    __slots__ = ("hello", "started", "output", "exited")
    HELLO_FIELD_NUMBER: _ClassVar[int]
    STARTED_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_FIELD_NUMBER: _ClassVar[int]
    EXITED_FIELD_NUMBER: _ClassVar[int]
    hello: DriverHello
    started: TaskStarted
    output: TaskOutput
    exited: TaskExited
    def __init__(self, hello: _Optional[_Union[DriverHello, _Mapping]] = ..., started: _Optional[_Union[TaskStarted, _Mapping]] = ..., output: _Optional[_Union[TaskOutput, _Mapping]] = ..., exited: _Optional[_Union[TaskExited, _Mapping]] = ...) -> None: ...

class DriverHello(_message.Message):
    __slots__ = ("driver_id", "running", "ray_version")
    DRIVER_ID_FIELD_NUMBER: _ClassVar[int]
    RUNNING_FIELD_NUMBER: _ClassVar[int]
    RAY_VERSION_FIELD_NUMBER: _ClassVar[int]
    driver_id: str
    running: _containers.RepeatedCompositeFieldContainer[TaskRef]
    ray_version: str
    def __init__(self, driver_id: _Optional[str] = ..., running: _Optional[_Iterable[_Union[TaskRef, _Mapping]]] = ..., ray_version: _Optional[str] = ...) -> None: ...

class TaskRef(_message.Message):
    __slots__ = ("trial", "attempt", "token")
    TRIAL_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    trial: str
    attempt: int
    token: str
    def __init__(self, trial: _Optional[str] = ..., attempt: _Optional[int] = ..., token: _Optional[str] = ...) -> None: ...

class TaskStarted(_message.Message):
    __slots__ = ("trial", "attempt", "node_id", "node_ip")
    TRIAL_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    NODE_IP_FIELD_NUMBER: _ClassVar[int]
    trial: str
    attempt: int
    node_id: str
    node_ip: str
    def __init__(self, trial: _Optional[str] = ..., attempt: _Optional[int] = ..., node_id: _Optional[str] = ..., node_ip: _Optional[str] = ...) -> None: ...

class TaskOutput(_message.Message):
    __slots__ = ("trial", "attempt", "lines", "rank", "first_line")
    TRIAL_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    LINES_FIELD_NUMBER: _ClassVar[int]
    RANK_FIELD_NUMBER: _ClassVar[int]
    FIRST_LINE_FIELD_NUMBER: _ClassVar[int]
    trial: str
    attempt: int
    lines: _containers.RepeatedScalarFieldContainer[str]
    rank: int
    first_line: int
    def __init__(self, trial: _Optional[str] = ..., attempt: _Optional[int] = ..., lines: _Optional[_Iterable[str]] = ..., rank: _Optional[int] = ..., first_line: _Optional[int] = ...) -> None: ...

class TaskExited(_message.Message):
    __slots__ = ("trial", "attempt", "code", "signal", "error", "not_started")
    TRIAL_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    SIGNAL_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    NOT_STARTED_FIELD_NUMBER: _ClassVar[int]
    trial: str
    attempt: int
    code: int
    signal: int
    error: str
    not_started: bool
    def __init__(self, trial: _Optional[str] = ..., attempt: _Optional[int] = ..., code: _Optional[int] = ..., signal: _Optional[int] = ..., error: _Optional[str] = ..., not_started: _Optional[bool] = ...) -> None: ...

class DriverCommand(_message.Message):
    __slots__ = ("launch", "cancel", "shutdown")
    LAUNCH_FIELD_NUMBER: _ClassVar[int]
    CANCEL_FIELD_NUMBER: _ClassVar[int]
    SHUTDOWN_FIELD_NUMBER: _ClassVar[int]
    launch: TaskLaunch
    cancel: TaskCancel
    shutdown: DriverShutdown
    def __init__(self, launch: _Optional[_Union[TaskLaunch, _Mapping]] = ..., cancel: _Optional[_Union[TaskCancel, _Mapping]] = ..., shutdown: _Optional[_Union[DriverShutdown, _Mapping]] = ...) -> None: ...

class TaskLaunch(_message.Message):
    __slots__ = ("trial", "attempt", "argv", "env", "cwd", "mkdirs", "num_cpus", "num_gpus", "memory", "resources", "replicas")
    class ResourcesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    TRIAL_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    ARGV_FIELD_NUMBER: _ClassVar[int]
    ENV_FIELD_NUMBER: _ClassVar[int]
    CWD_FIELD_NUMBER: _ClassVar[int]
    MKDIRS_FIELD_NUMBER: _ClassVar[int]
    NUM_CPUS_FIELD_NUMBER: _ClassVar[int]
    NUM_GPUS_FIELD_NUMBER: _ClassVar[int]
    MEMORY_FIELD_NUMBER: _ClassVar[int]
    RESOURCES_FIELD_NUMBER: _ClassVar[int]
    REPLICAS_FIELD_NUMBER: _ClassVar[int]
    trial: str
    attempt: int
    argv: _containers.RepeatedScalarFieldContainer[str]
    env: _containers.RepeatedCompositeFieldContainer[EnvVar]
    cwd: str
    mkdirs: _containers.RepeatedScalarFieldContainer[str]
    num_cpus: float
    num_gpus: float
    memory: int
    resources: _containers.ScalarMap[str, float]
    replicas: int
    def __init__(self, trial: _Optional[str] = ..., attempt: _Optional[int] = ..., argv: _Optional[_Iterable[str]] = ..., env: _Optional[_Iterable[_Union[EnvVar, _Mapping]]] = ..., cwd: _Optional[str] = ..., mkdirs: _Optional[_Iterable[str]] = ..., num_cpus: _Optional[float] = ..., num_gpus: _Optional[float] = ..., memory: _Optional[int] = ..., resources: _Optional[_Mapping[str, float]] = ..., replicas: _Optional[int] = ...) -> None: ...

class EnvVar(_message.Message):
    __slots__ = ("name", "value")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    name: str
    value: str
    def __init__(self, name: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...

class TaskCancel(_message.Message):
    __slots__ = ("trial", "attempt", "grace_seconds")
    TRIAL_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    GRACE_SECONDS_FIELD_NUMBER: _ClassVar[int]
    trial: str
    attempt: int
    grace_seconds: float
    def __init__(self, trial: _Optional[str] = ..., attempt: _Optional[int] = ..., grace_seconds: _Optional[float] = ...) -> None: ...

class DriverShutdown(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...
