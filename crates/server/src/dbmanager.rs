//! Katib's `DBManager` service on ferrotune's store: Katib's metrics collectors report
//! observation logs here and its early-stopping services read them back, so a Katib
//! installation can keep its metrics in ferrotune's database.
//!
//! Katib keys these logs by trial name alone, with no namespace, so they belong to no
//! tenant: with `--tokens`, only an admin token may use the service (Katib's controller
//! and collectors send none, so a server that serves them runs with `--katib-open`,
//! where every caller is an admin). A user token is refused before anything is read.

use crate::auth::Identity;
use crate::error::ServerError;
use ferrotune_api::convert::{log_entries, observation_log, optional_time};
use ferrotune_api::katib as pb;
use ferrotune_store::{KatibLogEntry, Store};
use std::sync::Arc;
use tonic::{Request, Response, Status};

/// Katib's `DBManager`.
#[derive(Clone)]
pub struct KatibDbManager {
    store: Arc<dyn Store>,
}

impl KatibDbManager {
    pub fn new(store: Arc<dyn Store>) -> Self {
        KatibDbManager { store }
    }
}

fn trial_name(name: &str) -> Result<&str, ServerError> {
    if name.is_empty() {
        Err(ServerError::field("trial_name", "is required"))
    } else {
        Ok(name)
    }
}

/// Refuses every caller but an admin: the logs have no namespace to scope a user to.
fn admin<T>(request: &Request<T>) -> Result<(), Status> {
    match Identity::of(request) {
        Identity::Admin => Ok(()),
        _ => Err(ServerError::Unauthenticated(
            "Katib's DBManager keys its logs by trial name alone, in no namespace: only an \
             admin token may use it"
                .into(),
        )
        .into()),
    }
}

fn stored(e: ferrotune_store::StoreError) -> Status {
    ServerError::Internal(format!("store: {e}")).into()
}

#[tonic::async_trait]
impl pb::db_manager_server::DbManager for KatibDbManager {
    async fn report_observation_log(
        &self,
        request: Request<pb::ReportObservationLogRequest>,
    ) -> Result<Response<pb::ReportObservationLogReply>, Status> {
        admin(&request)?;
        let r = request.into_inner();
        let name = trial_name(&r.trial_name)?;
        let entries: Vec<KatibLogEntry> = log_entries(r.observation_log.as_ref())
            .map_err(ServerError::from)?
            .into_iter()
            .map(|(metric, time, value)| KatibLogEntry {
                metric,
                time,
                value,
            })
            .collect();
        self.store
            .report_katib_log(name, &entries)
            .await
            .map_err(stored)?;
        Ok(Response::new(pb::ReportObservationLogReply {}))
    }

    async fn get_observation_log(
        &self,
        request: Request<pb::GetObservationLogRequest>,
    ) -> Result<Response<pb::GetObservationLogReply>, Status> {
        admin(&request)?;
        let r = request.into_inner();
        let name = trial_name(&r.trial_name)?;
        let start = optional_time(&r.start_time, "start_time").map_err(ServerError::from)?;
        let end = optional_time(&r.end_time, "end_time").map_err(ServerError::from)?;
        let metric = (!r.metric_name.is_empty()).then_some(r.metric_name.as_str());
        let entries = self
            .store
            .katib_log(name, metric, start, end)
            .await
            .map_err(stored)?;
        Ok(Response::new(pb::GetObservationLogReply {
            observation_log: Some(observation_log(
                entries
                    .into_iter()
                    .map(|e| (e.metric, e.time, e.value))
                    .collect(),
            )),
        }))
    }

    async fn delete_observation_log(
        &self,
        request: Request<pb::DeleteObservationLogRequest>,
    ) -> Result<Response<pb::DeleteObservationLogReply>, Status> {
        admin(&request)?;
        let r = request.into_inner();
        let name = trial_name(&r.trial_name)?;
        self.store.delete_katib_log(name).await.map_err(stored)?;
        Ok(Response::new(pb::DeleteObservationLogReply {}))
    }
}
