//! The server's own figures in Prometheus' text format (`GET /metrics`): trials by state,
//! suggestion latency, reports ingested, queue depths.

use ferrotune_core::TrialStatus;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds of the suggestion-latency histogram's buckets, in seconds.
const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 5.0,
];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

/// Counters the services update as they work.
#[derive(Default)]
pub struct Metrics {
    reports: AtomicU64,
    latency: Mutex<Histogram>,
}

/// What `/metrics` reads from the store and the manager at scrape time.
pub struct Snapshot {
    /// Trials by status, over every experiment.
    pub trials: Vec<(TrialStatus, u64)>,
    /// Experiments by status.
    pub experiments: Vec<(String, u64)>,
    /// Experiments this server runs now.
    pub running_experiments: u64,
    /// Trials waiting for a slot (Created).
    pub queued_trials: u64,
    /// Observations received from trials and not yet taken by their controllers.
    pub queued_observations: u64,
    /// The most one controller may have waiting before reports are refused as busy.
    pub report_queue_limit: u64,
}

impl Metrics {
    /// Reports taken from trials.
    pub fn reports_ingested(&self, n: u64) {
        self.reports.fetch_add(n, Ordering::Relaxed);
    }

    /// One suggestion request's time (Katib's GetSuggestions, Ask, Suggest).
    pub fn observe_suggestion(&self, d: Duration) {
        let s = d.as_secs_f64();
        let mut h = crate::lock(&self.latency);
        for (i, b) in BUCKETS.iter().enumerate() {
            if s <= *b {
                h.counts[i] += 1;
            }
        }
        h.count += 1;
        h.sum += s;
    }

    /// The text `/metrics` answers.
    pub fn render(&self, snap: &Snapshot) -> String {
        let mut out = String::new();
        header(&mut out, "ferrotune_trials", "gauge", "Trials by state.");
        for (s, n) in &snap.trials {
            let _ = writeln!(out, "ferrotune_trials{{state=\"{}\"}} {n}", s.as_str());
        }
        header(
            &mut out,
            "ferrotune_experiments",
            "gauge",
            "Experiments by state.",
        );
        for (s, n) in &snap.experiments {
            let _ = writeln!(out, "ferrotune_experiments{{state=\"{s}\"}} {n}");
        }
        let gauges = [
            (
                "ferrotune_running_experiments",
                "Experiments this server's controllers run.",
                snap.running_experiments,
            ),
            (
                "ferrotune_queued_trials",
                "Trials created and waiting for a slot.",
                snap.queued_trials,
            ),
            (
                "ferrotune_report_queue_observations",
                "Observations reported by trials and not yet stored.",
                snap.queued_observations,
            ),
            (
                "ferrotune_report_queue_limit",
                "Observations one experiment may have waiting before reports are refused as busy (--report-queue-limit).",
                snap.report_queue_limit,
            ),
        ];
        for (name, help, value) in gauges {
            header(&mut out, name, "gauge", help);
            let _ = writeln!(out, "{name} {value}");
        }
        header(
            &mut out,
            "ferrotune_reports_ingested_total",
            "counter",
            "Metric reports taken from trials over gRPC.",
        );
        let _ = writeln!(
            out,
            "ferrotune_reports_ingested_total {}",
            self.reports.load(Ordering::Relaxed)
        );
        let h = crate::lock(&self.latency);
        header(
            &mut out,
            "ferrotune_suggestion_seconds",
            "histogram",
            "Time to answer a suggestion request.",
        );
        for (b, c) in BUCKETS.iter().zip(h.counts.iter()) {
            let _ = writeln!(out, "ferrotune_suggestion_seconds_bucket{{le=\"{b}\"}} {c}");
        }
        let _ = writeln!(
            out,
            "ferrotune_suggestion_seconds_bucket{{le=\"+Inf\"}} {}\nferrotune_suggestion_seconds_sum {}\nferrotune_suggestion_seconds_count {}",
            h.count, h.sum, h.count
        );
        out
    }
}

/// A metric family's `# HELP` and `# TYPE` lines.
fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_a_cumulative_histogram() {
        let m = Metrics::default();
        m.reports_ingested(5);
        m.reports_ingested(2);
        m.observe_suggestion(Duration::from_micros(1500));
        m.observe_suggestion(Duration::from_secs(10));
        let text = m.render(&Snapshot {
            trials: vec![(TrialStatus::Running, 3)],
            experiments: vec![("Running".into(), 1)],
            running_experiments: 1,
            queued_trials: 4,
            queued_observations: 6,
            report_queue_limit: 100,
        });
        for line in [
            "ferrotune_trials{state=\"Running\"} 3",
            "ferrotune_experiments{state=\"Running\"} 1",
            "ferrotune_queued_trials 4",
            "ferrotune_report_queue_observations 6",
            "ferrotune_report_queue_limit 100",
            "ferrotune_reports_ingested_total 7",
            "ferrotune_suggestion_seconds_bucket{le=\"0.001\"} 0",
            "ferrotune_suggestion_seconds_bucket{le=\"0.002\"} 1",
            "ferrotune_suggestion_seconds_bucket{le=\"5\"} 1",
            "ferrotune_suggestion_seconds_bucket{le=\"+Inf\"} 2",
            "ferrotune_suggestion_seconds_count 2",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} missing in\n{text}");
        }
    }
}
