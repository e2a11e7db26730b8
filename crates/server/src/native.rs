//! The native `ferrotune.v1` services: experiments run by the server, their trials, and
//! metrics trials push.

use crate::ServerError;
use crate::auth::Identity;
use crate::manager::{Change, CreateRequest, Key, Manager};
use crate::metrics::Metrics;
use ferrotune_api::native;
use ferrotune_api::v1;
use ferrotune_controller::{Caller, Overrides};
use ferrotune_store::{ExperimentRecord, TrialRecord};
use std::collections::BTreeMap;
use std::pin::Pin;
use std::sync::Arc;
use tokio_stream::Stream;
use tonic::{Request, Response, Status, Streaming};

/// Most reports one `ReportStream` may carry (the SDK sends 256 at a time).
pub const MAX_STREAM_REPORTS: usize = 100_000;

/// Shared by the native services.
#[derive(Clone)]
pub struct Native {
    pub manager: Arc<Manager>,
    pub metrics: Arc<Metrics>,
}

type Result<T> = std::result::Result<T, Status>;

impl Native {
    /// The experiment `name` in a namespace the caller sees; anything else is NOT_FOUND.
    async fn visible(
        &self,
        id: &Identity,
        r: &v1::ExperimentRef,
    ) -> std::result::Result<ExperimentRecord, ServerError> {
        user(id)?;
        if r.name.is_empty() {
            return Err(ServerError::field("name", "must not be empty"));
        }
        let ns = id.namespace(&r.namespace)?;
        let not_found =
            || ServerError::NotFound(format!("no experiment {:?} in namespace {ns:?}", r.name));
        self.manager.find(&ns, &r.name).await?.ok_or_else(not_found)
    }

    async fn message(
        &self,
        r: &ExperimentRecord,
    ) -> std::result::Result<v1::Experiment, ServerError> {
        let trials = self.manager.store().list_trials(r.id).await?;
        Ok(native::experiment(r, &trials))
    }

    async fn reload(&self, key: &Key) -> std::result::Result<v1::Experiment, ServerError> {
        let r = self.manager.get(key).await?;
        self.message(&r).await
    }

    /// The trial `trial` (named `{experiment}-{seq}`) in a namespace the caller sees.
    async fn visible_trial(
        &self,
        id: &Identity,
        r: &v1::TrialRef,
    ) -> std::result::Result<(ExperimentRecord, TrialRecord), ServerError> {
        user(id)?;
        if r.trial.is_empty() {
            return Err(ServerError::field("trial", "must not be empty"));
        }
        let not_found = || ServerError::NotFound(format!("no trial {:?}", r.trial));
        let experiment = ferrotune_store::trial_experiment(&r.trial).ok_or_else(not_found)?;
        let rec = self
            .visible(
                id,
                &v1::ExperimentRef {
                    namespace: r.namespace.clone(),
                    name: experiment.to_string(),
                },
            )
            .await
            .map_err(|e| match e {
                ServerError::NotFound(_) => not_found(),
                e => e,
            })?;
        let trial = self
            .manager
            .store()
            .list_trials(rec.id)
            .await?
            .into_iter()
            .find(|t| t.name == r.trial)
            .ok_or_else(not_found)?;
        Ok((rec, trial))
    }
}

/// Refuses a trial's token (it may only report) before anything of the request is looked
/// at, so that it learns nothing about names or fields.
fn user(id: &Identity) -> std::result::Result<(), ServerError> {
    match id {
        Identity::Trial(_) => Err(ServerError::Unauthenticated(
            "a trial's token may only report metrics".into(),
        )),
        _ => Ok(()),
    }
}

fn caller(id: &Identity) -> Caller<'_> {
    match id {
        Identity::Admin => Caller::Admin,
        Identity::Namespace(n) => Caller::Namespace(n),
        Identity::Trial(t) => Caller::Trial(t),
    }
}

type EventStream = Pin<Box<dyn Stream<Item = Result<v1::ExperimentEvent>> + Send>>;

#[tonic::async_trait]
impl v1::experiment_service_server::ExperimentService for Native {
    async fn create_experiment(
        &self,
        req: Request<v1::CreateExperimentRequest>,
    ) -> Result<Response<v1::Experiment>> {
        let id = Identity::of(&req);
        let m = req.into_inner();
        let run = async {
            let namespace = id.namespace(&m.namespace)?;
            if m.document.trim().is_empty() {
                return Err(ServerError::field("document", "must not be empty"));
            }
            let record = self
                .manager
                .create(CreateRequest {
                    namespace: &namespace,
                    document: &m.document,
                    source: &m.source,
                    overrides: Overrides {
                        name: Some(m.name.as_str()).filter(|n| !n.is_empty()),
                        parallel: m.parallel_trial_count,
                        max_trials: m.max_trial_count,
                        namespace: None,
                    },
                    seed: m.seed,
                    runner: match &m.runner {
                        None => None,
                        Some(r) => ferrotune_api::native::runner_override(r)?.map(
                            |(kind, ray_address, ray_mode)| ferrotune_runners::RunnerSetting {
                                kind,
                                ray_address,
                                ray_mode,
                            },
                        ),
                    },
                })
                .await?;
            self.message(&record).await
        };
        Ok(Response::new(run.await?))
    }

    async fn get_experiment(
        &self,
        req: Request<v1::ExperimentRef>,
    ) -> Result<Response<v1::Experiment>> {
        let id = Identity::of(&req);
        let r = self.visible(&id, req.get_ref()).await?;
        Ok(Response::new(self.message(&r).await?))
    }

    async fn list_experiments(
        &self,
        req: Request<v1::ListExperimentsRequest>,
    ) -> Result<Response<v1::ListExperimentsResponse>> {
        let id = Identity::of(&req);
        let ns = req.get_ref().namespace.as_str();
        let all = ns == "*" && id == Identity::Admin;
        let ns = if all {
            String::new()
        } else {
            id.namespace(ns)?
        };
        let mut experiments = Vec::new();
        for r in self
            .manager
            .store()
            .list_experiments()
            .await
            .map_err(ServerError::from)?
        {
            if all || r.namespace == ns {
                experiments.push(self.message(&r).await?);
            }
        }
        Ok(Response::new(v1::ListExperimentsResponse { experiments }))
    }

    async fn stop_experiment(
        &self,
        req: Request<v1::ExperimentRef>,
    ) -> Result<Response<v1::Experiment>> {
        let id = Identity::of(&req);
        let r = self.visible(&id, req.get_ref()).await?;
        let key = Key::of(&r);
        self.manager.stop(&key).await?;
        Ok(Response::new(self.reload(&key).await?))
    }

    async fn resume_experiment(
        &self,
        req: Request<v1::ResumeExperimentRequest>,
    ) -> Result<Response<v1::Experiment>> {
        let id = Identity::of(&req);
        let m = req.into_inner();
        let Some(e) = m.experiment else {
            return Err(ServerError::field("experiment", "is required").into());
        };
        let r = self.visible(&id, &e).await?;
        let rec = self
            .manager
            .resume(&Key::of(&r), m.max_trial_count, m.parallel_trial_count)
            .await?;
        Ok(Response::new(self.message(&rec).await?))
    }

    async fn delete_experiment(
        &self,
        req: Request<v1::ExperimentRef>,
    ) -> Result<Response<v1::DeleteExperimentResponse>> {
        let id = Identity::of(&req);
        let r = self.visible(&id, req.get_ref()).await?;
        self.manager.delete(&Key::of(&r)).await?;
        Ok(Response::new(v1::DeleteExperimentResponse {}))
    }

    type WatchExperimentStream = EventStream;

    async fn watch_experiment(
        &self,
        req: Request<v1::ExperimentRef>,
    ) -> Result<Response<Self::WatchExperimentStream>> {
        let id = Identity::of(&req);
        // Subscribe before reading, so nothing between the two is missed.
        let mut changes = self.manager.subscribe();
        let r = self.visible(&id, req.get_ref()).await?;
        let first = self.message(&r).await?;
        let me = self.clone();
        let key = Key::of(&r);
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<v1::ExperimentEvent>>(64);
        tokio::spawn(async move {
            let send = |e: v1::experiment_event::Event| {
                tx.send(Ok(v1::ExperimentEvent { event: Some(e) }))
            };
            let mut last = first.clone();
            if send(v1::experiment_event::Event::Experiment(first))
                .await
                .is_err()
            {
                return;
            }
            if !me.manager.is_running(&key) {
                return;
            }
            loop {
                let change = changes.recv().await;
                let ended = match &change {
                    Ok(Change::Ended(k)) => k == &key,
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => true,
                    _ => false,
                };
                if let Ok(Change::Trial { experiment, trial }) = &change
                    && experiment == &key
                {
                    let t = me
                        .visible_trial(
                            &Identity::Admin,
                            &v1::TrialRef {
                                namespace: last.namespace.clone(),
                                trial: trial.clone(),
                            },
                        )
                        .await;
                    if let Ok((rec, t)) = t {
                        let msg = native::trial(&rec.namespace, &rec.name, &t);
                        if send(v1::experiment_event::Event::Trial(msg)).await.is_err() {
                            return;
                        }
                    }
                }
                let relevant = match &change {
                    Ok(Change::Experiment(k) | Change::Ended(k)) => k == &key,
                    Ok(Change::Trial { .. }) => false,
                    // Lagged: some changes were missed; the current state covers them.
                    Err(_) => true,
                };
                if relevant
                    && let Ok(now) = me.reload(&key).await
                    && now != last
                {
                    last = now.clone();
                    if send(v1::experiment_event::Event::Experiment(now))
                        .await
                        .is_err()
                    {
                        return;
                    }
                }
                if ended {
                    return;
                }
            }
        });
        Ok(Response::new(Box::pin(
            tokio_stream::wrappers::ReceiverStream::new(rx),
        )))
    }
}

#[tonic::async_trait]
impl v1::trial_service_server::TrialService for Native {
    async fn list_trials(
        &self,
        req: Request<v1::ExperimentRef>,
    ) -> Result<Response<v1::ListTrialsResponse>> {
        let id = Identity::of(&req);
        let r = self.visible(&id, req.get_ref()).await?;
        let trials = self
            .manager
            .store()
            .list_trials(r.id)
            .await
            .map_err(ServerError::from)?
            .iter()
            .map(|t| native::trial(&r.namespace, &r.name, t))
            .collect();
        Ok(Response::new(v1::ListTrialsResponse { trials }))
    }

    async fn get_trial(&self, req: Request<v1::TrialRef>) -> Result<Response<v1::Trial>> {
        let id = Identity::of(&req);
        let (r, t) = self.visible_trial(&id, req.get_ref()).await?;
        Ok(Response::new(native::trial(&r.namespace, &r.name, &t)))
    }

    async fn get_observation_log(
        &self,
        req: Request<v1::GetObservationLogRequest>,
    ) -> Result<Response<v1::ObservationLog>> {
        let id = Identity::of(&req);
        let m = req.into_inner();
        let Some(tref) = m.trial else {
            return Err(ServerError::field("trial", "is required").into());
        };
        let (_, t) = self.visible_trial(&id, &tref).await?;
        let attempt = (m.attempt > 0).then_some(m.attempt);
        let observations = self
            .manager
            .store()
            .observations(t.id, attempt)
            .await
            .map_err(ServerError::from)?
            .iter()
            .filter(|(_, o)| m.metric.is_empty() || o.metric == m.metric)
            .map(|(a, o)| native::observation(*a, o))
            .collect();
        Ok(Response::new(v1::ObservationLog { observations }))
    }
}

/// About the memory a report takes: its text and its values.
fn report_size(m: &v1::ReportRequest) -> usize {
    let metrics: usize = m.metrics.keys().map(|k| k.len() + 16).sum();
    m.trial.len() + m.timestamp.len() + metrics + 16
}

/// The report service: over the server's hub, or `ferrotune run`'s own.
#[derive(Clone)]
pub struct Reports {
    pub hub: ferrotune_controller::ReportHub,
    pub metrics: Arc<Metrics>,
}

impl Reports {
    /// Takes reports for several trials: every report and the caller's access to every
    /// trial are checked before any is taken, so a refused batch takes nothing.
    fn ingest(
        &self,
        id: &Identity,
        reports: &[v1::ReportRequest],
    ) -> std::result::Result<bool, ServerError> {
        let mut by_trial: BTreeMap<(&str, &str), Vec<ferrotune_controller::Report>> =
            BTreeMap::new();
        for (i, m) in reports.iter().enumerate() {
            if m.trial.is_empty() {
                return Err(ServerError::field(
                    &format!("reports[{i}].trial"),
                    "must not be empty",
                ));
            }
            if m.metrics.keys().any(String::is_empty) {
                return Err(ServerError::field(
                    &format!("reports[{i}].metrics"),
                    "metric names must not be empty",
                ));
            }
            by_trial
                .entry((m.namespace.as_str(), m.trial.as_str()))
                .or_default()
                .push(native::report(i, m)?);
        }
        for (namespace, trial) in by_trial.keys() {
            self.hub.should_stop(namespace, trial, caller(id))?;
        }
        let mut stop = false;
        for ((namespace, trial), reps) in by_trial {
            stop |= self.hub.report(namespace, trial, caller(id), &reps)?;
            self.metrics.reports_ingested(reps.len() as u64);
        }
        Ok(stop)
    }
}

#[tonic::async_trait]
impl v1::report_service_server::ReportService for Reports {
    async fn report(
        &self,
        req: Request<v1::ReportRequest>,
    ) -> Result<Response<v1::ReportResponse>> {
        let id = Identity::of(&req);
        let should_stop = self.ingest(&id, std::slice::from_ref(req.get_ref()))?;
        Ok(Response::new(v1::ReportResponse {
            accepted: 1,
            should_stop,
        }))
    }

    async fn report_stream(
        &self,
        req: Request<Streaming<v1::ReportRequest>>,
    ) -> Result<Response<v1::ReportResponse>> {
        let id = Identity::of(&req);
        let mut stream = req.into_inner();
        // The whole stream or nothing: a client that resends after a failure adds no
        // duplicates.
        // It is held in memory until its end, so its size is bounded as one message's is.
        let mut all = Vec::new();
        let mut bytes = 0usize;
        while let Some(m) = stream.message().await? {
            if all.len() == MAX_STREAM_REPORTS {
                return Err(Status::resource_exhausted(format!(
                    "a report stream carries at most {MAX_STREAM_REPORTS} reports; send several"
                )));
            }
            bytes = bytes.saturating_add(report_size(&m));
            if bytes > crate::MAX_MESSAGE_BYTES {
                return Err(Status::resource_exhausted(format!(
                    "a report stream carries at most {} MiB; send several",
                    crate::MAX_MESSAGE_BYTES >> 20
                )));
            }
            all.push(m);
        }
        let should_stop = self.ingest(&id, &all)?;
        Ok(Response::new(v1::ReportResponse {
            accepted: all.len() as u64,
            should_stop,
        }))
    }

    async fn should_stop(
        &self,
        req: Request<v1::TrialRef>,
    ) -> Result<Response<v1::ShouldStopResponse>> {
        let id = Identity::of(&req);
        let m = req.get_ref();
        if m.trial.is_empty() {
            return Err(ServerError::field("trial", "must not be empty").into());
        }
        let reason = self
            .hub
            .should_stop(&m.namespace, &m.trial, caller(&id))
            .map_err(ServerError::from)?;
        Ok(Response::new(v1::ShouldStopResponse {
            should_stop: reason.is_some(),
            reason: reason.unwrap_or_default(),
        }))
    }
}
