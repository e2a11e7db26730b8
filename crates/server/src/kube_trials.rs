//! Katib Trial objects on a Kubernetes API server: what Katib's `SetTrialStatus` changes.
//! Katib's metrics collector calls it when an early-stopping rule gives up on a trial, and
//! Katib's trial controller then ends the trial's job; without a Kubernetes client the call
//! cannot be answered, so the server asks for one with `--kube`.

use crate::error::ServerError;
use kube::api::{Api, ApiResource, DynamicObject, Patch, PatchParams};
use serde_json::{Value, json};

/// Katib's Trial resource (`kubeflow.org/v1beta1`, plural `trials`).
pub fn trial_resource() -> ApiResource {
    ApiResource {
        group: "kubeflow.org".into(),
        version: "v1beta1".into(),
        api_version: "kubeflow.org/v1beta1".into(),
        kind: "Trial".into(),
        plural: "trials".into(),
    }
}

/// The condition Katib's early-stopping services append to a stopped trial's status.
const EARLY_STOPPED: &str = "EarlyStopped";

/// A Kubernetes client and the namespace whose Trials it changes: as Katib's early-stopping
/// service, which runs in its experiment's namespace and finds trials there by name.
#[derive(Clone)]
pub struct KubeAccess {
    client: kube::Client,
    namespace: String,
}

impl std::fmt::Debug for KubeAccess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KubeAccess")
            .field("namespace", &self.namespace)
            .finish_non_exhaustive()
    }
}

impl KubeAccess {
    /// The client of `KUBECONFIG` (or `~/.kube/config`, or the pod's service account), in
    /// `namespace` or else the configuration's own (a pod's: its namespace).
    pub async fn infer(namespace: Option<String>) -> Result<Self, ServerError> {
        let client = kube::Client::try_default().await.map_err(|e| {
            ServerError::FailedPrecondition(format!(
                "--kube: no Kubernetes configuration (KUBECONFIG, ~/.kube/config or a pod's \
                 service account) could be used: {e}"
            ))
        })?;
        Ok(Self::new(client, namespace))
    }

    /// `client` in `namespace`, or else in the client's default namespace.
    pub fn new(client: kube::Client, namespace: Option<String>) -> Self {
        let namespace = namespace.unwrap_or_else(|| client.default_namespace().to_string());
        KubeAccess { client, namespace }
    }

    /// The namespace whose Trials this changes.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// Appends Katib's `EarlyStopped` condition to the Trial's status, as Katib's
    /// `SetTrialStatus` does; a Trial that already has it is left as it is (a repeated call
    /// changes nothing). Whether the status changed.
    pub async fn mark_early_stopped(&self, trial: &str) -> Result<bool, ServerError> {
        let api: Api<DynamicObject> =
            Api::namespaced_with(self.client.clone(), &self.namespace, &trial_resource());
        let found = api
            .get_opt(trial)
            .await
            .map_err(|e| self.api_error(trial, e))?
            .ok_or_else(|| {
                ServerError::NotFound(format!(
                    "trial_name: no Katib Trial {trial:?} in namespace {:?}",
                    self.namespace
                ))
            })?;
        let mut conditions: Vec<Value> = found
            .data
            .get("status")
            .and_then(|s| s.get("conditions"))
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        if conditions
            .iter()
            .any(|c| c["type"] == EARLY_STOPPED && c["status"] == "True")
        {
            return Ok(false);
        }
        let now = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
        conditions.push(json!({
            "type": EARLY_STOPPED,
            "status": "True",
            "reason": "TrialEarlyStopped",
            "message": "Trial is early stopped",
            "lastUpdateTime": now,
            "lastTransitionTime": now,
        }));
        // The resourceVersion read makes the patch conditional: a Trial changed in between
        // answers a conflict rather than losing that change.
        let patch = json!({
            "metadata": {"resourceVersion": found.metadata.resource_version},
            "status": {"conditions": conditions},
        });
        api.patch_status(trial, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .map_err(|e| self.api_error(trial, e))?;
        Ok(true)
    }

    fn api_error(&self, trial: &str, e: kube::Error) -> ServerError {
        let what = format!("Katib Trial {trial:?} in namespace {:?}", self.namespace);
        match &e {
            kube::Error::Api(s) if s.code == 404 => ServerError::NotFound(format!(
                "trial_name: no {what} (is Katib's Trial resource installed?): {e}"
            )),
            kube::Error::Api(s) if s.code == 401 || s.code == 403 => {
                ServerError::FailedPrecondition(format!(
                    "the Kubernetes API refused access to the {what}: {e}"
                ))
            }
            kube::Error::Api(s) if s.code == 409 => ServerError::Unavailable(format!(
                "the {what} changed while its status was written; retry: {e}"
            )),
            _ => ServerError::Unavailable(format!(
                "the Kubernetes API did not answer for the {what}: {e}"
            )),
        }
    }
}
