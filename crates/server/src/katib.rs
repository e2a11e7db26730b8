//! Katib's Suggestion and EarlyStopping services, so that Katib's own controller can use
//! ferrotune's algorithms: each request carries the experiment and its whole trial history,
//! and ferrotune answers from them alone (stateless, like Katib's services: an algorithm
//! kept from an experiment's previous call only saves time), in milliseconds where Katib's
//! Python services take seconds.

use crate::error::ServerError;
use ferrotune_algorithms::stopping::katib_median_stop;
use ferrotune_algorithms::{AlgorithmContext, Suggester, Suggestions, build, seed_from_settings};
use ferrotune_api::convert::ConvertError;
use ferrotune_api::convert::wire::{
    GetSuggestionsCall, GetSuggestionsCodec, KeptViews, WireSuggestionsRequest,
};
use ferrotune_api::convert::{
    STATE_SETTING, assignments_reply, early_stopping_doc, saved_state, spec_doc,
    stopping_comparison, take_trial_views,
};
use ferrotune_api::katib as pb;
use ferrotune_api::katib::db_manager_client::DbManagerClient;
use ferrotune_api::katib::suggestion_server::SuggestionServer;
use ferrotune_controller::validate_search_spec;
use ferrotune_core::validate::SearchPart;
use ferrotune_core::{NewTrial, SearchSpace, TrialStatus, TrialView};
use std::sync::Mutex;
use tonic::codegen::{Body, BoxFuture, Context, Poll, Service, StdError, http};
use tonic::{Request, Response, Status};

/// Katib's `Suggestion` service.
#[derive(Debug, Default, Clone)]
pub struct KatibSuggestion;

/// Katib's `EarlyStopping` service; `SetTrialStatus` needs Kubernetes access (`--kube`).
#[derive(Debug, Default, Clone)]
pub struct KatibEarlyStopping {
    pub kube: Option<crate::kube_trials::KubeAccess>,
}

fn search_part(
    experiment: Option<&pb::Experiment>,
) -> Result<(SearchPart, &pb::ExperimentSpec), ServerError> {
    let spec = experiment
        .ok_or_else(|| ServerError::field("experiment", "is required"))?
        .spec
        .as_ref()
        .ok_or_else(|| ServerError::field("experiment.spec", "is required"))?;
    let part = validate_search_spec(&spec_doc(spec)).map_err(ServerError::Invalid)?;
    Ok((part, spec))
}

/// A stable seed from the experiment's name when `random_state` does not give one, so
/// that every call of the same experiment draws from the same sequence.
fn name_seed(name: &str) -> u64 {
    // FNV-1a: stable across processes and versions, unlike std's hasher.
    name.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// The algorithms of the latest 64 experiments, kept between calls when they are
/// [`reusable`](ferrotune_algorithms::Suggester::reusable): Katib sends an experiment's whole
/// history with every call, and such an algorithm (TPE) reuses what it worked out for the
/// previous one (sorted bandwidths, kernel masses, encoded trials) after checking it. Each
/// call's answer is the one a new instance gives, so the service stays stateless as far as
/// anyone can tell.
static KEPT: Kept<AlgorithmContext, Box<dyn Suggester>> = Kept::new(64);

/// The trials' views of the latest 16 experiments' last requests (read in place, at most
/// [`MAX_KEPT_REQUEST`] bytes), so that the next call converts only the trials whose bytes
/// changed (Katib sends all of them every time): for 1,000 trials, converting them took
/// more of a call than a `random` or `multivariate-tpe` suggestion. Kept by the space and
/// the objective metric they were converted for.
static KEPT_VIEWS: Kept<(SearchSpace, String), KeptViews> = Kept::new(16);

/// The largest request whose views are kept (they hold on to its bytes): some 30,000 trials.
const MAX_KEPT_REQUEST: usize = 8 << 20;

/// Things by experiment name and what they were made from, the latest last, at most
/// `limit` of them.
struct Kept<K, T> {
    limit: usize,
    kept: Mutex<Vec<(String, K, T)>>,
}

impl<K: PartialEq, T> Kept<K, T> {
    const fn new(limit: usize) -> Self {
        Kept {
            limit,
            kept: Mutex::new(Vec::new()),
        }
    }

    /// What is kept for `name` if it was made from `from` (removed: a concurrent call for
    /// the same experiment makes its own).
    fn take(&self, name: &str, from: &K) -> Option<T> {
        let mut kept = crate::lock(&self.kept);
        let i = kept.iter().position(|(n, k, _)| n == name && k == from)?;
        Some(kept.remove(i).2)
    }

    /// What is kept for `name`, and what it was made from (removed).
    fn take_named(&self, name: &str) -> Option<(K, T)> {
        let mut kept = crate::lock(&self.kept);
        let i = kept.iter().position(|(n, _, _)| n == name)?;
        let (_, from, x) = kept.remove(i);
        Some((from, x))
    }

    /// Keeps `x` for `name`, forgetting the least recently kept beyond the limit. What is
    /// forgotten (a whole history, for 1,000 trials some 20,000 strings) is freed after the
    /// reply, not before it.
    fn put(&self, name: &str, from: K, x: T)
    where
        K: Send + 'static,
        T: Send + 'static,
    {
        let mut kept = crate::lock(&self.kept);
        let mut forgotten = Vec::new();
        if let Some(i) = kept.iter().position(|(n, _, _)| n == name) {
            forgotten.push(kept.remove(i));
        }
        if kept.len() >= self.limit {
            forgotten.push(kept.remove(0));
        }
        kept.push((name.to_string(), from, x));
        drop(kept);
        if !forgotten.is_empty() {
            drop_later(forgotten);
        }
    }
}

/// Drops `x` on a blocking thread when there is a runtime, so that freeing a large request
/// (some 20,000 strings for 1,000 trials) is not part of the reply's latency.
fn drop_later<T: Send + 'static>(x: T) {
    match tokio::runtime::Handle::try_current() {
        Ok(runtime) => drop(runtime.spawn_blocking(move || drop(x))),
        Err(_) => drop(x),
    }
}

/// The whole GetSuggestions computation, on a blocking thread. The strings the history
/// keeps are taken out of `r`'s trials rather than copied.
pub fn suggest(r: &mut pb::GetSuggestionsRequest) -> Result<pb::GetSuggestionsReply, ServerError> {
    let pb::GetSuggestionsRequest {
        experiment,
        trials,
        current_request_number,
        ..
    } = r;
    let (reply, history) = suggest_from(
        experiment.as_ref(),
        *current_request_number,
        |space, metric| take_trial_views(trials, space, metric),
    )?;
    drop_later(history);
    Ok(reply)
}

/// The same for a request read in place: the same reply, or the same error. The insides
/// of the trials kept from the experiment's last call ([`KEPT_VIEWS`]) with the same bytes
/// are not read again, and the trials' views are kept for the next call.
pub fn suggest_in_place(
    r: &mut WireSuggestionsRequest,
) -> Result<pb::GetSuggestionsReply, ServerError> {
    let name = r
        .request
        .experiment
        .as_ref()
        .map(|e| e.name.clone())
        .unwrap_or_default();
    let keep = r.size() <= MAX_KEPT_REQUEST;
    let mut kept = if keep {
        KEPT_VIEWS.take_named(&name)
    } else {
        None
    };
    if r.read_trials(kept.as_ref().map(|(_, k)| k)).is_none() {
        // Left to prost, whose answer is the reference (an error, as from the decoder).
        drop_later(kept);
        return match prost::Message::decode(r.bytes().clone()) {
            Ok(mut decoded) => suggest(&mut decoded),
            Err(e) => Err(ServerError::Decode(e)),
        };
    }
    let r = &*r;
    let mut made_for = None;
    let (reply, history) = suggest_from(
        r.request.experiment.as_ref(),
        r.request.current_request_number,
        |space, metric| {
            if !keep {
                return r.trial_views(space, metric);
            }
            let from = (space.clone(), metric.to_string());
            let views = match kept.take() {
                Some((made, mut views)) if made == from => {
                    let reused = r.trial_views_reusing(space, metric, &mut views);
                    drop_later(views);
                    reused
                }
                other => {
                    drop_later(other);
                    r.trial_views(space, metric)
                }
            };
            made_for = Some(from);
            views
        },
    )?;
    match made_for {
        Some(from) => KEPT_VIEWS.put(&name, from, r.keep_views(history)),
        None => drop_later(history),
    }
    Ok(reply)
}

/// The computation, whichever way the request was read; `history` converts its trials once
/// the spec has been checked (so a bad spec is reported before a bad trial). The history
/// comes back with the reply, for the caller to keep or drop.
fn suggest_from(
    experiment: Option<&pb::Experiment>,
    current_request_number: i32,
    history: impl FnOnce(&SearchSpace, &str) -> Result<Vec<TrialView>, ConvertError>,
) -> Result<(pb::GetSuggestionsReply, Vec<TrialView>), ServerError> {
    let (part, spec) = search_part(experiment)?;
    let n = usize::try_from(current_request_number).map_err(|_| {
        ServerError::field(
            "current_request_number",
            format!("{current_request_number} must not be negative"),
        )
    })?;
    let history = history(&part.space, &part.objective.metric)?;
    let name = experiment.map_or("", |e| e.name.as_str());
    let seed = seed_from_settings(&part.algorithm.settings).unwrap_or_else(|| name_seed(name));
    let context = AlgorithmContext {
        algorithm: part.algorithm.name.clone(),
        space: part.space.clone(),
        objectives: part.objective.directions(),
        seed,
        settings: part.algorithm.settings.clone(),
    };
    let state = saved_state(spec);
    let kept = if state.is_none() {
        KEPT.take(name, &context)
    } else {
        None
    };
    let mut algorithm = match kept {
        Some(a) => a,
        None => build(context.clone())?,
    };
    if let Some(state) = state {
        let value = serde_json::from_str(state).map_err(|e| {
            ServerError::field(
                &format!("experiment.spec.algorithm.algorithm_settings[{STATE_SETTING}]"),
                format!("is not the state ferrotune saved: {e}"),
            )
        })?;
        algorithm.restore(value)?;
    }
    let trials: Vec<NewTrial> = if n == 0 {
        Vec::new()
    } else {
        match algorithm.suggest(&history, n)? {
            Suggestions::Assignments(a) => a.into_iter().map(NewTrial::from).collect(),
            Suggestions::Trials(t) => t,
            // Katib asks again when it needs more; an empty answer is how its services say
            // "nothing now" (grid's end included).
            Suggestions::Wait | Suggestions::Exhausted => Vec::new(),
        }
    };
    // A stateful algorithm's state goes back to Katib, which stores the settings a reply
    // returns and sends them with the next request.
    let algorithm_spec = algorithm.state().map(|state| {
        let mut settings: Vec<pb::AlgorithmSetting> = spec
            .algorithm
            .as_ref()
            .map(|a| {
                a.algorithm_settings
                    .iter()
                    .filter(|s| s.name != STATE_SETTING)
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        settings.push(pb::AlgorithmSetting {
            name: STATE_SETTING.to_string(),
            value: state.to_string(),
        });
        pb::AlgorithmSpec {
            algorithm_name: part.algorithm.name.clone(),
            algorithm_settings: settings,
        }
    });
    if algorithm_spec.is_none() && algorithm.reusable() {
        KEPT.put(name, context, algorithm);
    }
    let reply = pb::GetSuggestionsReply {
        parameter_assignments: assignments_reply(trials),
        algorithm: algorithm_spec,
        early_stopping_rules: Vec::new(),
    };
    Ok((reply, history))
}

/// Runs CPU work off the async threads, so one long suggestion never stalls other calls.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ServerError> + Send + 'static,
) -> Result<T, Status> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Status::internal(format!("the computation failed: {e}")))?
        .map_err(Status::from)
}

/// Runs `f` where the call arrived, on a runtime with several workers (the others take
/// over its tasks meanwhile, `block_in_place`): the request just read is still in this
/// core's cache, and no other thread has to be woken and waited for (see RESULTS.md,
/// "Katib GetSuggestions latency"). A panic is an INTERNAL status, as from [`blocking`].
/// On a single-threaded runtime, [`blocking`].
async fn in_place<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ServerError> + Send + 'static,
) -> Result<T, Status> {
    use tokio::runtime::{Handle, RuntimeFlavor};
    if Handle::current().runtime_flavor() != RuntimeFlavor::MultiThread {
        return blocking(f).await;
    }
    tokio::task::block_in_place(|| std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)))
        .map_err(|_| Status::internal("the computation failed: it panicked"))?
        .map_err(Status::from)
}

/// Answers a GetSuggestions call. Freeing a request prost decoded (some 20,000 strings for
/// 1,000 trials) is left to a blocking thread.
async fn get_suggestions(
    request: Request<GetSuggestionsCall>,
) -> Result<Response<pb::GetSuggestionsReply>, Status> {
    let mut call = request.into_inner();
    let started = std::time::Instant::now();
    let reply = in_place(move || {
        let reply = match &mut call {
            GetSuggestionsCall::InPlace(r) => suggest_in_place(r),
            GetSuggestionsCall::Decoded(r) => suggest(r),
        };
        drop_later(call);
        reply
    })
    .await?;
    tracing::debug!(
        n = reply.parameter_assignments.len(),
        ms = started.elapsed().as_secs_f64() * 1e3,
        "GetSuggestions"
    );
    Ok(Response::new(reply))
}

#[tonic::async_trait]
impl pb::suggestion_server::Suggestion for KatibSuggestion {
    async fn get_suggestions(
        &self,
        request: Request<pb::GetSuggestionsRequest>,
    ) -> Result<Response<pb::GetSuggestionsReply>, Status> {
        get_suggestions(request.map(GetSuggestionsCall::Decoded)).await
    }

    async fn validate_algorithm_settings(
        &self,
        request: Request<pb::ValidateAlgorithmSettingsRequest>,
    ) -> Result<Response<pb::ValidateAlgorithmSettingsReply>, Status> {
        let r = request.into_inner();
        search_part(r.experiment.as_ref()).map_err(Status::from)?;
        Ok(Response::new(pb::ValidateAlgorithmSettingsReply {}))
    }
}

const GET_SUGGESTIONS: &str = "/api.v1.beta1.Suggestion/GetSuggestions";

/// Katib's `Suggestion` service as the server serves it: the generated service, except that
/// `GetSuggestions` requests are read in place ([`GetSuggestionsCodec`]) rather than
/// decoded into some 20 strings and vectors a trial, which took most of a 1,000-trial
/// call's latency. Same wire format, size limit, statuses and errors.
#[derive(Debug, Clone)]
pub struct SuggestionService {
    generated: SuggestionServer<KatibSuggestion>,
    max_decoding_message_size: Option<usize>,
}

impl SuggestionService {
    pub fn new(inner: KatibSuggestion) -> Self {
        SuggestionService {
            generated: SuggestionServer::new(inner),
            max_decoding_message_size: None,
        }
    }

    /// Limits the size of a decoded request, for every method (tonic's default is 4 MiB).
    #[must_use]
    pub fn max_decoding_message_size(mut self, limit: usize) -> Self {
        self.generated = self.generated.max_decoding_message_size(limit);
        self.max_decoding_message_size = Some(limit);
        self
    }
}

impl tonic::server::NamedService for SuggestionService {
    const NAME: &'static str = pb::suggestion_server::SERVICE_NAME;
}

/// `GetSuggestions` as tonic's unary service over [`GetSuggestionsCall`]s.
struct GetSuggestionsMethod;

impl tonic::server::UnaryService<GetSuggestionsCall> for GetSuggestionsMethod {
    type Response = pb::GetSuggestionsReply;
    type Future = BoxFuture<Response<pb::GetSuggestionsReply>, Status>;

    fn call(&mut self, request: Request<GetSuggestionsCall>) -> Self::Future {
        Box::pin(get_suggestions(request))
    }
}

impl<B> Service<http::Request<B>> for SuggestionService
where
    B: Body + Send + 'static,
    B::Error: Into<StdError> + Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = std::convert::Infallible;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Service::<http::Request<B>>::poll_ready(&mut self.generated, cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        if request.uri().path() != GET_SUGGESTIONS {
            return self.generated.call(request);
        }
        let limit = self.max_decoding_message_size;
        Box::pin(async move {
            // As the generated service sets up the call: no compression, the size limit.
            let mut grpc = tonic::server::Grpc::new(GetSuggestionsCodec)
                .apply_compression_config(Default::default(), Default::default())
                .apply_max_message_size_config(limit, None);
            Ok(grpc.unary(GetSuggestionsMethod, request).await)
        })
    }
}

/// The rule's name and settings, validated; only `medianstop` has Katib's static-threshold
/// form.
fn median_rule(
    e: Option<&pb::EarlyStoppingSpec>,
    path: &str,
    objective: ferrotune_core::ObjectiveType,
) -> Result<ferrotune_algorithms::stopping::MedianStop, ServerError> {
    let e = e.ok_or_else(|| ServerError::field(path, "is required"))?;
    let doc = early_stopping_doc(e);
    let name = doc.algorithm_name.unwrap_or_default();
    let settings: Vec<(String, String)> = doc
        .algorithm_settings
        .into_iter()
        .map(|s| (s.name, s.value.0))
        .collect();
    let errors = ferrotune_algorithms::stopping::validate_rule(&name, &settings);
    if !errors.is_empty() {
        return Err(ServerError::Invalid(errors));
    }
    katib_median_stop(&name, &settings, objective)?.ok_or_else(|| {
        ServerError::field(
            &format!("{path}.algorithm_name"),
            format!(
                "{name:?} runs in ferrotune's own controller; Katib's EarlyStopping API carries \
                 a static threshold rule, which only medianstop gives"
            ),
        )
    })
}

#[tonic::async_trait]
impl pb::early_stopping_server::EarlyStopping for KatibEarlyStopping {
    async fn get_early_stopping_rules(
        &self,
        request: Request<pb::GetEarlyStoppingRulesRequest>,
    ) -> Result<Response<pb::GetEarlyStoppingRulesReply>, Status> {
        let mut r = request.into_inner();
        let (part, spec) = search_part(r.experiment.as_ref()).map_err(Status::from)?;
        let direction = part.objective.type_;
        let rule = median_rule(
            spec.early_stopping.as_ref(),
            "experiment.spec.early_stopping",
            direction,
        )
        .map_err(Status::from)?;
        let metric = part.objective.metric.clone();
        let mut history = take_trial_views(&mut r.trials, &part.space, &metric)
            .map_err(|e| Status::from(ServerError::from(e)))?;
        // Katib keeps observation logs in its DB manager; the completed trials' curves come
        // from there, as Katib's own medianstop service fetches them.
        let completed: Vec<usize> = (0..history.len())
            .filter(|&i| history[i].status == TrialStatus::Succeeded)
            .collect();
        if !completed.is_empty() {
            if r.db_manager_address.is_empty() {
                return Err(ServerError::field(
                    "db_manager_address",
                    "is required to read the completed trials' observation logs",
                )
                .into());
            }
            let address = if r.db_manager_address.contains("://") {
                r.db_manager_address.clone()
            } else {
                format!("http://{}", r.db_manager_address)
            };
            let mut db = DbManagerClient::connect(address.clone())
                .await
                .map_err(|e| {
                    Status::from(ServerError::Unavailable(format!(
                        "Katib's DB manager at {address}: {e}"
                    )))
                })?;
            for i in completed {
                let log = db
                    .get_observation_log(pb::GetObservationLogRequest {
                        trial_name: history[i].name.clone(),
                        metric_name: metric.clone(),
                        start_time: String::new(),
                        end_time: String::new(),
                    })
                    .await?
                    .into_inner();
                history[i].intermediate = log
                    .observation_log
                    .map(|l| l.metric_logs)
                    .unwrap_or_default()
                    .iter()
                    .filter_map(|m| m.metric.as_ref())
                    .filter(|m| m.name == metric)
                    .filter_map(|m| m.value.trim().parse::<f64>().ok())
                    .enumerate()
                    .map(|(step, v)| (step as i64, v))
                    .collect();
            }
        }
        let rules = rule
            .threshold(&history)
            .map(|value| pb::EarlyStoppingRule {
                name: metric,
                value: value.to_string(),
                comparison: stopping_comparison(direction) as i32,
                start_step: rule.settings().start_step as i32,
            })
            .into_iter()
            .collect();
        Ok(Response::new(pb::GetEarlyStoppingRulesReply {
            early_stopping_rules: rules,
        }))
    }

    /// Marks the Katib Trial EarlyStopped in the Kubernetes namespace of `--kube`.
    async fn set_trial_status(
        &self,
        request: Request<pb::SetTrialStatusRequest>,
    ) -> Result<Response<pb::SetTrialStatusReply>, Status> {
        let trial = request.into_inner().trial_name;
        if trial.is_empty() {
            return Err(ServerError::field("trial_name", "must name a Katib Trial").into());
        }
        let Some(kube) = &self.kube else {
            return Err(ServerError::FailedPrecondition(
                "SetTrialStatus marks a Katib Trial object EarlyStopped through the Kubernetes \
                 API: start the server with --kube (and KUBECONFIG, or in a pod) to allow it"
                    .into(),
            )
            .into());
        };
        let changed = kube.mark_early_stopped(&trial).await?;
        tracing::info!(
            trial,
            namespace = kube.namespace(),
            changed,
            "SetTrialStatus: EarlyStopped"
        );
        Ok(Response::new(pb::SetTrialStatusReply {}))
    }

    async fn validate_early_stopping_settings(
        &self,
        request: Request<pb::ValidateEarlyStoppingSettingsRequest>,
    ) -> Result<Response<pb::ValidateEarlyStoppingSettingsReply>, Status> {
        let r = request.into_inner();
        median_rule(
            r.early_stopping.as_ref(),
            "early_stopping",
            ferrotune_core::ObjectiveType::Minimize,
        )
        .map_err(Status::from)?;
        Ok(Response::new(pb::ValidateEarlyStoppingSettingsReply {}))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_seeds_are_stable() {
        assert_eq!(name_seed(""), 0xcbf2_9ce4_8422_2325);
        assert_ne!(name_seed("a"), name_seed("b"));
        assert_eq!(name_seed("exp"), name_seed("exp"));
    }

    #[test]
    fn kept_algorithms_are_found_by_name_and_context_and_the_oldest_go() {
        let kept = Kept::new(64);
        let context = |seed| AlgorithmContext {
            algorithm: "random".into(),
            space: SearchSpace {
                parameters: Vec::new(),
            },
            objectives: Vec::new(),
            seed,
            settings: Vec::new(),
        };
        let random = |seed| -> Box<dyn Suggester> {
            Box::new(ferrotune_algorithms::RandomSearch::new(context(seed).space, seed).unwrap())
        };
        kept.put("a", context(1), random(1));
        // Another context (here the seed) is another algorithm.
        assert!(kept.take("a", &context(2)).is_none());
        assert!(kept.take("b", &context(1)).is_none());
        assert!(kept.take("a", &context(1)).is_some());
        // Taken means gone, until put back.
        assert!(kept.take("a", &context(1)).is_none());
        for i in 0..65 {
            kept.put(&format!("e{i}"), context(1), random(1));
        }
        assert!(kept.take("e0", &context(1)).is_none(), "the oldest went");
        assert!(kept.take("e1", &context(1)).is_some());
        assert!(kept.take("e64", &context(1)).is_some());
        // One entry per name: the latest.
        kept.put("x", context(1), random(1));
        kept.put("x", context(2), random(2));
        assert!(kept.take("x", &context(1)).is_none());
        assert!(kept.take("x", &context(2)).is_some());
    }
}
