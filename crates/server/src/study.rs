//! The ask-and-tell `SuggestionService`, for users who run their own training loop (like
//! Optuna's `study.ask()` / `study.tell()`), and a stateless `Suggest`.
//!
//! A study is stored as an experiment, so that `ferrotune list/show/trials` and the trial
//! and report services serve it as they serve experiments; what tells it apart is its run
//! directory, `study:NAMESPACE/NAME`. It lies outside the server's runs directory, so the
//! [`Manager`] never resumes it as an experiment, and nothing is ever created there: the
//! study's client runs the trials, the server only suggests and records.
//!
//! Each study's search algorithm is kept in memory behind its own lock (so two Asks never
//! see the same history) and rebuilt from the store when it is not there, so a restarted
//! server continues a study where it was: the algorithms draw from the history (and their
//! saved state), not from what one process remembers.

use crate::ServerError;
use crate::auth::Identity;
use crate::manager::{Key, Manager};
use ferrotune_algorithms::{AlgorithmContext, Suggester, Suggestions, seed_from_settings};
use ferrotune_api::native;
use ferrotune_api::v1;
use ferrotune_controller::lifecycle::{self, LifecycleError, Overrides};
use ferrotune_controller::{RunnerEvent, validate_document};
use ferrotune_core::validate::Experiment;
use ferrotune_core::{MetricSummary, NewTrial, Observation, TrialStatus, TrialView};
use ferrotune_store::{
    ExperimentRecord, ExperimentStatus, NewExperiment, StoreError, TrialOutcome, TrialRecord,
};
use serde_json::{Value, json};
use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;
use tokio::sync::mpsc;
use tonic::{Request, Response, Status};

pub use ferrotune_controller::lifecycle::{STUDY_RUN_DIR_PREFIX, is_study};

/// The reason a study's (Running) status gives, for `ferrotune list/show`.
pub const STUDY_REASON: &str = "StudyRunning";

/// Most trials one Ask or Suggest may ask for: enough for any batch, small enough that a
/// typo cannot fill the database.
pub const MAX_COUNT: u32 = 1000;

/// The study document's experiment, validated as `CreateExperiment` validates, with what a
/// study does not need filled in when absent (see [`with_placeholders`]).
pub fn study_experiment(raw: &Value) -> Result<Experiment, ServerError> {
    let doc = lifecycle::reload(&with_placeholders(raw))?;
    validate_document(&doc).map_err(|e| LifecycleError::Invalid(e).into())
}

/// A copy of `raw` with a trial template that is never run when the document has none
/// (the validator wants one: it says what an experiment's trials run), and, when
/// `maxTrialCount` is below the default parallelism and none is given, a
/// `parallelTrialCount` that fits (a study's client decides how many trials run at once).
/// The stored document keeps what the user wrote, so `ferrotune show` shows that.
fn with_placeholders(raw: &Value) -> Value {
    let mut v = raw.clone();
    let Some(obj) = v.as_object_mut() else {
        return v;
    };
    let katib = obj.get("apiVersion").and_then(Value::as_str)
        == Some(ferrotune_core::spec::KATIB_API_VERSION);
    let Some(spec) = obj.get_mut("spec").and_then(Value::as_object_mut) else {
        return v;
    };
    if spec.get("trialTemplate").is_none_or(Value::is_null) {
        let template = if katib {
            // Katib's format has no local shorthand: a Job with one container.
            json!({
                "primaryContainerName": "study",
                "trialSpec": {
                    "apiVersion": "batch/v1",
                    "kind": "Job",
                    "spec": {"template": {"spec": {"containers": [
                        {"name": "study", "command": ["true"]}
                    ]}}}
                }
            })
        } else {
            json!({"command": ["true"]})
        };
        spec.insert("trialTemplate".into(), template);
    }
    if spec.get("parallelTrialCount").is_none_or(Value::is_null)
        && let Some(max) = spec.get("maxTrialCount").and_then(Value::as_i64)
        && (1..i64::from(ferrotune_core::validate::DEFAULT_PARALLEL_TRIAL_COUNT)).contains(&max)
    {
        spec.insert("parallelTrialCount".into(), max.into());
    }
    v
}

/// The one experiment document in `text`, as JSON.
fn parse_document(text: &str) -> Result<Value, ServerError> {
    if text.trim().is_empty() {
        return Err(ServerError::field("document", "must not be empty"));
    }
    let loaded = ferrotune_core::load::load_str(text)
        .map_err(|e| LifecycleError::Document(format!("document: {e}")))?;
    let mut experiments = loaded.experiments;
    match experiments.len() {
        1 => Ok(experiments.remove(0).raw),
        0 => {
            Err(LifecycleError::Document("document: no Experiment in this document".into()).into())
        }
        n => Err(LifecycleError::Document(format!(
            "document holds {n} experiments; give one at a time"
        ))
        .into()),
    }
}

fn build_algorithm(exp: &Experiment, seed: u64) -> Result<Box<dyn Suggester>, ServerError> {
    Ok(ferrotune_algorithms::build(AlgorithmContext {
        algorithm: exp.algorithm.name.clone(),
        space: exp.space.clone(),
        objectives: exp.objective.directions(),
        seed,
        settings: exp.algorithm.settings.clone(),
    })?)
}

/// Every objective's value for a multi-objective study; empty for one objective (see
/// `TrialView::objectives`).
fn multi_values(exp: &Experiment, metrics: &[MetricSummary]) -> Vec<f64> {
    if exp.objective.is_multi() {
        exp.objective.values(metrics).unwrap_or_default()
    } else {
        Vec::new()
    }
}

/// How many trials a request's `count` means: 0 is 1.
fn count(n: u32) -> Result<usize, ServerError> {
    match n {
        0 => Ok(1),
        n if n > MAX_COUNT => Err(ServerError::field(
            "count",
            format!("{n} is more than {MAX_COUNT} trials at once"),
        )),
        n => Ok(n as usize),
    }
}

/// The statuses a trial may be told to have.
fn told_status(s: &str) -> Result<TrialStatus, ServerError> {
    match s {
        "" | "Succeeded" => Ok(TrialStatus::Succeeded),
        "Failed" => Ok(TrialStatus::Failed),
        "EarlyStopped" => Ok(TrialStatus::EarlyStopped),
        other => Err(ServerError::field(
            "status",
            format!("{other:?} must be Succeeded (the default), Failed or EarlyStopped"),
        )),
    }
}

/// Runs CPU work (a suggestion) off the async threads, so one long suggestion never stalls
/// other calls.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ServerError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ServerError::Internal(format!("the suggestion failed: {e}")))
}

/// A study's experiment and search algorithm, kept between calls.
struct Loaded {
    /// The record's id and creation time: a study deleted and created again under the same
    /// name is another study.
    key: (i64, String),
    exp: Experiment,
    algorithm: Box<dyn Suggester>,
}

fn key_of(r: &ExperimentRecord) -> (i64, String) {
    (r.id, native::time_text(Some(r.created_at)))
}

/// One study's slot: its lock serialises Ask and Tell, `None` until loaded (or after an
/// error, so the next call rebuilds from the store).
type Slot = Arc<tokio::sync::Mutex<Option<Loaded>>>;

#[derive(Default)]
struct Inner {
    studies: Mutex<HashMap<Key, Slot>>,
    /// Per running study trial (by namespace and name): the task that stores what it
    /// reports through the ReportService (it ends when the trial's route in the hub closes).
    appenders: Mutex<HashMap<(String, String), tokio::task::JoinHandle<()>>>,
}

/// The `SuggestionService`.
#[derive(Clone)]
pub struct Studies {
    manager: Arc<Manager>,
    inner: Arc<Inner>,
}

impl Studies {
    /// The service over `manager`'s store and report hub. Running trials of running studies
    /// get their report routes back, so that a restarted server takes their reports again.
    pub async fn start(manager: Arc<Manager>) -> Result<Studies, ServerError> {
        let me = Studies {
            manager,
            inner: Arc::default(),
        };
        for r in me.manager.store().list_experiments().await? {
            if !is_study(&r) || r.status != ExperimentStatus::Running {
                continue;
            }
            let exp = match study_experiment(&r.document) {
                Ok(exp) => exp,
                Err(e) => {
                    tracing::error!(study = %r.name, "cannot load the study: {e}");
                    continue;
                }
            };
            let wanted = exp.objective.all_metrics();
            for t in me.manager.store().list_trials(r.id).await? {
                if t.status == TrialStatus::Running {
                    me.open_route(&r.namespace, &t, &wanted);
                }
            }
        }
        Ok(me)
    }

    fn slot(&self, rec: &ExperimentRecord) -> Slot {
        let mut studies = crate::lock(&self.inner.studies);
        studies.entry(Key::of(rec)).or_default().clone()
    }

    #[allow(clippy::type_complexity)]
    fn appenders(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<(String, String), tokio::task::JoinHandle<()>>> {
        // Every update is one insert or remove: a poisoned lock is still consistent.
        crate::lock(&self.inner.appenders)
    }

    /// Lets the ReportService take the trial's intermediate values (the hub only routes
    /// reports of trials it knows); a task stores them as they come.
    fn open_route(&self, namespace: &str, t: &TrialRecord, wanted: &[String]) {
        let (tx, mut rx) = mpsc::unbounded_channel::<RunnerEvent>();
        // Study trials report with their user's token, not a trial token: the access the hub
        // hands out is not needed.
        let _ = self
            .manager
            .hub()
            .open(namespace, &t.name, t.attempt, wanted, tx);
        let store = self.manager.store().clone();
        let (id, name) = (t.id, t.name.clone());
        let task = tokio::spawn(async move {
            while let Some(ev) = rx.recv().await {
                let mut batch: Vec<(i64, Vec<Observation>)> = Vec::new();
                let mut take = |ev: RunnerEvent| {
                    if let RunnerEvent::Observations {
                        attempt,
                        observations,
                        ..
                    } = ev
                    {
                        match batch.last_mut() {
                            Some((a, obs)) if *a == attempt => obs.extend(observations),
                            _ => batch.push((attempt, observations)),
                        }
                    }
                };
                take(ev);
                // Whatever else is ready goes in the same transaction.
                while let Ok(ev) = rx.try_recv() {
                    take(ev);
                }
                for (attempt, obs) in batch {
                    if let Err(e) = store.append_observations(id, attempt, &obs).await {
                        tracing::error!(trial = %name, "cannot store reported metrics: {e}");
                    }
                }
            }
        });
        if let Some(old) = self
            .appenders()
            .insert((namespace.to_string(), t.name.clone()), task)
        {
            old.abort();
        }
    }

    /// Closes the trial's report route and waits until what it took is stored, so that the
    /// trial's summaries include every value reported before Tell.
    async fn close_route(&self, namespace: &str, trial: &str, attempt: i64) {
        self.manager.hub().close(namespace, trial, attempt);
        let task = self
            .appenders()
            .remove(&(namespace.to_string(), trial.to_string()));
        if let Some(task) = task {
            let _ = task.await;
        }
    }

    /// The experiment `r` names, in a namespace the caller sees; `field` is the request's
    /// name for `r`.
    async fn visible(
        &self,
        id: &Identity,
        r: &v1::ExperimentRef,
        field: &str,
    ) -> Result<ExperimentRecord, ServerError> {
        if r.name.is_empty() {
            return Err(ServerError::field(
                &format!("{field}.name"),
                "must not be empty",
            ));
        }
        let ns = id.namespace(&r.namespace)?;
        let not_found =
            || ServerError::NotFound(format!("no study {:?} in namespace {ns:?}", r.name));
        self.manager.find(&ns, &r.name).await?.ok_or_else(not_found)
    }

    /// As [`Studies::visible`], and it must be a study: an experiment's trials belong to
    /// its controller.
    async fn study(
        &self,
        id: &Identity,
        r: &v1::ExperimentRef,
        field: &str,
    ) -> Result<ExperimentRecord, ServerError> {
        let rec = self.visible(id, r, field).await?;
        if !is_study(&rec) {
            return Err(ServerError::FailedPrecondition(format!(
                "{:?} is an experiment the server runs, not a study: its trials are not asked and told",
                rec.name
            )));
        }
        Ok(rec)
    }

    /// The study of trial `r` (named `{study}-{seq}`); an unknown trial is NOT_FOUND.
    async fn study_of_trial(
        &self,
        id: &Identity,
        r: &v1::TrialRef,
    ) -> Result<ExperimentRecord, ServerError> {
        if r.trial.is_empty() {
            return Err(ServerError::field("trial.trial", "must not be empty"));
        }
        let not_found = || ServerError::NotFound(format!("no trial {:?}", r.trial));
        let study = ferrotune_store::trial_experiment(&r.trial).ok_or_else(not_found)?;
        let exp_ref = v1::ExperimentRef {
            namespace: r.namespace.clone(),
            name: study.to_string(),
        };
        self.study(id, &exp_ref, "trial")
            .await
            .map_err(|e| match e {
                ServerError::NotFound(_) => not_found(),
                e => e,
            })
    }

    /// The study's experiment and algorithm, loaded from the store unless already here.
    async fn ensure_loaded(
        &self,
        rec: &ExperimentRecord,
        slot: &mut Option<Loaded>,
    ) -> Result<(), ServerError> {
        let key = key_of(rec);
        if slot.as_ref().is_some_and(|l| l.key == key) {
            return Ok(());
        }
        *slot = None;
        let exp = study_experiment(&rec.document)?;
        let mut algorithm = build_algorithm(&exp, rec.seed)?;
        if let Some(state) = self.manager.store().load_algorithm_state(rec.id).await? {
            algorithm.restore(state)?;
        }
        *slot = Some(Loaded {
            key,
            exp,
            algorithm,
        });
        Ok(())
    }

    /// What the algorithm sees: every trial, running ones included (so that algorithms with
    /// a constant liar spread parallel suggestions), with objective curves when it wants
    /// them.
    async fn history(
        &self,
        exp: &Experiment,
        trials: &[TrialRecord],
        curves: bool,
    ) -> Result<Vec<TrialView>, ServerError> {
        let mut views = Vec::with_capacity(trials.len());
        for t in trials {
            let intermediate = if curves {
                self.manager
                    .store()
                    .observations(t.id, Some(t.attempt))
                    .await?
                    .into_iter()
                    .filter(|(_, o)| o.metric == exp.objective.metric)
                    .map(|(_, o)| (o.step, o.value))
                    .collect()
            } else {
                Vec::new()
            };
            views.push(TrialView {
                name: t.name.clone(),
                parameters: t.parameters.clone(),
                status: t.status,
                objective: t.objective,
                objectives: multi_values(exp, &t.metrics),
                intermediate,
                labels: t.labels.clone(),
            });
        }
        Ok(views)
    }

    async fn create(
        &self,
        id: &Identity,
        m: v1::CreateStudyRequest,
    ) -> Result<v1::Study, ServerError> {
        let namespace = id.namespace(&m.namespace)?;
        let mut raw = parse_document(&m.document)?;
        // The request's namespace is the study's, whatever the document says.
        Overrides {
            name: Some(m.name.as_str()).filter(|n| !n.is_empty()),
            namespace: Some(&namespace),
            ..Overrides::default()
        }
        .apply(&mut raw);
        let exp = study_experiment(&raw)?;
        let seed = m
            .seed
            .or_else(|| seed_from_settings(&exp.algorithm.settings))
            .unwrap_or_else(lifecycle::random_seed);
        // What validation lets through but the algorithm cannot do is refused before
        // anything is stored.
        build_algorithm(&exp, seed)?;
        let store = self.manager.store();
        let rec = store
            .create_experiment(NewExperiment {
                name: exp.name.clone(),
                namespace: exp.namespace.clone(),
                document: raw.clone(),
                source_path: String::new(),
                run_dir: format!("{STUDY_RUN_DIR_PREFIX}{}/{}", exp.namespace, exp.name),
                seed,
            })
            .await
            .map_err(|e| match e {
                StoreError::AlreadyExists { namespace, name } => {
                    ServerError::AlreadyExists(format!(
                        "a study or experiment named {name:?} already exists in namespace \
                         {namespace:?}; Ask continues a study"
                    ))
                }
                e => e.into(),
            })?;
        store
            .set_experiment_status(
                rec.id,
                ExperimentStatus::Running,
                STUDY_REASON,
                "an ask-and-tell study: its client runs the trials and tells their results",
            )
            .await?;
        // A study of the same name deleted before may still be cached.
        crate::lock(&self.inner.studies).remove(&Key::of(&rec));
        Ok(v1::Study {
            namespace: rec.namespace,
            name: rec.name,
            document_json: raw.to_string(),
            seed,
        })
    }

    async fn ask_study(
        &self,
        id: &Identity,
        m: v1::AskRequest,
    ) -> Result<v1::AskResponse, ServerError> {
        let r = m
            .study
            .ok_or_else(|| ServerError::field("study", "is required"))?;
        let want = count(m.count)?;
        let rec = self.study(id, &r, "study").await?;
        match rec.status {
            // Created: CreateStudy stored it but did not get to mark it Running.
            ExperimentStatus::Running | ExperimentStatus::Created => {}
            // It ended by its own rules (maxTrialCount, or the algorithm's end).
            ExperimentStatus::Succeeded => {
                return Ok(v1::AskResponse {
                    trials: Vec::new(),
                    exhausted: true,
                });
            }
            s => {
                return Err(ServerError::FailedPrecondition(format!(
                    "study {:?} is {s} ({}): it takes no more trials",
                    rec.name, rec.reason
                )));
            }
        }
        let slot = self.slot(&rec);
        let mut guard = slot.lock().await;
        let result = self.ask_locked(&rec, &mut guard, want).await;
        if result.is_err() {
            // The algorithm may have moved on without its trials being stored: rebuild it
            // from the store next time.
            *guard = None;
        }
        result
    }

    async fn ask_locked(
        &self,
        rec: &ExperimentRecord,
        slot: &mut Option<Loaded>,
        want: usize,
    ) -> Result<v1::AskResponse, ServerError> {
        self.ensure_loaded(rec, slot).await?;
        let store = self.manager.store();
        let trials = store.list_trials(rec.id).await?;
        let loaded = slot.take().expect("loaded above");
        let max = loaded.exp.max_trial_count.map(|m| m as usize);
        let wanted = loaded.exp.objective.all_metrics();
        let room = max.map_or(want, |m| want.min(m.saturating_sub(trials.len())));
        // Trials created but never started (an Ask that failed half-way, or a crash between
        // the two) are handed out first: they already count against maxTrialCount.
        let mut hand_out: Vec<i64> = trials
            .iter()
            .filter(|t| t.status == TrialStatus::Created)
            .map(|t| t.id)
            .take(want)
            .collect();
        let fresh = room.saturating_sub(hand_out.len());
        let mut exhausted = false;
        if fresh > 0 {
            let views = self
                .history(&loaded.exp, &trials, loaded.algorithm.needs_intermediate())
                .await?;
            let (loaded, suggested) = blocking(move || {
                let mut loaded = loaded;
                let s = loaded.algorithm.suggest(&views, fresh);
                (loaded, s)
            })
            .await?;
            let state = loaded.algorithm.state();
            *slot = Some(loaded);
            let suggested = suggested?;
            if let Some(state) = state {
                store.save_algorithm_state(rec.id, &state).await?;
            }
            let running = trials.iter().any(|t| t.status == TrialStatus::Running);
            let new: Vec<NewTrial> = match suggested {
                Suggestions::Assignments(a) => a.into_iter().map(NewTrial::from).collect(),
                Suggestions::Trials(t) => t,
                // Nothing until a running trial is told; with none running, nothing ever.
                Suggestions::Wait => {
                    exhausted = !running && hand_out.is_empty();
                    Vec::new()
                }
                Suggestions::Exhausted => {
                    exhausted = true;
                    Vec::new()
                }
            };
            if !new.is_empty() {
                let created = store
                    .create_labelled_trials(rec.id, new.into_iter().take(fresh).collect())
                    .await?;
                hand_out.extend(created.iter().map(|t| t.id));
            }
        } else {
            *slot = Some(loaded);
        }
        for &trial_id in &hand_out {
            store
                .start_trial(trial_id, 1, None, SystemTime::now().into())
                .await?;
        }
        let all = store.list_trials(rec.id).await?;
        let started: Vec<&TrialRecord> = all.iter().filter(|t| hand_out.contains(&t.id)).collect();
        for t in &started {
            self.open_route(&rec.namespace, t, &wanted);
        }
        if max.is_some_and(|m| all.len() >= m) {
            exhausted = true;
        }
        if exhausted && all.iter().all(|t| t.status.is_finished()) {
            let (reason, message) = if max.is_some_and(|m| all.len() >= m) {
                (
                    "ExperimentMaxTrialsReached",
                    format!("{} trials finished", all.len()),
                )
            } else {
                (
                    "ExperimentSuggestionEndReached",
                    "the search algorithm has no more parameter sets".to_string(),
                )
            };
            store
                .set_experiment_status(rec.id, ExperimentStatus::Succeeded, reason, &message)
                .await?;
        }
        Ok(v1::AskResponse {
            trials: started
                .iter()
                .map(|t| native::trial(&rec.namespace, &rec.name, t))
                .collect(),
            exhausted,
        })
    }

    async fn tell_trial(
        &self,
        id: &Identity,
        m: v1::TellRequest,
    ) -> Result<v1::TellResponse, ServerError> {
        let tref = m
            .trial
            .ok_or_else(|| ServerError::field("trial", "is required"))?;
        let status = told_status(&m.status)?;
        let rec = self.study_of_trial(id, &tref).await?;
        let slot = self.slot(&rec);
        let mut guard = slot.lock().await;
        let result = self
            .tell_locked(
                &rec,
                &mut guard,
                &tref.trial,
                status,
                &m.metrics,
                &m.message,
            )
            .await;
        if matches!(
            result,
            Err(ServerError::Store(_) | ServerError::Internal(_))
        ) {
            *guard = None;
        }
        result
    }

    async fn tell_locked(
        &self,
        rec: &ExperimentRecord,
        slot: &mut Option<Loaded>,
        trial: &str,
        status: TrialStatus,
        told: &HashMap<String, f64>,
        message: &str,
    ) -> Result<v1::TellResponse, ServerError> {
        self.ensure_loaded(rec, slot).await?;
        let exp = &slot.as_ref().expect("loaded above").exp;
        let store = self.manager.store();
        let trials = store.list_trials(rec.id).await?;
        let t = trials
            .iter()
            .find(|t| t.name == trial)
            .ok_or_else(|| ServerError::NotFound(format!("no trial {trial:?}")))?;
        if t.status != TrialStatus::Running {
            return Err(ServerError::FailedPrecondition(format!(
                "trial {trial:?} is {} already: a trial is told once",
                t.status
            )));
        }
        let all_metrics = exp.objective.all_metrics();
        // Sorted, so that the first problem named is the same every time.
        let mut finals: Vec<(&String, f64)> = told.iter().map(|(k, v)| (k, *v)).collect();
        finals.sort_by(|a, b| a.0.cmp(b.0));
        for (name, _) in &finals {
            if !all_metrics.contains(name) {
                return Err(ServerError::field(
                    &format!("metrics.{name}"),
                    format!(
                        "is not a metric of study {:?} (its metrics: {})",
                        rec.name,
                        all_metrics.join(", ")
                    ),
                ));
            }
        }
        if status == TrialStatus::Succeeded {
            for (metric, _) in exp.objective.objectives() {
                match told.get(&metric) {
                    None => {
                        return Err(ServerError::field(
                            "metrics",
                            format!(
                                "a Succeeded trial needs the objective metric {metric:?} (tell \
                                 Failed when the trial has no result)"
                            ),
                        ));
                    }
                    Some(v) if !v.is_finite() => {
                        return Err(ServerError::field(
                            &format!("metrics.{metric}"),
                            format!("{v} is not a finite number (tell Failed instead)"),
                        ));
                    }
                    Some(_) => {}
                }
            }
        }
        self.close_route(&rec.namespace, &t.name, t.attempt).await;
        // The summaries span the whole attempt, intermediate reports included, so the
        // objective is picked by the metric's strategy exactly as for an experiment's trial.
        let earlier = store.observations(t.id, Some(t.attempt)).await?;
        let now = SystemTime::now();
        let mut last_obs = Vec::with_capacity(finals.len());
        for (name, value) in &finals {
            let step = earlier
                .iter()
                .filter(|(_, o)| &o.metric == *name)
                .map(|(_, o)| o.step + 1)
                .max()
                .unwrap_or(0);
            last_obs.push(Observation {
                metric: name.to_string(),
                step,
                timestamp: now.into(),
                value: *value,
            });
        }
        let mut summaries: HashMap<&str, MetricSummary> = HashMap::new();
        for o in earlier.iter().map(|(_, o)| o).chain(&last_obs) {
            match summaries.get_mut(o.metric.as_str()) {
                Some(s) => s.push(o.value),
                None => {
                    summaries.insert(&o.metric, MetricSummary::new(&o.metric, o.value));
                }
            }
        }
        let metric = &exp.objective.metric;
        let objective = summaries
            .get(metric.as_str())
            .map(|s| s.pick(exp.objective.strategy(metric)));
        let metrics: Vec<MetricSummary> = all_metrics
            .iter()
            .filter_map(|m| summaries.get(m.as_str()).cloned())
            .collect();
        let reason = match status {
            TrialStatus::Succeeded => "TrialSucceeded",
            TrialStatus::EarlyStopped => "TrialEarlyStopped",
            _ => "TrialFailed",
        };
        let outcome = TrialOutcome {
            status,
            reason: reason.to_string(),
            message: message.to_string(),
            objective,
            metrics,
            completion_time: now.into(),
        };
        store
            .finish_trial(t.id, t.attempt, &last_obs, &outcome)
            .await?;
        let all = store.list_trials(rec.id).await?;
        let finished = all.iter().filter(|t| t.status.is_finished()).count();
        if exp
            .max_trial_count
            .is_some_and(|m| finished >= m as usize && finished == all.len())
        {
            store
                .set_experiment_status(
                    rec.id,
                    ExperimentStatus::Succeeded,
                    "ExperimentMaxTrialsReached",
                    &format!("{finished} trials finished"),
                )
                .await?;
        }
        let t = all
            .iter()
            .find(|t| t.name == trial)
            .ok_or_else(|| ServerError::Internal(format!("trial {trial:?} vanished")))?;
        Ok(v1::TellResponse {
            trial: Some(native::trial(&rec.namespace, &rec.name, t)),
        })
    }
}

/// The algorithm's view of a `Suggest` request's history; every bad entry is
/// INVALID_ARGUMENT naming `history[i].field`.
fn history_views(
    exp: &Experiment,
    history: &[v1::HistoryTrial],
) -> Result<Vec<TrialView>, ServerError> {
    let space = &exp.space;
    let n_objectives = exp.objective.objectives().len();
    let mut names = BTreeSet::new();
    let mut views = Vec::with_capacity(history.len());
    for (i, h) in history.iter().enumerate() {
        let at = format!("history[{i}]");
        let name = if h.name.is_empty() {
            format!("history-{i}")
        } else {
            h.name.clone()
        };
        if !names.insert(name.clone()) {
            return Err(ServerError::field(
                &format!("{at}.name"),
                format!("{name:?} appears twice in the history"),
            ));
        }
        let given = native::assignment(&format!("{at}.parameters"), &h.parameters)?;
        let mut seen = BTreeSet::new();
        for (j, (n, _)) in given.0.iter().enumerate() {
            if !space.parameters.iter().any(|p| &p.name == n) {
                let known: Vec<&str> = space.parameters.iter().map(|p| p.name.as_str()).collect();
                return Err(ServerError::field(
                    &format!("{at}.parameters[{j}].name"),
                    format!(
                        "{n:?} is not a parameter (parameters: {})",
                        known.join(", ")
                    ),
                ));
            }
            if !seen.insert(n.as_str()) {
                return Err(ServerError::field(
                    &format!("{at}.parameters[{j}].name"),
                    format!("{n:?} is given twice"),
                ));
            }
        }
        let mut parameters = Vec::with_capacity(space.parameters.len());
        for p in &space.parameters {
            let Some((j, (_, v))) = given.0.iter().enumerate().find(|(_, (n, _))| n == &p.name)
            else {
                return Err(ServerError::field(
                    &format!("{at}.parameters"),
                    format!("has no value for parameter {:?}", p.name),
                ));
            };
            // Through the domain's own reading, so 3 and 3.0 are the same number.
            let value = p.domain.parse(&v.to_string()).ok_or_else(|| {
                ServerError::field(
                    &format!("{at}.parameters[{j}].value"),
                    format!(
                        "{} is not in parameter {:?}'s feasible space",
                        native::value_text(v),
                        p.name
                    ),
                )
            })?;
            parameters.push((p.name.clone(), value));
        }
        let status = if h.status.is_empty() {
            TrialStatus::Succeeded
        } else {
            h.status.parse::<TrialStatus>().map_err(|_| {
                let all: Vec<&str> = TrialStatus::ALL.iter().map(|s| s.as_str()).collect();
                ServerError::field(
                    &format!("{at}.status"),
                    format!("{:?} is not a trial status ({})", h.status, all.join(", ")),
                )
            })?
        };
        if !h.objectives.is_empty() && h.objectives.len() != n_objectives {
            return Err(ServerError::field(
                &format!("{at}.objectives"),
                format!(
                    "has {} values; the document has {n_objectives} objective(s)",
                    h.objectives.len()
                ),
            ));
        }
        if let Some(k) = h.objectives.iter().position(|v| !v.is_finite()) {
            return Err(ServerError::field(
                &format!("{at}.objectives[{k}]"),
                format!("{} is not a finite number", h.objectives[k]),
            ));
        }
        if status == TrialStatus::Succeeded && h.objectives.is_empty() {
            return Err(ServerError::field(
                &format!("{at}.objectives"),
                "a Succeeded trial needs its objective value(s)",
            ));
        }
        views.push(TrialView {
            name,
            parameters: ferrotune_core::Assignment(parameters),
            status,
            objective: h.objectives.first().copied(),
            objectives: if exp.objective.is_multi() {
                h.objectives.clone()
            } else {
                Vec::new()
            },
            intermediate: Vec::new(),
            labels: Default::default(),
        });
    }
    Ok(views)
}

/// The whole stateless Suggest computation (run on a blocking thread).
pub fn suggest(m: &v1::SuggestRequest) -> Result<v1::SuggestResponse, ServerError> {
    let mut raw = parse_document(&m.document)?;
    // The name means nothing here: a document without one is still a search space.
    if let Some(meta) = raw.as_object_mut().and_then(|o| {
        o.entry("metadata")
            .or_insert_with(|| json!({}))
            .as_object_mut()
    }) {
        meta.entry("name").or_insert_with(|| "suggest".into());
    }
    let exp = study_experiment(&raw)?;
    let want = count(m.count)?;
    let history = history_views(&exp, &m.history)?;
    let room = exp.max_trial_count.map_or(want, |max| {
        want.min((max as usize).saturating_sub(history.len()))
    });
    if room == 0 {
        return Ok(v1::SuggestResponse {
            assignments: Vec::new(),
            exhausted: true,
        });
    }
    let seed = m
        .seed
        .or_else(|| seed_from_settings(&exp.algorithm.settings))
        .unwrap_or(0);
    let mut algorithm = build_algorithm(&exp, seed)?;
    let running = history.iter().any(|v| !v.status.is_finished());
    let (trials, exhausted): (Vec<NewTrial>, bool) = match algorithm.suggest(&history, room)? {
        Suggestions::Assignments(a) => (a.into_iter().map(NewTrial::from).collect(), false),
        Suggestions::Trials(t) => (t, false),
        Suggestions::Wait => (Vec::new(), !running),
        Suggestions::Exhausted => (Vec::new(), true),
    };
    Ok(v1::SuggestResponse {
        assignments: trials
            .iter()
            .take(room)
            .map(|t| v1::Assignment {
                parameters: native::parameters(&t.parameters),
            })
            .collect(),
        exhausted,
    })
}

/// The caller's identity, refusing a trial's token (it may only report) before anything of
/// the request is looked at, so that it learns nothing about names or fields.
fn user<T>(req: &Request<T>) -> Result<Identity, ServerError> {
    match Identity::of(req) {
        Identity::Trial(_) => Err(ServerError::Unauthenticated(
            "a trial's token may only report metrics".into(),
        )),
        id => Ok(id),
    }
}

#[tonic::async_trait]
impl v1::suggestion_service_server::SuggestionService for Studies {
    async fn create_study(
        &self,
        req: Request<v1::CreateStudyRequest>,
    ) -> Result<Response<v1::Study>, Status> {
        let id = user(&req)?;
        Ok(Response::new(self.create(&id, req.into_inner()).await?))
    }

    async fn ask(&self, req: Request<v1::AskRequest>) -> Result<Response<v1::AskResponse>, Status> {
        let id = user(&req)?;
        Ok(Response::new(self.ask_study(&id, req.into_inner()).await?))
    }

    async fn tell(
        &self,
        req: Request<v1::TellRequest>,
    ) -> Result<Response<v1::TellResponse>, Status> {
        let id = user(&req)?;
        Ok(Response::new(self.tell_trial(&id, req.into_inner()).await?))
    }

    async fn suggest(
        &self,
        req: Request<v1::SuggestRequest>,
    ) -> Result<Response<v1::SuggestResponse>, Status> {
        user(&req)?;
        let m = req.into_inner();
        Ok(Response::new(blocking(move || suggest(&m)).await??))
    }
}
