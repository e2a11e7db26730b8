//! Where trials run and what each one needs there: the runner an experiment asks for
//! (`spec.runner`) and a trial's resources (`trialTemplate.resources`, or a Katib
//! container's `resources`), which a cluster runner turns into resource requests.

use std::collections::BTreeMap;

/// What one trial needs from the machine that runs it. The local runner ignores it
/// (`parallelTrialCount` is its only limit); Ray reserves it for the trial.
#[derive(Debug, Clone, PartialEq)]
pub struct TrialResources {
    /// CPUs, fractions allowed (`500m` is 0.5).
    pub cpu: f64,
    pub gpu: f64,
    /// Bytes of memory, when given.
    pub memory: Option<u64>,
    /// Other named resources (Ray's custom resources), by amount.
    pub custom: BTreeMap<String, f64>,
}

impl Default for TrialResources {
    /// One CPU and nothing else: a trial that says nothing still takes a CPU slot, so a
    /// cluster never runs more such trials than it has CPUs.
    fn default() -> Self {
        TrialResources {
            cpu: 1.0,
            gpu: 0.0,
            memory: None,
            custom: BTreeMap::new(),
        }
    }
}

/// The runners an experiment may ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RunnerKind {
    /// Processes of the controller's machine.
    Local,
    /// A Ray cluster, through its dashboard's Job Submission API.
    Ray,
}

impl RunnerKind {
    pub const NAMES: [&'static str; 2] = ["local", "ray"];

    pub fn as_str(self) -> &'static str {
        match self {
            RunnerKind::Local => "local",
            RunnerKind::Ray => "ray",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "local" => Some(RunnerKind::Local),
            "ray" => Some(RunnerKind::Ray),
            _ => None,
        }
    }
}

/// How trials run on Ray.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum RayMode {
    /// One driver job per experiment, connected back to the controller over gRPC, runs
    /// each trial as a Ray task: launches in milliseconds, not a job's seconds.
    #[default]
    Tasks,
    /// Each trial is its own Ray job: for clusters where only the Job Submission API is
    /// reachable and the controller's endpoint is not.
    Jobs,
}

impl RayMode {
    /// Every mode name.
    pub const NAMES: [&'static str; 2] = ["jobs", "tasks"];

    pub fn as_str(self) -> &'static str {
        match self {
            RayMode::Jobs => "jobs",
            RayMode::Tasks => "tasks",
        }
    }

    /// The mode named `s`.
    pub fn parse(s: &str) -> Result<Self, String> {
        match s {
            "jobs" => Ok(RayMode::Jobs),
            "tasks" => Ok(RayMode::Tasks),
            other => Err(format!(
                "unknown Ray mode {other:?} (known: {})",
                RayMode::NAMES.join(", ")
            )),
        }
    }
}

/// The runner an experiment asks for (`spec.runner`), as validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunnerChoice {
    pub kind: RunnerKind,
    /// Ray's dashboard address (`http://HOST:8265`); `None` leaves it to the command line.
    pub address: Option<String>,
    pub mode: RayMode,
}

/// Checks a Ray dashboard address: `http://HOST:PORT` (a missing scheme means http).
/// Returns it normalised without a trailing slash.
pub fn normalize_ray_address(s: &str) -> Result<String, String> {
    let t = s.trim().trim_end_matches('/');
    if t.is_empty() {
        return Err("is empty (give the Ray dashboard's address, e.g. http://HOST:8265)".into());
    }
    let rest = if let Some(r) = t.strip_prefix("http://") {
        r
    } else if t.starts_with("https://") {
        return Err(format!(
            "{s:?}: https is not supported yet for Ray's dashboard; use http:// (e.g. through a port-forward)"
        ));
    } else if t.contains("://") {
        return Err(format!(
            "{s:?} is not an http:// address of Ray's dashboard (e.g. http://HOST:8265)"
        ));
    } else {
        t
    };
    if rest.is_empty() || rest.contains('/') || rest.contains(char::is_whitespace) {
        return Err(format!(
            "{s:?} is not an address of Ray's dashboard (http://HOST:PORT, e.g. http://HOST:8265)"
        ));
    }
    Ok(format!("http://{rest}"))
}

/// A CPU amount as Kubernetes writes it: `2`, `1.5` or `500m`.
pub fn parse_cpu(s: &str) -> Option<f64> {
    let t = s.trim();
    let v = match t.strip_suffix('m') {
        Some(milli) => milli.parse::<f64>().ok()? / 1000.0,
        None => t.parse::<f64>().ok()?,
    };
    (v.is_finite() && v >= 0.0).then_some(v)
}

/// A memory amount in bytes as Kubernetes writes it: `1073741824`, `1Gi`, `512Mi`, `1G`,
/// `1e9`. Fractions of a byte round up.
pub fn parse_memory(s: &str) -> Option<u64> {
    let t = s.trim();
    const SUFFIXES: [(&str, f64); 12] = [
        ("Ki", 1024.0),
        ("Mi", 1048576.0),
        ("Gi", 1073741824.0),
        ("Ti", 1099511627776.0),
        ("Pi", 1125899906842624.0),
        ("Ei", 1152921504606846976.0),
        ("k", 1e3),
        ("M", 1e6),
        ("G", 1e9),
        ("T", 1e12),
        ("P", 1e15),
        ("E", 1e18),
    ];
    let (num, mult) = SUFFIXES
        .iter()
        .find_map(|(suf, m)| t.strip_suffix(suf).map(|n| (n, *m)))
        .unwrap_or((t, 1.0));
    // A decimal exponent (`1e9`) is a plain number; `E` alone is exa.
    let v = num.parse::<f64>().ok()? * mult;
    (v.is_finite() && v > 0.0 && v < u64::MAX as f64).then(|| v.ceil() as u64)
}

/// A plain non-negative amount (GPUs, custom resources).
pub fn parse_amount(s: &str) -> Option<f64> {
    s.trim()
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite() && *v >= 0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities() {
        assert_eq!(parse_cpu("500m"), Some(0.5));
        assert_eq!(parse_cpu("2"), Some(2.0));
        assert_eq!(parse_cpu("0.25"), Some(0.25));
        assert_eq!(parse_cpu("-1"), None);
        assert_eq!(parse_cpu("two"), None);
        assert_eq!(parse_memory("1Gi"), Some(1 << 30));
        assert_eq!(parse_memory("512Mi"), Some(512 << 20));
        assert_eq!(parse_memory("1G"), Some(1_000_000_000));
        assert_eq!(parse_memory("1e9"), Some(1_000_000_000));
        assert_eq!(parse_memory("1000"), Some(1000));
        assert_eq!(parse_memory("0"), None);
        assert_eq!(parse_memory("1Zi"), None);
        assert_eq!(parse_amount("1"), Some(1.0));
        assert_eq!(parse_amount("-0.5"), None);
    }

    #[test]
    fn addresses_and_modes() {
        assert_eq!(
            normalize_ray_address("http://10.0.0.1:8265/").unwrap(),
            "http://10.0.0.1:8265"
        );
        assert_eq!(
            normalize_ray_address("ray-head:8265").unwrap(),
            "http://ray-head:8265"
        );
        assert!(
            normalize_ray_address("https://x:8265")
                .unwrap_err()
                .contains("https")
        );
        assert!(normalize_ray_address("ray://x:10001").is_err());
        assert_eq!(RayMode::parse("jobs"), Ok(RayMode::Jobs));
        assert_eq!(RayMode::parse("tasks"), Ok(RayMode::Tasks));
        assert_eq!(RayMode::default(), RayMode::Tasks);
        assert!(RayMode::parse("x").unwrap_err().contains("jobs, tasks"));
    }
}
