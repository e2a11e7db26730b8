//! Where trials push their metrics. The gRPC `ReportService` hands each report to a
//! [`ReportHub`], which routes it to the controller running the trial through the same
//! channel the runner's own collectors (StdOut, File) use, so pushed and parsed metrics
//! take one ingestion path.

use crate::runner::RunnerEvent;
use chrono::{DateTime, Utc};
use ferrotune_core::Observation;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;

/// How a trial reaches the hub: put into its environment as `FERROTUNE_ENDPOINT` and
/// `FERROTUNE_TOKEN`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportAccess {
    pub endpoint: String,
    pub token: String,
    /// Certificates to trust for an `https://` endpoint (`FERROTUNE_CA_FILE`).
    pub ca_file: Option<String>,
}

/// One report: some metrics at one step.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// `None`: each metric's report index.
    pub step: Option<i64>,
    pub metrics: Vec<(String, f64)>,
    /// `None`: when it arrived.
    pub timestamp: Option<DateTime<Utc>>,
}

/// Who is asking, as the server's authentication established it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caller<'a> {
    /// No tokens are configured, or an admin token.
    Admin,
    /// A user token for one namespace.
    Namespace(&'a str),
    /// A token the caller presents as a trial's own.
    Trial(&'a str),
}

/// Why a report was not taken. Unknown trials and trials the caller may not see give the
/// same answer, so that nothing is learnt about other namespaces.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IngestError {
    #[error("trial {0:?} is not running here")]
    NotRunning(String),
    /// Only an admin can meet this: other callers look in their own namespace only.
    #[error(
        "trial {0:?} runs in several namespaces; name the trial's namespace (the SDKs send \
         FERROTUNE_NAMESPACE)"
    )]
    Ambiguous(String),
    #[error("report {index}: metric {metric:?}: {problem}")]
    Invalid {
        index: usize,
        metric: String,
        problem: String,
    },
    /// The trial's controller has more observations waiting to be stored than the hub's
    /// limit: the reporter should retry later (the SDKs do), so a reporter faster than the
    /// database cannot grow the server's memory without bound.
    #[error("{queued} observations wait to be stored for this experiment; retry shortly")]
    Busy { queued: usize },
}

/// Observations a controller may have waiting (sent, not yet taken) before its trials'
/// reports are refused as [`IngestError::Busy`]: about 100 MB.
pub const DEFAULT_QUEUE_LIMIT: usize = 1_000_000;

/// Running trials by name, then by namespace (trial names are unique within a namespace,
/// and a report that names none is looked up by its name alone).
type Routes = HashMap<String, HashMap<String, Route>>;

struct Route {
    attempt: i64,
    token: String,
    /// Only these metrics are collected (the objective and additional metrics).
    wanted: HashSet<String>,
    counts: HashMap<String, i64>,
    events: mpsc::UnboundedSender<RunnerEvent>,
    /// Observations sent to the controller and not yet taken by it (shared by its trials).
    queued: Option<Arc<AtomicUsize>>,
    stop: Option<String>,
}

/// Routes pushed reports to the controllers running their trials. Cheap to clone.
#[derive(Clone)]
pub struct ReportHub {
    endpoint: Arc<Mutex<String>>,
    ca_file: Option<String>,
    queue_limit: usize,
    routes: Arc<Mutex<Routes>>,
    /// Every controller's count of observations waiting (see [`open_metered`]), so that the
    /// server can report the total; a controller that has ended drops its count.
    ///
    /// [`open_metered`]: ReportHub::open_metered
    queues: Arc<Mutex<Vec<std::sync::Weak<AtomicUsize>>>>,
    drivers: crate::drivers::DriverHub,
}

impl std::fmt::Debug for ReportHub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReportHub")
            .field("endpoint", &self.endpoint())
            .finish_non_exhaustive()
    }
}

/// A fresh random token: 128 bits as hex.
pub fn new_token() -> String {
    let mut b = [0u8; 16];
    // The OS's generator does not fail on Linux; were it to, the token is still unique
    // per process start and trial, which the time mixes in.
    if getrandom::fill(&mut b).is_err() {
        let t = Utc::now().timestamp_nanos_opt().unwrap_or_default() as u128;
        b = (t ^ ((std::process::id() as u128) << 64)).to_le_bytes();
    }
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Compares tokens in time that does not depend on where they differ.
pub fn same_token(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

impl ReportHub {
    /// A hub whose trials are told to report to `endpoint` (`host:port`, or a URL).
    pub fn new(endpoint: impl Into<String>) -> Self {
        ReportHub {
            endpoint: Arc::new(Mutex::new(endpoint.into())),
            ca_file: None,
            queue_limit: DEFAULT_QUEUE_LIMIT,
            routes: Arc::new(Mutex::new(HashMap::new())),
            queues: Default::default(),
            drivers: Default::default(),
        }
    }

    /// Where remote drivers (the Ray runner's tasks mode) connect back to this process.
    pub fn drivers(&self) -> &crate::drivers::DriverHub {
        &self.drivers
    }

    /// Sets how many observations a controller may have waiting before reports are
    /// refused as busy (see [`ReportHub::open_metered`]).
    pub fn with_queue_limit(mut self, limit: usize) -> Self {
        self.queue_limit = limit;
        self
    }

    /// Trials trust the certificates in this file for an `https://` endpoint (a server with
    /// a self-signed certificate gives its own).
    pub fn with_ca_file(mut self, ca_file: impl Into<String>) -> Self {
        self.ca_file = Some(ca_file.into());
        self
    }

    /// The address trials are given.
    pub fn endpoint(&self) -> String {
        self.endpoint.lock().map(|e| e.clone()).unwrap_or_default()
    }

    /// Changes the address trials are given (once the listener's port is known).
    pub fn set_endpoint(&self, endpoint: impl Into<String>) {
        if let Ok(mut e) = self.endpoint.lock() {
            *e = endpoint.into();
        }
    }

    fn routes(&self) -> std::sync::MutexGuard<'_, Routes> {
        // A panic while holding the lock cannot leave a route half-written (every update is
        // one insert or remove), so a poisoned lock is still usable.
        self.routes.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Opens the route for one attempt of a trial; its reports go to `events`.
    pub fn open(
        &self,
        namespace: &str,
        trial: &str,
        attempt: i64,
        wanted: &[String],
        events: mpsc::UnboundedSender<RunnerEvent>,
    ) -> ReportAccess {
        self.open_route(namespace, trial, attempt, wanted, events, None)
    }

    /// As [`open`](Self::open), counting into `queued` the observations sent and not yet
    /// taken: the receiver subtracts what it takes ([`taken`]); past the hub's limit, reports
    /// are refused as busy.
    pub fn open_metered(
        &self,
        namespace: &str,
        trial: &str,
        attempt: i64,
        wanted: &[String],
        events: mpsc::UnboundedSender<RunnerEvent>,
        queued: Arc<AtomicUsize>,
    ) -> ReportAccess {
        {
            let mut queues = self.queues.lock().unwrap_or_else(|e| e.into_inner());
            queues.retain(|q| q.strong_count() > 0);
            if !queues
                .iter()
                .any(|q| std::ptr::eq(q.as_ptr(), Arc::as_ptr(&queued)))
            {
                queues.push(Arc::downgrade(&queued));
            }
        }
        self.open_route(namespace, trial, attempt, wanted, events, Some(queued))
    }

    /// Observations received from trials and not yet taken by their controllers, over
    /// every controller of this hub: how far storing lags behind reporting.
    pub fn queued_observations(&self) -> usize {
        let queues = self.queues.lock().unwrap_or_else(|e| e.into_inner());
        queues
            .iter()
            .filter_map(|q| q.upgrade())
            .map(|q| q.load(Ordering::Relaxed))
            .sum()
    }

    /// The most observations one controller may have waiting before reports are refused.
    pub fn queue_limit(&self) -> usize {
        self.queue_limit
    }

    fn open_route(
        &self,
        namespace: &str,
        trial: &str,
        attempt: i64,
        wanted: &[String],
        events: mpsc::UnboundedSender<RunnerEvent>,
        queued: Option<Arc<AtomicUsize>>,
    ) -> ReportAccess {
        let token = new_token();
        self.routes().entry(trial.to_string()).or_default().insert(
            namespace.to_string(),
            Route {
                attempt,
                token: token.clone(),
                wanted: wanted.iter().cloned().collect(),
                counts: HashMap::new(),
                events,
                queued,
                stop: None,
            },
        );
        ReportAccess {
            endpoint: self.endpoint(),
            token,
            ca_file: self.ca_file.clone(),
        }
    }

    /// Gives an attempt's route the token the trial already has (a controller started again
    /// re-attached to it), in place of the one it was opened with.
    pub fn set_token(&self, namespace: &str, trial: &str, attempt: i64, token: &str) {
        if let Some(r) = self
            .routes()
            .get_mut(trial)
            .and_then(|m| m.get_mut(namespace))
            .filter(|r| r.attempt == attempt)
        {
            r.token = token.to_string();
        }
    }

    /// Closes an attempt's route (it ended); later reports are refused.
    pub fn close(&self, namespace: &str, trial: &str, attempt: i64) {
        let mut routes = self.routes();
        if routes
            .get(trial)
            .and_then(|m| m.get(namespace))
            .is_some_and(|r| r.attempt == attempt)
        {
            remove_route(&mut routes, namespace, trial);
        }
    }

    /// Tells a trial, when it next asks, that it should stop, and why.
    pub fn mark_stop(&self, namespace: &str, trial: &str, reason: &str) {
        if let Some(r) = self
            .routes()
            .get_mut(trial)
            .and_then(|m| m.get_mut(namespace))
        {
            r.stop.get_or_insert_with(|| reason.to_string());
        }
    }

    /// Whether `token` is a running trial's own; its namespace and name if so.
    pub fn trial_of_token(&self, token: &str) -> Option<(String, String)> {
        self.routes().iter().find_map(|(trial, m)| {
            m.iter()
                .find(|(_, r)| same_token(&r.token, token))
                .map(|(ns, _)| (ns.clone(), trial.clone()))
        })
    }

    /// The route of `trial` in `namespace`, or, with an empty namespace, the one route of
    /// that name the caller may use. A route the caller may not use is not running, as an
    /// unknown one is.
    fn check<'a>(
        routes: &'a mut Routes,
        namespace: &str,
        trial: &str,
        caller: Caller<'_>,
    ) -> Result<(String, &'a mut Route), IngestError> {
        let not_running = || IngestError::NotRunning(trial.to_string());
        let allowed = |ns: &str, r: &Route| match caller {
            Caller::Admin => true,
            Caller::Namespace(n) => ns == n,
            Caller::Trial(token) => same_token(&r.token, token),
        };
        let by_namespace = routes.get_mut(trial).ok_or_else(not_running)?;
        let ns = if namespace.is_empty() {
            let mut found = by_namespace
                .iter()
                .filter(|(ns, r)| allowed(ns, r))
                .map(|(ns, _)| ns.clone());
            let first = found.next().ok_or_else(not_running)?;
            if found.next().is_some() {
                return Err(IngestError::Ambiguous(trial.to_string()));
            }
            first
        } else {
            namespace.to_string()
        };
        match by_namespace.get_mut(&ns) {
            Some(r) if allowed(&ns, r) => Ok((ns, r)),
            _ => Err(not_running()),
        }
    }

    /// Takes reports for a running trial (in `namespace`; empty: see [`ReportHub::check`]);
    /// returns whether it should stop. Every report is checked before any is taken, so a bad
    /// batch takes nothing.
    pub fn report(
        &self,
        namespace: &str,
        trial: &str,
        caller: Caller<'_>,
        reports: &[Report],
    ) -> Result<bool, IngestError> {
        for (index, r) in reports.iter().enumerate() {
            for (metric, _) in &r.metrics {
                if metric.is_empty() {
                    return Err(IngestError::Invalid {
                        index,
                        metric: metric.clone(),
                        problem: "metric names must not be empty".into(),
                    });
                }
            }
        }
        let mut routes = self.routes();
        let (ns, route) = Self::check(&mut routes, namespace, trial, caller)?;
        let now = Utc::now();
        let mut observations = Vec::new();
        for r in reports {
            for (metric, value) in &r.metrics {
                if !route.wanted.contains(metric) {
                    continue;
                }
                let count = route.counts.entry(metric.clone()).or_insert(0);
                let index = *count;
                *count = count.saturating_add(1);
                observations.push(Observation {
                    metric: metric.clone(),
                    step: r.step.unwrap_or(index),
                    timestamp: r.timestamp.unwrap_or(now),
                    value: *value,
                });
            }
        }
        if let Some(q) = &route.queued {
            let queued = q.load(Ordering::Relaxed);
            if queued.saturating_add(observations.len()) > self.queue_limit && queued > 0 {
                // Nothing taken: the step counters go back, so a retry numbers alike.
                for o in &observations {
                    if let Some(c) = route.counts.get_mut(&o.metric) {
                        *c -= 1;
                    }
                }
                return Err(IngestError::Busy { queued });
            }
        }
        if !observations.is_empty() {
            let n = observations.len();
            let sent = route.events.send(RunnerEvent::Observations {
                trial: trial.to_string(),
                attempt: route.attempt,
                observations,
            });
            if sent.is_err() {
                // Its controller has gone: the trial is no longer running here.
                remove_route(&mut routes, &ns, trial);
                return Err(IngestError::NotRunning(trial.to_string()));
            }
            if let Some(q) = &route.queued {
                q.fetch_add(n, Ordering::Relaxed);
            }
        }
        Ok(route.stop.is_some())
    }

    /// Whether a running trial should stop, and why.
    pub fn should_stop(
        &self,
        namespace: &str,
        trial: &str,
        caller: Caller<'_>,
    ) -> Result<Option<String>, IngestError> {
        let mut routes = self.routes();
        Ok(Self::check(&mut routes, namespace, trial, caller)?
            .1
            .stop
            .clone())
    }
}

/// Removes a trial's route in one namespace, and the trial's entry once it has none left.
fn remove_route(routes: &mut Routes, namespace: &str, trial: &str) {
    if let Some(m) = routes.get_mut(trial) {
        m.remove(namespace);
        if m.is_empty() {
            routes.remove(trial);
        }
    }
}

/// Subtracts `n` taken observations from a metered queue (see [`ReportHub::open_metered`]).
pub fn taken(queued: &AtomicUsize, n: usize) {
    let _ = queued.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |q| {
        Some(q.saturating_sub(n))
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hub_with(
        trial: &str,
    ) -> (
        ReportHub,
        ReportAccess,
        mpsc::UnboundedReceiver<RunnerEvent>,
    ) {
        let hub = ReportHub::new("127.0.0.1:1");
        let (tx, rx) = mpsc::unbounded_channel();
        let access = hub.open("team-a", trial, 2, &["loss".into(), "acc".into()], tx);
        (hub, access, rx)
    }

    fn rep(step: Option<i64>, metrics: &[(&str, f64)]) -> Report {
        Report {
            step,
            metrics: metrics.iter().map(|(m, v)| (m.to_string(), *v)).collect(),
            timestamp: None,
        }
    }

    #[test]
    fn reports_become_observations_numbered_per_metric() {
        let (hub, access, mut rx) = hub_with("e-0001");
        assert_eq!(access.endpoint, "127.0.0.1:1");
        assert_eq!(access.token.len(), 32);
        let reports = [
            rep(None, &[("loss", 0.5), ("other", 1.0)]),
            rep(None, &[("loss", 0.4), ("acc", 0.9)]),
            rep(Some(10), &[("loss", f64::NAN)]),
        ];
        let stop = hub
            .report("", "e-0001", Caller::Trial(&access.token), &reports)
            .unwrap();
        assert!(!stop);
        let Some(RunnerEvent::Observations {
            trial,
            attempt,
            observations,
        }) = rx.try_recv().ok()
        else {
            panic!("no observations");
        };
        assert_eq!((trial.as_str(), attempt), ("e-0001", 2));
        let got: Vec<(&str, i64)> = observations
            .iter()
            .map(|o| (o.metric.as_str(), o.step))
            .collect();
        // "other" is not wanted; steps count each metric's own reports.
        assert_eq!(got, [("loss", 0), ("loss", 1), ("acc", 0), ("loss", 10)]);
        assert!(observations[3].value.is_nan());
    }

    #[test]
    fn only_the_trials_own_token_or_namespace_may_report() {
        let (hub, access, _rx) = hub_with("e-0001");
        let r = [rep(None, &[("loss", 1.0)])];
        let refused = Err(IngestError::NotRunning("e-0001".into()));
        assert_eq!(hub.report("", "e-0001", Caller::Trial("nope"), &r), refused);
        assert_eq!(
            hub.report("", "e-0001", Caller::Namespace("team-b"), &r),
            refused
        );
        assert_eq!(
            hub.report("", "e-0002", Caller::Admin, &r),
            Err(IngestError::NotRunning("e-0002".into()))
        );
        assert!(
            hub.report("", "e-0001", Caller::Namespace("team-a"), &r)
                .is_ok()
        );
        assert!(hub.report("", "e-0001", Caller::Admin, &r).is_ok());
        assert_eq!(
            hub.trial_of_token(&access.token),
            Some(("team-a".into(), "e-0001".into()))
        );
        hub.close("team-a", "e-0001", 1); // an older attempt's close leaves the route
        assert!(hub.report("", "e-0001", Caller::Admin, &r).is_ok());
        hub.close("team-b", "e-0001", 2); // another namespace's trial of that name
        assert!(hub.report("", "e-0001", Caller::Admin, &r).is_ok());
        hub.close("team-a", "e-0001", 2);
        assert!(hub.report("", "e-0001", Caller::Admin, &r).is_err());
        assert_eq!(hub.trial_of_token(&access.token), None);
    }

    /// Trial names are unique within a namespace only: two namespaces' `e-0001` are two
    /// routes, each reached with its namespace, its token or its namespace's user; only an
    /// admin who names no namespace is asked to name one.
    #[test]
    fn the_same_trial_name_in_two_namespaces() {
        let (hub, a, mut rx_a) = hub_with("e-0001");
        let (tx, mut rx_b) = mpsc::unbounded_channel();
        let b = hub.open("team-b", "e-0001", 1, &["loss".into()], tx);
        let r = [rep(Some(3), &[("loss", 1.0)])];
        let went = |rx: &mut mpsc::UnboundedReceiver<RunnerEvent>| rx.try_recv().is_ok();
        assert_eq!(
            hub.report("", "e-0001", Caller::Trial(&b.token), &r),
            Ok(false)
        );
        assert!(went(&mut rx_b) && !went(&mut rx_a));
        assert_eq!(
            hub.report("", "e-0001", Caller::Trial(&a.token), &r),
            Ok(false)
        );
        assert!(went(&mut rx_a) && !went(&mut rx_b));
        assert!(
            hub.report("", "e-0001", Caller::Namespace("team-b"), &r)
                .is_ok()
        );
        assert!(went(&mut rx_b) && !went(&mut rx_a));
        assert!(hub.report("team-a", "e-0001", Caller::Admin, &r).is_ok());
        assert!(went(&mut rx_a) && !went(&mut rx_b));
        assert_eq!(
            hub.report("", "e-0001", Caller::Admin, &r),
            Err(IngestError::Ambiguous("e-0001".into()))
        );
        // A token does not open another namespace's trial of the same name.
        assert_eq!(
            hub.report("team-a", "e-0001", Caller::Trial(&b.token), &r),
            Err(IngestError::NotRunning("e-0001".into()))
        );
        hub.mark_stop("team-b", "e-0001", "below the median");
        assert_eq!(hub.should_stop("team-a", "e-0001", Caller::Admin), Ok(None));
        assert_eq!(
            hub.should_stop("", "e-0001", Caller::Trial(&b.token)),
            Ok(Some("below the median".into()))
        );
        assert!(!went(&mut rx_a) && !went(&mut rx_b));
    }

    #[test]
    fn a_stop_mark_is_answered_to_reports_and_questions() {
        let (hub, access, _rx) = hub_with("e-0001");
        let me = Caller::Trial(&access.token);
        assert_eq!(hub.should_stop("", "e-0001", me), Ok(None));
        hub.mark_stop("team-a", "e-0001", "below the median");
        hub.mark_stop("team-a", "e-0001", "experiment stopped");
        assert_eq!(
            hub.should_stop("", "e-0001", me),
            Ok(Some("below the median".into()))
        );
        assert_eq!(
            hub.report("", "e-0001", me, &[rep(None, &[("loss", 1.0)])]),
            Ok(true)
        );
    }

    #[test]
    fn a_controller_behind_makes_reports_wait() {
        let hub = ReportHub::new("127.0.0.1:1").with_queue_limit(3);
        let (tx, mut rx) = mpsc::unbounded_channel();
        let queued = Arc::new(AtomicUsize::new(0));
        hub.open_metered("ns", "e-0001", 1, &["loss".into()], tx, queued.clone());
        let two = [rep(None, &[("loss", 1.0)]), rep(None, &[("loss", 2.0)])];
        assert_eq!(hub.report("", "e-0001", Caller::Admin, &two), Ok(false));
        assert_eq!(queued.load(Ordering::Relaxed), 2);
        // Two more would make 4 > 3: refused, nothing sent, steps not used up.
        assert_eq!(
            hub.report("", "e-0001", Caller::Admin, &two),
            Err(IngestError::Busy { queued: 2 })
        );
        // The controller takes the first batch; the retry goes through, numbered 2 and 3.
        let Some(RunnerEvent::Observations { observations, .. }) = rx.try_recv().ok() else {
            panic!("nothing sent");
        };
        taken(&queued, observations.len());
        assert_eq!(hub.report("", "e-0001", Caller::Admin, &two), Ok(false));
        let Some(RunnerEvent::Observations { observations, .. }) = rx.try_recv().ok() else {
            panic!("nothing sent");
        };
        let steps: Vec<i64> = observations.iter().map(|o| o.step).collect();
        assert_eq!(steps, [2, 3]);
        assert!(rx.try_recv().is_err());
    }

    #[test]
    fn the_hub_totals_every_controllers_waiting_observations() {
        let hub = ReportHub::new("127.0.0.1:1");
        let (tx, _rx) = mpsc::unbounded_channel();
        let (a, b) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        hub.open_metered("ns", "a-0001", 1, &["loss".into()], tx.clone(), a.clone());
        hub.open_metered("ns", "a-0002", 1, &["loss".into()], tx.clone(), a.clone());
        hub.open_metered("ns", "b-0001", 1, &["loss".into()], tx, b.clone());
        let one = [rep(None, &[("loss", 1.0)])];
        for trial in ["a-0001", "a-0002", "b-0001", "b-0001"] {
            hub.report("", trial, Caller::Admin, &one).unwrap();
        }
        // Each controller's count once, however many of its trials report.
        assert_eq!(hub.queued_observations(), 4);
        taken(&a, 2);
        assert_eq!(hub.queued_observations(), 2);
        // A controller that has ended no longer counts.
        drop(b);
        hub.close("ns", "b-0001", 1);
        assert_eq!(hub.queued_observations(), 0);
    }

    #[test]
    fn a_bad_batch_takes_nothing_and_a_gone_controller_refuses() {
        let (hub, access, mut rx) = hub_with("e-0001");
        let me = Caller::Trial(&access.token);
        let bad = [rep(None, &[("loss", 1.0)]), rep(None, &[("", 2.0)])];
        assert!(matches!(
            hub.report("", "e-0001", me, &bad),
            Err(IngestError::Invalid { index: 1, .. })
        ));
        assert!(rx.try_recv().is_err());
        drop(rx);
        assert!(
            hub.report("", "e-0001", me, &[rep(None, &[("loss", 1.0)])])
                .is_err()
        );
    }
}
