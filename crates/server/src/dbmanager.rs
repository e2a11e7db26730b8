//! Katib's `DBManager` service on ferrotune's store: Katib's metrics collectors report
//! observation logs here and its early-stopping services read them back, so a Katib
//! installation can keep its metrics in ferrotune's database.

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

fn stored(e: ferrotune_store::StoreError) -> Status {
    ServerError::Internal(format!("store: {e}")).into()
}

#[tonic::async_trait]
impl pb::db_manager_server::DbManager for KatibDbManager {
    async fn report_observation_log(
        &self,
        request: Request<pb::ReportObservationLogRequest>,
    ) -> Result<Response<pb::ReportObservationLogReply>, Status> {
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
        let r = request.into_inner();
        let name = trial_name(&r.trial_name)?;
        self.store.delete_katib_log(name).await.map_err(stored)?;
        Ok(Response::new(pb::DeleteObservationLogReply {}))
    }
}
