//! Every validation rule, on whole documents: each problem is named by its field path, and
//! all of them are reported together.

use ferrotune_controller::validate_document;
use ferrotune_core::load::load_str;

fn problems(yaml: &str) -> Vec<String> {
    let f = load_str(yaml).unwrap_or_else(|e| panic!("parse: {e}"));
    assert_eq!(f.experiments.len(), 1);
    match validate_document(&f.experiments[0]) {
        Ok(_) => Vec::new(),
        Err(es) => es.iter().map(|e| e.to_string()).collect(),
    }
}

fn has(ps: &[String], needle: &str) {
    assert!(
        ps.iter().any(|p| p.contains(needle)),
        "no problem contains {needle:?}; got:\n{}",
        ps.join("\n")
    );
}

const GOOD: &str = "apiVersion: ferrotune.io/v1alpha1
kind: Experiment
metadata: {name: good}
spec:
  objective: {type: maximize, objectiveMetricName: acc}
  algorithm: {algorithmName: random}
  parallelTrialCount: 2
  maxTrialCount: 4
  parameters:
  - {name: lr, parameterType: double, feasibleSpace: {min: '0.001', max: '0.1', distribution: logUniform}}
  - {name: n, parameterType: int, feasibleSpace: {min: 1, max: 9, step: 2}}
  - {name: d, parameterType: discrete, feasibleSpace: {list: [1, 2.5, '4']}}
  - {name: c, parameterType: categorical, feasibleSpace: {list: [a, b]}}
  trialTemplate:
    command: [python3, train.py, '--lr=${trialParameters.lr}', '${trialParameters.c}']
";

#[test]
fn a_good_native_file_validates_with_defaults() {
    let f = load_str(GOOD).unwrap();
    let e = validate_document(&f.experiments[0]).unwrap();
    assert_eq!(e.namespace, "ferrotune");
    assert_eq!(e.space.parameters.len(), 4);
    assert_eq!(
        e.objective.strategy("acc"),
        ferrotune_core::MetricStrategy::Max
    );
    assert_eq!(
        e.template.trial_parameters.len(),
        4,
        "native: every parameter is a trial parameter"
    );
    let defaults = load_str(&GOOD.replace("  parallelTrialCount: 2\n", "")).unwrap();
    assert_eq!(
        validate_document(&defaults.experiments[0])
            .unwrap()
            .parallel_trial_count,
        3
    );
}

#[test]
fn every_problem_is_reported_at_once() {
    let bad = "apiVersion: ferrotune.io/v1alpha1
kind: Experiment
metadata: {name: bad}
spec:
  objective: {type: minimise}
  algorithm:
    algorithmName: rnadom
  parallelTrialCount: 0
  maxTrialCount: 5
  maxFailedTrialCount: 9
  paralelTrialCount: 2
  parameters:
  - {name: lr, parameterType: double, feasibleSpace: {min: '0.1', max: '0.01'}}
  - {name: wd, parameterType: double, feasibleSpace: {min: '0.9', max: '0.5'}}
  - {name: lr, parameterType: int, feasibleSpace: {min: '1', max: '10', step: '0'}}
  - {name: s, parameterType: int, feasibleSpace: {min: '1', max: '10', step: '20'}}
  - {name: e, parameterType: categorical, feasibleSpace: {list: []}}
  - {name: dup, parameterType: categorical, feasibleSpace: {list: [a, b, a]}}
  - {name: lg, parameterType: double, feasibleSpace: {min: '0', max: '1', distribution: logUniform}}
  - {name: t, parameterType: float, feasibleSpace: {min: '0', max: '1'}}
  - {name: x, parameterType: double, feasibleSpace: {min: 'abc', max: '1'}}
  - {name: dd, parameterType: discrete, feasibleSpace: {list: ['1', 'two']}}
  trialTemplate:
    trialParameters:
    - {name: learningRate, reference: lrr}
    command: [python3, train.py, '--lr=${trialParameters.learningRate}', '--m=${trialParameters.momentum}']
";
    let ps = problems(bad);
    has(
        &ps,
        "spec: unknown field \"paralelTrialCount\", did you mean \"parallelTrialCount\"?",
    );
    has(
        &ps,
        "spec.objective.type: \"minimise\" must be minimize or maximize",
    );
    has(&ps, "spec.objective.objectiveMetricName: is required");
    has(
        &ps,
        "spec.algorithm.algorithmName: unknown algorithm \"rnadom\"",
    );
    has(&ps, "did you mean \"random\"");
    has(&ps, "spec.parallelTrialCount: must be at least 1, got 0");
    has(
        &ps,
        "spec.maxFailedTrialCount: (9) must not exceed maxTrialCount (5)",
    );
    has(
        &ps,
        "spec.parameters[0].feasibleSpace: min (0.1) must be less than max (0.01)",
    );
    has(
        &ps,
        "spec.parameters[1].feasibleSpace: min (0.9) must be less than max (0.5)",
    );
    has(
        &ps,
        "spec.parameters[2].name: duplicate parameter name \"lr\" (also spec.parameters[0])",
    );
    has(
        &ps,
        "spec.parameters[2].feasibleSpace.step: (0) must be greater than 0",
    );
    has(
        &ps,
        "spec.parameters[3].feasibleSpace.step: (20) is larger than the range",
    );
    has(
        &ps,
        "spec.parameters[4].feasibleSpace.list: must list at least one value",
    );
    has(
        &ps,
        "spec.parameters[5].feasibleSpace.list[2]: duplicate value \"a\"",
    );
    has(
        &ps,
        "spec.parameters[6].feasibleSpace.min: (0) must be greater than 0 for the logUniform distribution",
    );
    has(
        &ps,
        "spec.parameters[7].parameterType: unknown type \"float\"",
    );
    has(
        &ps,
        "spec.parameters[8].feasibleSpace.min: \"abc\" is not a number",
    );
    has(
        &ps,
        "spec.parameters[9].feasibleSpace.list[1]: \"two\" is not a number",
    );
    has(
        &ps,
        "spec.trialTemplate.trialParameters[0].reference: \"lrr\" is not a parameter of this experiment",
    );
    has(
        &ps,
        "spec.trialTemplate.command[3]: ${trialParameters.momentum} is not declared",
    );
    assert_eq!(ps.len(), 19, "{}", ps.join("\n"));
}

#[test]
fn algorithm_rules() {
    let nas = problems(&GOOD.replace("algorithmName: random", "algorithmName: darts"));
    has(&nas, "spec.algorithm.algorithmName");
    has(&nas, "not supported");
    let hb = problems(&GOOD.replace("algorithmName: random", "algorithmName: hyperband"));
    has(&hb, "needs the setting resource_name");
    let bad_setting = problems(&GOOD.replace(
        "{algorithmName: random}",
        "{algorithmName: random, algorithmSettings: [{name: random_state, value: abc}]}",
    ));
    has(&bad_setting, "spec.algorithm.algorithmSettings[0].value");
    has(&bad_setting, "random_state");
    let grid = problems(&GOOD.replace("algorithmName: random", "algorithmName: grid"));
    has(&grid, "spec.parameters[0].feasibleSpace.step");
    has(&grid, "grid");
    // Algorithm problems point at the parameter's place in the file, even after a bad one.
    let shifted = problems(&GOOD.replace("algorithmName: random", "algorithmName: grid").replace("  - {name: lr,", "  - {name: bad, parameterType: double, feasibleSpace: {min: '2', max: '1'}}\n  - {name: lr,"));
    has(
        &shifted,
        "spec.parameters[0].feasibleSpace: min (2) must be less than max (1)",
    );
    has(&shifted, "spec.parameters[1].feasibleSpace.step");
    let es = problems(&GOOD.replace(
        "  algorithm: {algorithmName: random}\n",
        "  algorithm: {algorithmName: random}\n  earlyStopping: {algorithmName: mediansotp}\n",
    ));
    has(
        &es,
        "spec.earlyStopping.algorithmName: unknown early-stopping rule \"mediansotp\", did you mean \"medianstop\"?",
    );
}

#[test]
fn counts_and_collectors() {
    let ps = problems(&GOOD.replace("maxTrialCount: 4", "maxTrialCount: 1"));
    has(
        &ps,
        "spec.parallelTrialCount: (2) must not exceed maxTrialCount (1)",
    );
    let ps = problems(&GOOD.replace("maxTrialCount: 4", "maxTrialCount: -3"));
    has(&ps, "spec.maxTrialCount: must be at least 1, got -3");
    let ps = problems(&GOOD.replace(
        "  parameters:",
        "  metricsCollectorSpec:\n    collector: {kind: Custom}\n  parameters:",
    ));
    has(
        &ps,
        "spec.metricsCollectorSpec.collector.kind: Custom is not supported",
    );
    // Push: trials report over gRPC.
    let ps = problems(&GOOD.replace(
        "  parameters:",
        "  metricsCollectorSpec:\n    collector: {kind: Push}\n  parameters:",
    ));
    assert!(ps.is_empty(), "{ps:?}");
    let ps = problems(&GOOD.replace("  parameters:", "  metricsCollectorSpec:\n    collector: {kind: File}\n    source: {filter: {metricsFormat: ['(unclosed', '(\\w+)']}}\n  parameters:"));
    has(
        &ps,
        "spec.metricsCollectorSpec.source.fileSystemPath.path: is required for the File collector",
    );
    has(
        &ps,
        "spec.metricsCollectorSpec.source.filter.metricsFormat[0]",
    );
    has(
        &ps,
        "spec.metricsCollectorSpec.source.filter.metricsFormat[1]",
    );
}

#[test]
fn trial_templates() {
    let ps = problems(&GOOD.replace(
        "    command: [python3, train.py, '--lr=${trialParameters.lr}', '${trialParameters.c}']\n",
        "    env: {A: b}\n",
    ));
    has(&ps, "spec.trialTemplate.command: is required");
    let katib = "apiVersion: kubeflow.org/v1beta1
kind: Experiment
metadata: {name: k, namespace: team}
spec:
  objective: {type: minimize, objectiveMetricName: loss}
  algorithm: {algorithmName: random}
  parameters:
  - {name: lr, parameterType: double, feasibleSpace: {min: '0.01', max: '0.1'}}
  trialTemplate:
    primaryContainerName: training-container
    trialParameters:
    - {name: learningRate, reference: lr}
    - {name: me, reference: '${trialSpec.Name}'}
    trialSpec:
      apiVersion: batch/v1
      kind: Job
      spec:
        template:
          spec:
            containers:
            - name: training-container
              image: x
              command: [python3, t.py, '--lr=${trialParameters.learningRate}', '--name=${trialParameters.me}']
";
    assert!(problems(katib).is_empty(), "{:?}", problems(katib));
    let ps = problems(&katib.replace("command: [python3, t.py, ", "args: ["));
    has(
        &ps,
        "spec.trialTemplate.trialSpec.spec.template.spec.containers[0]: the primary container has args but no command",
    );
    let ps = problems(&katib.replace(
        "primaryContainerName: training-container",
        "primaryContainerName: trainer",
    ));
    has(
        &ps,
        "spec.trialTemplate.trialSpec: primaryContainerName \"trainer\" names no container",
    );
    let ps = problems(&katib.replace(
        "'--name=${trialParameters.me}'",
        "'${trialSpec.Image}', '${trialParameters.nope}'",
    ));
    has(&ps, "${trialSpec.Image} is not a known reference");
    has(&ps, "${trialParameters.nope} is not declared");
    let ps = problems(&katib.replace("  trialTemplate:\n", "  trialTemplate:\n    command: [x]\n"));
    has(
        &ps,
        "spec.trialTemplate.command: is a ferrotune.io/v1alpha1 field",
    );
    let ps = problems(&katib.replace("    trialSpec:", "    configMap: {configMapName: c, configMapNamespace: n, templatePath: p}\n    trialSpecX:"));
    has(
        &ps,
        "spec.trialTemplate.configMap: a trial template in a ConfigMap needs Kubernetes",
    );
}

#[test]
fn several_objectives() {
    let multi = GOOD.replace(
        "objective: {type: maximize, objectiveMetricName: acc}",
        "objective:\n    objectives: [{name: acc, type: maximize}, {name: latency, type: minimize}]\n    additionalMetricNames: [loss]",
    );
    let f = load_str(&multi).unwrap();
    let e = validate_document(&f.experiments[0]).unwrap();
    use ferrotune_core::{MetricStrategy, MetricSummary, ObjectiveType};
    assert!(e.objective.is_multi());
    assert_eq!(
        e.objective.objectives(),
        vec![
            ("acc".to_string(), ObjectiveType::Maximize),
            ("latency".to_string(), ObjectiveType::Minimize)
        ]
    );
    assert_eq!(e.objective.all_metrics(), ["acc", "latency", "loss"]);
    // Each objective's default strategy follows its own direction.
    assert_eq!(e.objective.strategy("acc"), MetricStrategy::Max);
    assert_eq!(e.objective.strategy("latency"), MetricStrategy::Min);
    let mut acc = MetricSummary::new("acc", 0.5);
    acc.push(0.9);
    let mut latency = MetricSummary::new("latency", 3.0);
    latency.push(2.0);
    assert_eq!(
        e.objective.values(&[latency.clone(), acc.clone()]),
        Some(vec![0.9, 2.0])
    );
    assert_eq!(e.objective.values(&[acc]), None, "a missing objective");

    // Algorithms that optimise one objective say so.
    let ps = problems(&multi.replace("algorithmName: random", "algorithmName: cmaes"));
    has(
        &ps,
        "spec.algorithm.algorithmName: \"cmaes\" optimises a single objective",
    );
    has(&ps, "multivariate-tpe");

    // Mixing the single-objective fields in, duplicates, bad types, a goal.
    let bad = GOOD.replace(
        "objective: {type: maximize, objectiveMetricName: acc}",
        "objective:\n    type: maximize\n    objectiveMetricName: acc\n    goal: 0.9\n    objectives: [{name: acc, type: maximize}, {name: acc, type: minimize}, {name: '', type: best}]",
    );
    let ps = problems(&bad);
    has(
        &ps,
        "spec.objective.type: must not be given with spec.objective.objectives",
    );
    has(
        &ps,
        "spec.objective.objectiveMetricName: must not be given with spec.objective.objectives",
    );
    has(&ps, "spec.objective.goal: applies to a single objective");
    has(
        &ps,
        "spec.objective.objectives[1].name: \"acc\" is listed twice",
    );
    has(&ps, "spec.objective.objectives[2].name: is required");
    has(
        &ps,
        "spec.objective.objectives[2].type: \"best\" must be minimize or maximize",
    );

    // Katib's format has one objective.
    let katib = "apiVersion: kubeflow.org/v1beta1
kind: Experiment
metadata: {name: k}
spec:
  objective:
    objectives: [{name: acc, type: maximize}, {name: latency, type: minimize}]
  algorithm: {algorithmName: random}
  parameters:
  - {name: lr, parameterType: double, feasibleSpace: {min: '0.001', max: '0.1'}}
  trialTemplate:
    primaryContainerName: main
    trialParameters: [{name: lr, reference: lr}]
    trialSpec:
      apiVersion: batch/v1
      kind: Job
      spec:
        template:
          spec:
            containers:
            - name: main
              image: x
              command: [python3, train.py, '--lr=${trialParameters.lr}']
";
    let ps = problems(katib);
    has(
        &ps,
        "spec.objective.objectives: several objectives are a ferrotune extension; use apiVersion ferrotune.io/v1alpha1",
    );
}

#[test]
fn ignored_algorithm_settings_are_noted() {
    let gp = GOOD.replace(
        "algorithm: {algorithmName: random}",
        "algorithm: {algorithmName: bayesianoptimization, algorithmSettings: [{name: base_estimator, value: GP}, {name: acq_func, value: gp_hedge}]}",
    );
    let f = load_str(&gp).unwrap();
    let e = validate_document(&f.experiments[0]).unwrap();
    assert!(
        e.notes.iter().any(|n| n
            .contains("base_estimator (\"GP\") is accepted for Katib compatibility and ignored")),
        "{:?}",
        e.notes
    );
    assert!(
        e.notes.iter().any(|n| n.contains("gp_hedge")),
        "{:?}",
        e.notes
    );
}

#[test]
fn early_stopping_rules_and_their_settings() {
    let with = |rule: &str| {
        GOOD.replace(
            "  parallelTrialCount: 2\n",
            &format!("  parallelTrialCount: 2\n  earlyStopping:\n{rule}"),
        )
    };
    for ok in [
        "    algorithmName: medianstop\n    algorithmSettings: [{name: min_trials_required, value: '2'}, {name: start_step, value: '3'}]\n",
        "    algorithmName: asha\n    algorithmSettings: [{name: max_t, value: '27'}, {name: reduction_factor, value: '3'}]\n",
        "    algorithmName: patient\n    algorithmSettings: [{name: patience, value: '3'}, {name: wrapped, value: median}]\n",
        "    algorithmName: threshold\n    algorithmSettings: [{name: upper, value: '10'}]\n",
    ] {
        assert_eq!(problems(&with(ok)), Vec::<String>::new(), "{ok}");
    }
    let ps = problems(&with(
        "    algorithmName: medianstop\n    algorithmSettings: [{name: start_step, value: '0'}]\n",
    ));
    has(&ps, "spec.earlyStopping.algorithmSettings[0].value");
    let ps = problems(&with("    algorithmName: hyperband-stop\n"));
    has(&ps, "spec.earlyStopping.algorithmName");
}

fn valid(yaml: &str) -> ferrotune_core::validate::Experiment {
    let f = load_str(yaml).unwrap_or_else(|e| panic!("parse: {e}"));
    validate_document(&f.experiments[0]).unwrap_or_else(|e| panic!("invalid: {e:?}"))
}

#[test]
fn runner_and_resources() {
    use ferrotune_core::placement::{RayMode, RunnerKind};
    // Defaults: no runner said, one CPU a trial.
    let e = valid(GOOD);
    assert_eq!(e.runner, None);
    assert_eq!(e.template.resources.cpu, 1.0);

    let ray = GOOD.replace(
        "  trialTemplate:\n",
        "  runner: {kind: ray, address: 'http://10.0.0.5:8265/', mode: jobs}\n  trialTemplate:\n    resources: {cpu: 500m, gpu: 1, memory: 2Gi, custom: {TPU: 4}}\n",
    );
    let e = valid(&ray);
    let r = e.runner.unwrap();
    assert_eq!(r.kind, RunnerKind::Ray);
    assert_eq!(r.address.as_deref(), Some("http://10.0.0.5:8265"));
    assert_eq!(r.mode, RayMode::Jobs);
    let res = &e.template.resources;
    assert_eq!((res.cpu, res.gpu, res.memory), (0.5, 1.0, Some(2 << 30)));
    assert_eq!(res.custom.get("TPU"), Some(&4.0));

    let bad = GOOD.replace(
        "  trialTemplate:\n",
        "  runner: {kind: rey, mode: threads, address: 'https://x:1'}\n  trialTemplate:\n    resources: {cpu: lots, memory: 1Zi, gpu: -1, custom: {CPU: 1}}\n",
    );
    let ps = problems(&bad);
    has(
        &ps,
        "spec.runner.kind: unknown runner \"rey\" (known: local, ray), did you mean \"ray\"?",
    );
    has(
        &ps,
        "spec.runner.mode: unknown Ray mode \"threads\" (known: jobs, tasks)",
    );
    has(
        &ps,
        "spec.runner.address: \"https://x:1\": https is not supported",
    );
    has(
        &ps,
        "spec.trialTemplate.resources.cpu: \"lots\" is not a CPU amount",
    );
    has(&ps, "spec.trialTemplate.resources.memory: \"1Zi\"");
    has(&ps, "spec.trialTemplate.resources.gpu: \"-1\"");
    has(
        &ps,
        "spec.trialTemplate.resources.custom.CPU: set CPU with cpu",
    );
    let ps = problems(&GOOD.replace(
        "  trialTemplate:\n",
        "  runner: {kind: local, address: 'http://x:1'}\n  trialTemplate:\n",
    ));
    has(&ps, "spec.runner.address: is only for kind ray");
    let ps = problems(&GOOD.replace(
        "  trialTemplate:\n",
        "  runner: {address: 'http://x:1'}\n  trialTemplate:\n",
    ));
    has(&ps, "spec.runner.kind: is required (local or ray)");
}

#[test]
fn katib_resources_come_from_the_primary_container() {
    let katib = "apiVersion: kubeflow.org/v1beta1
kind: Experiment
metadata: {name: k}
spec:
  objective: {type: minimize, objectiveMetricName: loss}
  algorithm: {algorithmName: random}
  parallelTrialCount: 1
  parameters:
  - {name: lr, parameterType: double, feasibleSpace: {min: '0.1', max: '0.2'}}
  trialTemplate:
    primaryContainerName: main
    trialParameters: [{name: lr, reference: lr}]
    trialSpec:
      apiVersion: batch/v1
      kind: Job
      spec:
        template:
          spec:
            containers:
            - name: main
              image: x
              command: [python3, t.py]
              resources:
                requests: {cpu: 1500m, memory: 512Mi}
                limits: {cpu: '4', memory: 1Gi, nvidia.com/gpu: 2, example.com/fpga: 1, ephemeral-storage: 1Gi}
";
    let e = valid(katib);
    let r = &e.template.resources;
    // Requests first, limits where nothing is requested (as Kubernetes does).
    assert_eq!((r.cpu, r.memory, r.gpu), (1.5, Some(512 << 20), 2.0));
    assert_eq!(r.custom.get("example.com/fpga"), Some(&1.0));
    assert!(!r.custom.contains_key("ephemeral-storage"));
    assert!(
        e.notes.iter().any(|n| n.contains("ephemeral-storage")),
        "{:?}",
        e.notes
    );

    let ps = problems(&katib.replace("cpu: 1500m", "cpu: much"));
    has(
        &ps,
        "resources.requests.cpu: \"much\" is not a CPU quantity",
    );
    let ps = problems(&katib.replace(
        "  trialTemplate:\n",
        "  runner: {kind: ray}\n  trialTemplate:\n",
    ));
    has(&ps, "spec.runner: is a ferrotune.io/v1alpha1 field");
    let ps = problems(&katib.replace(
        "  trialTemplate:\n",
        "  maxTrialRetries: 2\n  trialTemplate:\n",
    ));
    has(
        &ps,
        "spec.maxTrialRetries: is a ferrotune.io/v1alpha1 field",
    );
}

#[test]
fn max_trial_retries() {
    assert_eq!(valid(GOOD).max_trial_retries, 0);
    let with = |v: &str| {
        GOOD.replace(
            "  trialTemplate:\n",
            &format!("  maxTrialRetries: {v}\n  trialTemplate:\n"),
        )
    };
    assert_eq!(valid(&with("3")).max_trial_retries, 3);
    has(
        &problems(&with("-1")),
        "spec.maxTrialRetries: must be from 0 to 100, got -1",
    );
    has(&problems(&with("1000")), "got 1000");
}

#[test]
fn replicas() {
    assert_eq!(valid(GOOD).template.replicas, 1);
    let with = |v: &str| {
        GOOD.replace(
            "  trialTemplate:\n",
            &format!("  trialTemplate:\n    replicas: {v}\n"),
        )
    };
    assert_eq!(valid(&with("4")).template.replicas, 4);
    for bad in ["0", "two", "-1", "1025"] {
        has(
            &problems(&with(bad)),
            &format!(
                "spec.trialTemplate.replicas: \"{bad}\" is not a number of processes from 1 to 1024"
            ),
        );
    }
}
