//! The ask-and-tell `SuggestionService` end to end: a real server on a loopback port with a
//! store in a temporary directory (common::test_store), called through the generated tonic clients.

mod common;

use ferrotune_api::v1;
use ferrotune_server::{Config, Tokens, serve_with};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tonic::transport::Channel;
use tonic::{Code, Request, Status};
use v1::experiment_service_client::ExperimentServiceClient;
use v1::report_service_client::ReportServiceClient;
use v1::suggestion_service_client::SuggestionServiceClient;
use v1::trial_service_client::TrialServiceClient;

const ADMIN: &str = "admin-token-0123456789";
const TEAM_A: &str = "team-a-token-0123456789";
const TEAM_B: &str = "team-b-token-0123456789";

/// A server over `DIR/server.db`; stopping it waits until it has shut down.
struct Server {
    url: String,
    stop: oneshot::Sender<()>,
    done: tokio::task::JoinHandle<Result<(), ferrotune_server::ServerError>>,
}

impl Server {
    async fn start(dir: &Path, tokens: bool) -> Server {
        let store = common::test_store(dir).await;
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let mut config = Config::new(store, runs_dir(dir));
        if tokens {
            let file = format!(
                "tokens:\n  - {{token: {ADMIN}, admin: true}}\n  - {{token: {TEAM_A}, namespace: team-a}}\n  - {{token: {TEAM_B}, namespace: team-b}}\n"
            );
            config.tokens = Some(Arc::new(Tokens::parse(&file).unwrap()));
        }
        let (stop, rx) = oneshot::channel::<()>();
        let done = tokio::spawn(serve_with(listener, config, async {
            let _ = rx.await;
        }));
        Server { url, stop, done }
    }

    async fn channel(&self) -> Channel {
        Channel::from_shared(self.url.clone())
            .unwrap()
            .connect()
            .await
            .unwrap()
    }

    async fn studies(&self) -> SuggestionServiceClient<Channel> {
        SuggestionServiceClient::new(self.channel().await)
    }

    async fn shutdown(self) {
        self.stop.send(()).unwrap();
        self.done.await.unwrap().unwrap();
    }
}

fn runs_dir(dir: &Path) -> PathBuf {
    dir.join("runs")
}

/// A request with a bearer token.
fn authed<T>(msg: T, token: &str) -> Request<T> {
    let mut req = Request::new(msg);
    req.metadata_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    req
}

/// A 2-D quadratic study (no trial template: a study's client runs the trials).
fn quadratic(algorithm: &str) -> String {
    format!(
        r#"
apiVersion: ferrotune.io/v1alpha1
kind: Experiment
metadata: {{name: ignored}}
spec:
  objective: {{type: minimize, objectiveMetricName: loss, additionalMetricNames: [acc]}}
  algorithm: {{algorithmName: {algorithm}}}
  parameters:
    - {{name: x, parameterType: double, feasibleSpace: {{min: "-5", max: "5"}}}}
    - {{name: y, parameterType: double, feasibleSpace: {{min: "-5", max: "5"}}}}
"#
    )
}

fn loss(x: f64, y: f64) -> f64 {
    (x - 1.0).powi(2) + (y + 2.0).powi(2)
}

fn number(p: &[v1::Parameter], name: &str) -> f64 {
    let p = p.iter().find(|p| p.name == name).unwrap();
    p.value.parse().unwrap()
}

fn study_ref(name: &str) -> Option<v1::ExperimentRef> {
    Some(v1::ExperimentRef {
        namespace: String::new(),
        name: name.into(),
    })
}

fn trial_ref(name: &str) -> Option<v1::TrialRef> {
    Some(v1::TrialRef {
        namespace: String::new(),
        trial: name.into(),
    })
}

async fn create(c: &mut SuggestionServiceClient<Channel>, name: &str, doc: &str, seed: u64) {
    let s = c
        .create_study(v1::CreateStudyRequest {
            namespace: String::new(),
            document: doc.into(),
            name: name.into(),
            seed: Some(seed),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!((s.name.as_str(), s.seed), (name, seed));
}

async fn ask(c: &mut SuggestionServiceClient<Channel>, name: &str, count: u32) -> v1::AskResponse {
    c.ask(v1::AskRequest {
        study: study_ref(name),
        count,
    })
    .await
    .unwrap()
    .into_inner()
}

fn tell_request(trial: &str, status: &str, metrics: &[(&str, f64)]) -> v1::TellRequest {
    v1::TellRequest {
        trial: trial_ref(trial),
        status: status.into(),
        metrics: metrics.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
        message: String::new(),
    }
}

async fn tell(c: &mut SuggestionServiceClient<Channel>, trial: &str, loss: f64) -> v1::Trial {
    c.tell(tell_request(trial, "", &[("loss", loss)]))
        .await
        .unwrap()
        .into_inner()
        .trial
        .unwrap()
}

/// Asks one trial, evaluates the quadratic, tells it; returns the loss.
async fn step(c: &mut SuggestionServiceClient<Channel>, study: &str) -> f64 {
    let r = ask(c, study, 1).await;
    assert_eq!(r.trials.len(), 1);
    let t = &r.trials[0];
    assert_eq!((t.status.as_str(), t.attempt), ("Running", 1));
    let l = loss(number(&t.parameters, "x"), number(&t.parameters, "y"));
    let told = tell(c, &t.name, l).await;
    assert_eq!(told.status, "Succeeded");
    assert_eq!(told.objective, Some(l));
    l
}

fn assert_code<T: std::fmt::Debug>(r: Result<T, Status>, code: Code, mentions: &str) {
    let e = r.unwrap_err();
    assert_eq!(e.code(), code, "{e:?}");
    assert!(
        e.message().contains(mentions),
        "{:?} does not mention {mentions:?}",
        e.message()
    );
}

#[tokio::test]
async fn an_ask_and_tell_loop_with_multivariate_tpe_improves_on_its_random_start() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), false).await;
    let mut c = server.studies().await;
    create(&mut c, "quad", &quadratic("multivariate-tpe"), 3).await;
    let mut losses = Vec::new();
    for i in 0..30 {
        let l = step(&mut c, "quad").await;
        losses.push(l);
        assert!(l.is_finite(), "trial {i}");
    }
    let best = |s: &[f64]| s.iter().copied().fold(f64::INFINITY, f64::min);
    let median = |s: &[f64]| {
        let mut v = s.to_vec();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    // The first 10 are TPE's random start-up; the model's last 10 trials crowd around the
    // minimum. Measured with seed 3: best 8.8 then 1.08, median 21.5 then 12.0 (0.56×). The
    // same loop in-process over seeds 0..20: the median fell to 0.10–0.56× in 19 of them
    // (one had a lucky start, 1.36×), so 0.75× is the tolerance. (Optuna 5's bandwidths,
    // wide while the good group holds one to three trials, explore more early than the
    // Scott's rule this was first measured with: 0.3× or less.)
    let (first, last) = (&losses[..10], &losses[20..]);
    let msg = format!(
        "first 10: best {:.3} median {:.3}; last 10: best {:.3} median {:.3}",
        best(first),
        median(first),
        best(last),
        median(last)
    );
    assert!(best(&losses[10..]) < best(first), "{msg}");
    assert!(median(last) < 0.75 * median(first), "{msg}");
    // The trials are numbered in order and all told.
    let trials = TrialServiceClient::new(server.channel().await)
        .list_trials(v1::ExperimentRef {
            namespace: String::new(),
            name: "quad".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .trials;
    assert_eq!(trials.len(), 30);
    assert_eq!(trials[29].name, "quad-0030");
    assert!(trials.iter().all(|t| t.status == "Succeeded"));
    server.shutdown().await;
}

#[tokio::test]
async fn asks_at_once_get_different_parameters_through_the_constant_liar() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), false).await;
    let mut c = server.studies().await;
    create(&mut c, "liar", &quadratic("multivariate-tpe"), 5).await;
    // Past the random start-up, so the model (not the random stream) chooses.
    for _ in 0..12 {
        step(&mut c, "liar").await;
    }
    let mut c2 = server.studies().await;
    let (a, b) = tokio::join!(ask(&mut c, "liar", 1), ask(&mut c2, "liar", 1));
    let (a, b) = (&a.trials[0], &b.trials[0]);
    assert_ne!(a.name, b.name);
    assert_ne!(
        a.parameters, b.parameters,
        "two running trials at one point"
    );
    let both = ask(&mut c, "liar", 2).await.trials;
    assert_eq!(both.len(), 2);
    assert_ne!(both[0].parameters, both[1].parameters);
    for t in [a, b].into_iter().chain(&both) {
        assert_eq!(t.status, "Running");
    }
    server.shutdown().await;
}

#[tokio::test]
async fn a_study_survives_a_restart_and_its_algorithm_sees_the_old_trials() {
    let dir = tempfile::tempdir().unwrap();
    let doc = quadratic("random");
    let server = Server::start(dir.path(), false).await;
    let mut c = server.studies().await;
    create(&mut c, "again", &doc, 11).await;
    let first = ask(&mut c, "again", 3).await.trials;
    let names: Vec<&str> = first.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["again-0001", "again-0002", "again-0003"]);
    tell(&mut c, "again-0001", 3.0).await;
    tell(&mut c, "again-0002", 2.0).await;
    // The third reports an intermediate value and is still running when the server stops.
    let report = |step: i64, value: f64| v1::ReportRequest {
        trial: "again-0003".into(),
        step: Some(step),
        metrics: HashMap::from([("loss".to_string(), value)]),
        ..Default::default()
    };
    ReportServiceClient::new(server.channel().await)
        .report(report(0, 5.0))
        .await
        .unwrap();
    let log_of = |url: Channel| async move {
        TrialServiceClient::new(url)
            .get_observation_log(v1::GetObservationLogRequest {
                trial: trial_ref("again-0003"),
                metric: String::new(),
                attempt: 0,
            })
            .await
            .unwrap()
            .into_inner()
            .observations
    };
    // Reports are stored shortly after they are taken.
    let mut waited = 0;
    while log_of(server.channel().await).await.is_empty() {
        assert!(waited < 100, "the report was never stored");
        tokio::time::sleep(Duration::from_millis(50)).await;
        waited += 1;
    }
    server.shutdown().await;

    let server = Server::start(dir.path(), false).await;
    let mut c = server.studies().await;
    let next = ask(&mut c, "again", 1).await.trials;
    assert_eq!(next[0].name, "again-0004");
    // Random search draws the k-th suggestion from stream k (k = the history's length): the
    // same as a stateless Suggest over the three old trials, not the first trial's again.
    let history: Vec<v1::HistoryTrial> = first
        .iter()
        .zip([vec![3.0], vec![2.0], vec![]])
        .map(|(t, objectives)| v1::HistoryTrial {
            name: t.name.clone(),
            parameters: t.parameters.clone(),
            status: if objectives.is_empty() {
                "Running".into()
            } else {
                "Succeeded".into()
            },
            objectives,
        })
        .collect();
    let expected = c
        .suggest(v1::SuggestRequest {
            document: doc.clone(),
            history,
            count: 1,
            seed: Some(11),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(next[0].parameters, expected.assignments[0].parameters);
    assert_ne!(next[0].parameters, first[0].parameters);
    // The running trial's report route came back with the server.
    ReportServiceClient::new(server.channel().await)
        .report(report(1, 4.0))
        .await
        .unwrap();
    let told = c
        .tell(tell_request(
            "again-0003",
            "",
            &[("loss", 4.5), ("acc", 0.9)],
        ))
        .await
        .unwrap()
        .into_inner()
        .trial
        .unwrap();
    // Minimising, the objective is the least loss the trial reported, told value included.
    assert_eq!(told.objective, Some(4.0));
    let loss_summary = told.metrics.iter().find(|m| m.name == "loss").unwrap();
    assert_eq!((loss_summary.count, loss_summary.latest), (3, 4.5));
    let steps: Vec<(String, i64)> = log_of(server.channel().await)
        .await
        .into_iter()
        .map(|o| (o.metric, o.step))
        .collect();
    assert_eq!(
        steps,
        [
            ("loss".to_string(), 0),
            ("loss".to_string(), 1),
            ("acc".to_string(), 0),
            ("loss".to_string(), 2)
        ]
    );
    // Studies show among experiments; none is ever run, resumed or given a directory.
    let mut exps = ExperimentServiceClient::new(server.channel().await);
    let e = exps
        .get_experiment(v1::ExperimentRef {
            namespace: String::new(),
            name: "again".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(e.status, "Running");
    assert_eq!(e.run_dir, "study:ferrotune/again");
    assert_eq!(e.counts.unwrap().succeeded, 3);
    assert_code(
        exps.resume_experiment(v1::ResumeExperimentRequest {
            experiment: study_ref("again"),
            max_trial_count: Some(10),
            parallel_trial_count: None,
        })
        .await,
        Code::FailedPrecondition,
        "study",
    );
    assert!(
        !runs_dir(dir.path())
            .join("ferrotune")
            .join("again")
            .exists()
    );
    assert!(!Path::new("study:ferrotune").exists());
    server.shutdown().await;
}

#[tokio::test]
async fn tell_refuses_unknown_trials_a_second_tell_and_a_missing_objective() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), false).await;
    let mut c = server.studies().await;
    create(&mut c, "told", &quadratic("random"), 1).await;
    let trials = ask(&mut c, "told", 3).await.trials;
    let (t1, t2) = (trials[0].name.clone(), trials[1].name.clone());
    for unknown in ["told-0099", "nobody-0001", "told", ""] {
        let code = if unknown.is_empty() {
            Code::InvalidArgument
        } else {
            Code::NotFound
        };
        assert_code(
            c.tell(tell_request(unknown, "", &[("loss", 1.0)])).await,
            code,
            "trial",
        );
    }
    assert_code(
        c.tell(v1::TellRequest::default()).await,
        Code::InvalidArgument,
        "trial",
    );
    assert_code(
        c.tell(tell_request(&t1, "", &[("acc", 1.0)])).await,
        Code::InvalidArgument,
        "metrics",
    );
    assert_code(
        c.tell(tell_request(&t1, "", &[("loss", f64::NAN)])).await,
        Code::InvalidArgument,
        "metrics.loss",
    );
    assert_code(
        c.tell(tell_request(&t1, "", &[("loss", 1.0), ("los", 1.0)]))
            .await,
        Code::InvalidArgument,
        "metrics.los",
    );
    assert_code(
        c.tell(tell_request(&t1, "Killed", &[("loss", 1.0)])).await,
        Code::InvalidArgument,
        "status",
    );
    // None of that told anything.
    let t = tell(&mut c, &t1, 1.5).await;
    assert_eq!(
        (t.status.as_str(), t.reason.as_str()),
        ("Succeeded", "TrialSucceeded")
    );
    assert_code(
        c.tell(tell_request(&t1, "", &[("loss", 1.0)])).await,
        Code::FailedPrecondition,
        "told once",
    );
    // A failure needs no metrics; an early stop keeps what it has.
    let mut failed = tell_request(&t2, "Failed", &[]);
    failed.message = "out of memory".into();
    let t = c.tell(failed).await.unwrap().into_inner().trial.unwrap();
    assert_eq!(
        (t.status.as_str(), t.message.as_str(), t.objective),
        ("Failed", "out of memory", None)
    );
    let t = c
        .tell(tell_request(
            &trials[2].name,
            "EarlyStopped",
            &[("loss", 9.0)],
        ))
        .await
        .unwrap()
        .into_inner()
        .trial
        .unwrap();
    assert_eq!(
        (t.status.as_str(), t.objective),
        ("EarlyStopped", Some(9.0))
    );
    // Bad asks.
    assert_code(
        c.ask(v1::AskRequest::default()).await,
        Code::InvalidArgument,
        "study",
    );
    assert_code(
        c.ask(v1::AskRequest {
            study: study_ref("nothing"),
            count: 1,
        })
        .await,
        Code::NotFound,
        "nothing",
    );
    assert_code(
        c.ask(v1::AskRequest {
            study: study_ref("told"),
            count: 1_000_000,
        })
        .await,
        Code::InvalidArgument,
        "count",
    );
    server.shutdown().await;
}

#[tokio::test]
async fn create_study_validates_and_max_trial_count_ends_the_study() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), false).await;
    let mut c = server.studies().await;
    let bad = |document: &str| v1::CreateStudyRequest {
        document: document.into(),
        name: "bad".into(),
        ..Default::default()
    };
    assert_code(
        c.create_study(bad("")).await,
        Code::InvalidArgument,
        "document",
    );
    assert_code(
        c.create_study(bad(&quadratic("random").replace("minimize", "minimise")))
            .await,
        Code::InvalidArgument,
        "spec.objective.type",
    );
    assert_code(
        c.create_study(bad(&quadratic("simulated-annealing"))).await,
        Code::InvalidArgument,
        "spec.algorithm",
    );
    // A name is needed from the document or the request.
    let mut unnamed = bad(&quadratic("random").replace("metadata: {name: ignored}", ""));
    unnamed.name = String::new();
    assert_code(
        c.create_study(unnamed).await,
        Code::InvalidArgument,
        "metadata.name",
    );
    // Katib's format, without a trial template.
    let katib = r#"
apiVersion: kubeflow.org/v1beta1
kind: Experiment
metadata: {name: katib-study}
spec:
  objective: {type: maximize, objectiveMetricName: acc}
  algorithm: {algorithmName: grid}
  maxTrialCount: 2
  parameters:
    - {name: layers, parameterType: int, feasibleSpace: {min: "1", max: "4"}}
"#;
    let s = c
        .create_study(v1::CreateStudyRequest {
            document: katib.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (s.namespace.as_str(), s.name.as_str()),
        ("ferrotune", "katib-study")
    );
    assert!(
        !s.document_json.contains("trialTemplate"),
        "{}",
        s.document_json
    );
    assert_code(
        c.create_study(v1::CreateStudyRequest {
            document: katib.into(),
            ..Default::default()
        })
        .await,
        Code::AlreadyExists,
        "katib-study",
    );
    // maxTrialCount 2 of a 4-point grid: two trials, then nothing.
    let r = ask(&mut c, "katib-study", 1).await;
    assert_eq!((r.trials.len(), r.exhausted), (1, false));
    let r2 = ask(&mut c, "katib-study", 5).await;
    assert_eq!((r2.trials.len(), r2.exhausted), (1, true));
    assert_eq!(ask(&mut c, "katib-study", 1).await.trials.len(), 0);
    for t in r.trials.iter().chain(&r2.trials) {
        c.tell(tell_request(&t.name, "", &[("acc", 0.5)]))
            .await
            .unwrap();
    }
    let e = ExperimentServiceClient::new(server.channel().await)
        .get_experiment(v1::ExperimentRef {
            namespace: String::new(),
            name: "katib-study".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (e.status.as_str(), e.reason.as_str()),
        ("Succeeded", "ExperimentMaxTrialsReached")
    );
    let r = ask(&mut c, "katib-study", 1).await;
    assert_eq!((r.trials.len(), r.exhausted), (0, true));
    // A grid that runs out says so.
    let grid = quadratic("grid").replace(
        r#"{min: "-5", max: "5"}"#,
        r#"{min: "0", max: "1", step: "1"}"#,
    );
    create(&mut c, "small-grid", &grid, 0).await;
    let r = ask(&mut c, "small-grid", 10).await;
    assert_eq!(r.trials.len(), 4);
    for t in &r.trials {
        tell(&mut c, &t.name, 1.0).await;
    }
    let r = ask(&mut c, "small-grid", 1).await;
    assert_eq!((r.trials.len(), r.exhausted), (0, true));
    server.shutdown().await;
}

/// Parses a suggested value and checks it lies in the test space of [`suggest_document`].
fn check_in_space(a: &v1::Assignment) {
    let names: Vec<&str> = a.parameters.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["lr", "layers", "opt", "dropout"]);
    let v: Vec<serde_json::Value> = a
        .parameters
        .iter()
        .map(|p| serde_json::from_str(&p.value).unwrap())
        .collect();
    let lr = v[0].as_f64().unwrap();
    assert!((0.001..=0.1).contains(&lr), "lr {lr}");
    let layers = v[1].as_i64().unwrap();
    assert!((1..=4).contains(&layers), "layers {layers}");
    assert!(
        ["sgd", "adam"].contains(&v[2].as_str().unwrap()),
        "{:?}",
        v[2]
    );
    assert!(
        [0.0, 0.25, 0.5].contains(&v[3].as_f64().unwrap()),
        "{:?}",
        v[3]
    );
}

fn suggest_document() -> String {
    r#"
apiVersion: ferrotune.io/v1alpha1
kind: Experiment
spec:
  objective: {type: minimize, objectiveMetricName: loss}
  algorithm:
    algorithmName: tpe
    algorithmSettings: [{name: n_startup_trials, value: "4"}]
  parameters:
    - {name: lr, parameterType: double, feasibleSpace: {min: "0.001", max: "0.1", distribution: logUniform}}
    - {name: layers, parameterType: int, feasibleSpace: {min: "1", max: "4"}}
    - {name: opt, parameterType: categorical, feasibleSpace: {list: [sgd, adam]}}
    - {name: dropout, parameterType: discrete, feasibleSpace: {list: ["0", "0.25", "0.5"]}}
"#
    .into()
}

fn history_trial(i: usize) -> v1::HistoryTrial {
    let p = |name: &str, value: String| v1::Parameter {
        name: name.into(),
        value,
    };
    let lr: f64 = [0.002, 0.01, 0.05, 0.09, 0.004, 0.03][i % 6];
    v1::HistoryTrial {
        name: format!("h-{i}"),
        parameters: vec![
            p("lr", lr.to_string()),
            p("layers", (1 + i % 4).to_string()),
            p("opt", format!("{:?}", ["sgd", "adam"][i % 2])),
            // Discrete values as numbers; 0 written as 0.0 is the same value.
            p("dropout", ["0.0", "0.25", "0.5"][i % 3].into()),
        ],
        status: "Succeeded".into(),
        objectives: vec![(lr - 0.01).abs() + i as f64 * 0.01],
    }
}

#[tokio::test]
async fn suggest_is_deterministic_for_a_seed_and_stays_in_the_space() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), false).await;
    let mut c = server.studies().await;
    let mut history: Vec<v1::HistoryTrial> = (0..10).map(history_trial).collect();
    history.push(v1::HistoryTrial {
        status: "Running".into(),
        objectives: vec![],
        ..history_trial(10)
    });
    history.push(v1::HistoryTrial {
        status: "Failed".into(),
        objectives: vec![],
        ..history_trial(11)
    });
    let request = |seed: u64, history: Vec<v1::HistoryTrial>| v1::SuggestRequest {
        document: suggest_document(),
        history,
        count: 5,
        seed: Some(seed),
    };
    let a = c
        .suggest(request(7, history.clone()))
        .await
        .unwrap()
        .into_inner();
    let b = c
        .suggest(request(7, history.clone()))
        .await
        .unwrap()
        .into_inner();
    let other = c
        .suggest(request(8, history.clone()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(a, b);
    assert_eq!(a.assignments.len(), 5);
    assert!(!a.exhausted);
    assert_ne!(a.assignments, other.assignments);
    for s in a.assignments.iter().chain(&other.assignments) {
        check_in_space(s);
    }
    // Nothing was stored.
    let listed = ExperimentServiceClient::new(server.channel().await)
        .list_experiments(v1::ListExperimentsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(listed.experiments.is_empty());
    // Bad entries are named.
    let bad = |i: usize, f: &dyn Fn(&mut v1::HistoryTrial)| {
        let mut h = history.clone();
        f(&mut h[i]);
        request(7, h)
    };
    let cases: Vec<(v1::SuggestRequest, &str)> = vec![
        (
            bad(1, &|h| {
                h.parameters.remove(1);
            }),
            "history[1].parameters",
        ),
        (
            bad(0, &|h| h.parameters[0].value = "0.5".into()),
            "history[0].parameters[0].value",
        ),
        (
            bad(0, &|h| h.parameters[2].value = "sgd".into()),
            "history[0].parameters[2].value",
        ),
        (
            bad(3, &|h| h.parameters[3].name = "dropot".into()),
            "history[3].parameters[3].name",
        ),
        (bad(2, &|h| h.status = "Done".into()), "history[2].status"),
        (
            bad(4, &|h| h.objectives = vec![1.0, 2.0]),
            "history[4].objectives",
        ),
        (
            bad(4, &|h| h.objectives = vec![f64::NAN]),
            "history[4].objectives[0]",
        ),
        (bad(5, &|h| h.objectives.clear()), "history[5].objectives"),
        (bad(6, &|h| h.name = "h-0".into()), "history[6].name"),
    ];
    for (req, field) in cases {
        assert_code(c.suggest(req).await, Code::InvalidArgument, field);
    }
    assert_code(
        c.suggest(v1::SuggestRequest {
            document: suggest_document().replace("max: \"4\"", "max: \"x\""),
            ..Default::default()
        })
        .await,
        Code::InvalidArgument,
        "spec.parameters[1]",
    );
    // A grid whose points are all in the history has nothing more.
    let grid = suggest_document()
        .replace("algorithmName: tpe", "algorithmName: grid")
        .replace(
            "algorithmSettings: [{name: n_startup_trials, value: \"4\"}]",
            "algorithmSettings: []",
        )
        .replace("distribution: logUniform}", "step: \"0.099\"}");
    let mut all = Vec::new();
    for (k, lr) in ["0.001", "0.1"].iter().enumerate() {
        for layers in 1..=4 {
            for opt in ["sgd", "adam"] {
                for dropout in ["0", "0.25", "0.5"] {
                    all.push(v1::HistoryTrial {
                        name: format!("g-{k}-{layers}-{opt}-{dropout}"),
                        parameters: vec![
                            v1::Parameter {
                                name: "lr".into(),
                                value: lr.to_string(),
                            },
                            v1::Parameter {
                                name: "layers".into(),
                                value: layers.to_string(),
                            },
                            v1::Parameter {
                                name: "opt".into(),
                                value: format!("{opt:?}"),
                            },
                            v1::Parameter {
                                name: "dropout".into(),
                                value: dropout.into(),
                            },
                        ],
                        status: "Succeeded".into(),
                        objectives: vec![1.0],
                    });
                }
            }
        }
    }
    let r = c
        .suggest(v1::SuggestRequest {
            document: grid,
            history: all,
            count: 1,
            seed: None,
        })
        .await
        .unwrap()
        .into_inner();
    assert!(r.assignments.is_empty() && r.exhausted, "{r:?}");
    server.shutdown().await;
}

#[tokio::test]
async fn a_study_is_not_found_from_another_namespace() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), true).await;
    let mut c = server.studies().await;
    let s = c
        .create_study(authed(
            v1::CreateStudyRequest {
                document: quadratic("random"),
                name: "mine".into(),
                ..Default::default()
            },
            TEAM_A,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(s.namespace, "team-a");
    let ask_as = |token: &str, namespace: &str| {
        authed(
            v1::AskRequest {
                study: Some(v1::ExperimentRef {
                    namespace: namespace.into(),
                    name: "mine".into(),
                }),
                count: 1,
            },
            token,
        )
    };
    assert_code(c.ask(ask_as(TEAM_B, "team-a")).await, Code::NotFound, "");
    assert_code(c.ask(ask_as(TEAM_B, "")).await, Code::NotFound, "mine");
    let t = c
        .ask(ask_as(TEAM_A, ""))
        .await
        .unwrap()
        .into_inner()
        .trials
        .remove(0);
    let told = |token: &str| authed(tell_request(&t.name, "", &[("loss", 1.0)]), token);
    assert_code(c.tell(told(TEAM_B)).await, Code::NotFound, &t.name);
    let mut reports = ReportServiceClient::new(server.channel().await);
    let report = |token: &str| {
        authed(
            v1::ReportRequest {
                trial: t.name.clone(),
                step: None,
                metrics: HashMap::from([("loss".to_string(), 2.0)]),
                ..Default::default()
            },
            token,
        )
    };
    assert_code(reports.report(report(TEAM_B)).await, Code::NotFound, "");
    reports.report(report(TEAM_A)).await.unwrap();
    // Without a token, or with one the server does not know, nothing at all.
    assert_code(
        c.ask(Request::new(v1::AskRequest {
            study: study_ref("mine"),
            count: 1,
        }))
        .await,
        Code::Unauthenticated,
        "",
    );
    assert_code(
        c.suggest(authed(
            v1::SuggestRequest {
                document: quadratic("random"),
                ..Default::default()
            },
            "not-a-known-token-0000",
        ))
        .await,
        Code::Unauthenticated,
        "",
    );
    let t = c
        .tell(told(TEAM_A))
        .await
        .unwrap()
        .into_inner()
        .trial
        .unwrap();
    assert_eq!((t.status.as_str(), t.objective), ("Succeeded", Some(1.0)));
    // The admin sees every namespace.
    let r = c.ask(ask_as(ADMIN, "team-a")).await.unwrap().into_inner();
    assert_eq!(r.trials[0].namespace, "team-a");
    server.shutdown().await;
}
