//! Parsing of trial output into metric observations, the way Katib's collectors read it.
//!
//! A [`MetricParser`] turns one line of a trial's stdout or metrics file into values;
//! an [`ObservationBuilder`] numbers them into observation-log entries.

use crate::error::CoreError;
use crate::trial::Observation;
use chrono::{DateTime, Utc};
use regex::Regex;
use serde_json::Value;
use std::collections::{HashMap, HashSet};

/// Katib's default StdOut/TEXT filter.
pub const KATIB_DEFAULT_FILTER: &str = r"([\w|-]+)\s*=\s*([+-]?\d*(\.\d+)?([Ee][+-]?\d+)?)";

/// The key that carries a value's step, in TEXT pairs and JSON objects.
const STEP_KEY: &str = "step";
/// The JSON key that carries a line's timestamp (never a metric, as in Katib).
const TIMESTAMP_KEY: &str = "timestamp";

/// How a trial writes its metrics: Katib's `source.fileSystemPath.format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricsFormat {
    /// `name=value` pairs found by regex filters, optionally after an RFC 3339 timestamp.
    Text,
    /// One JSON object per line.
    Json,
}

/// One value found on one line.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedMetric {
    pub name: String,
    pub value: f64,
    /// The step the line reported, if any.
    pub step: Option<i64>,
    /// The timestamp the line reported, if any.
    pub timestamp: Option<DateTime<Utc>>,
}

/// Reads metric values from lines of trial output, keeping only the metrics an experiment wants.
#[derive(Debug, Clone)]
pub struct MetricParser {
    format: MetricsFormat,
    filters: Vec<Regex>,
    wanted: HashSet<String>,
}

impl MetricParser {
    /// `filters`: custom regexes (Katib's source.filter.metricsFormat); empty means KATIB_DEFAULT_FILTER.
    /// Each regex must compile and have at least 2 capture groups (group 1 = name, group 2 = value),
    /// else CoreError::BadRegex { pattern, reason }.
    /// `wanted`: metric names to keep (objective + additional metrics), as Katib does; others are ignored.
    pub fn new(
        format: MetricsFormat,
        filters: &[String],
        wanted: &[String],
    ) -> Result<Self, CoreError> {
        let compiled = if filters.is_empty() {
            vec![compile_filter(KATIB_DEFAULT_FILTER)?]
        } else {
            filters
                .iter()
                .map(|f| compile_filter(f))
                .collect::<Result<Vec<_>, _>>()?
        };
        Ok(MetricParser {
            format,
            filters: compiled,
            wanted: wanted.iter().cloned().collect(),
        })
    }

    /// Values found on one line (no trailing newline). Never panics on any input.
    pub fn parse_line(&self, line: &str) -> Vec<ParsedMetric> {
        let line = line.trim_end_matches(['\r', '\n']);
        match self.format {
            MetricsFormat::Text => self.parse_text(line),
            MetricsFormat::Json => self.parse_json(line),
        }
    }

    fn parse_text(&self, line: &str) -> Vec<ParsedMetric> {
        let (timestamp, rest) = split_timestamp(line);

        // Every (name, value) pair of every filter, in filter order then line order.
        let mut pairs: Vec<(&str, &str)> = Vec::new();
        for re in &self.filters {
            for caps in re.captures_iter(rest) {
                if let (Some(name), Some(value)) = (caps.get(1), caps.get(2)) {
                    pairs.push((name.as_str(), value.as_str()));
                }
            }
        }

        let step = pairs
            .iter()
            .filter(|(name, _)| *name == STEP_KEY)
            .find_map(|(_, value)| parse_step_str(value));

        pairs
            .into_iter()
            .filter(|(name, _)| self.wanted.contains(*name))
            .filter_map(|(name, value)| {
                parse_value_str(value).map(|value| ParsedMetric {
                    name: name.to_string(),
                    value,
                    step,
                    timestamp,
                })
            })
            .collect()
    }

    fn parse_json(&self, line: &str) -> Vec<ParsedMetric> {
        let Ok(Value::Object(obj)) = serde_json::from_str::<Value>(line) else {
            return Vec::new();
        };
        // An unreadable timestamp or step is ignored rather than losing the line's values.
        let timestamp = obj.get(TIMESTAMP_KEY).and_then(json_timestamp);
        let step = obj.get(STEP_KEY).and_then(json_step);
        obj.iter()
            .filter(|(name, _)| name.as_str() != TIMESTAMP_KEY && self.wanted.contains(*name))
            .filter_map(|(name, value)| {
                json_number(value).map(|value| ParsedMetric {
                    name: name.clone(),
                    value,
                    step,
                    timestamp,
                })
            })
            .collect()
    }
}

/// Compiles one filter and checks that it has the name and value groups.
fn compile_filter(pattern: &str) -> Result<Regex, CoreError> {
    let bad = |reason: String| CoreError::BadRegex {
        pattern: pattern.to_string(),
        reason,
    };
    let re = Regex::new(pattern).map_err(|e| bad(e.to_string()))?;
    // `captures_len` counts the implicit whole-match group 0.
    let groups = re.captures_len() - 1;
    if groups < 2 {
        return Err(bad(format!(
            "needs at least 2 capture groups (metric name and value), found {groups}"
        )));
    }
    Ok(re)
}

/// Splits a leading RFC 3339 timestamp off a TEXT line, as Katib's collector does.
fn split_timestamp(line: &str) -> (Option<DateTime<Utc>>, &str) {
    let trimmed = line.trim_start();
    let end = trimmed.find(char::is_whitespace).unwrap_or(trimmed.len());
    match DateTime::parse_from_rfc3339(&trimmed[..end]) {
        Ok(ts) => (Some(ts.with_timezone(&Utc)), &trimmed[end..]),
        Err(_) => (None, line),
    }
}

/// A metric value from text: finite only; empty or malformed text gives none.
fn parse_value_str(s: &str) -> Option<f64> {
    let s = s.trim();
    // Rust also accepts "inf" and "NaN"; is_finite drops them with the overflows.
    s.parse::<f64>().ok().filter(|v| v.is_finite())
}

/// A step from text: an integer, or a float with no fractional part (`5.0`).
fn parse_step_str(s: &str) -> Option<i64> {
    let s = s.trim();
    s.parse::<i64>()
        .ok()
        .or_else(|| s.parse::<f64>().ok().and_then(integral_f64))
}

/// An f64 that is exactly an integer within i64's range.
fn integral_f64(v: f64) -> Option<i64> {
    // 2^63 is exact in f64; `as` would saturate silently, so check the range first.
    const LIMIT: f64 = 9_223_372_036_854_775_808.0;
    (v.is_finite() && v.fract() == 0.0 && (-LIMIT..LIMIT).contains(&v)).then_some(v as i64)
}

/// A metric value from JSON: a number, or a numeric string (Katib's format).
fn json_number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64().filter(|v| v.is_finite()),
        Value::String(s) => parse_value_str(s),
        _ => None,
    }
}

/// A step from JSON: an integer, or a string holding one.
fn json_step(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().and_then(integral_f64)),
        Value::String(s) => parse_step_str(s),
        _ => None,
    }
}

/// A timestamp from JSON: an RFC 3339 string, or Unix seconds as a number or numeric string.
fn json_timestamp(v: &Value) -> Option<DateTime<Utc>> {
    match v {
        Value::Number(n) => n.as_f64().and_then(unix_seconds),
        Value::String(s) => {
            let s = s.trim();
            DateTime::parse_from_rfc3339(s)
                .map(|t| t.with_timezone(&Utc))
                .ok()
                .or_else(|| s.parse::<f64>().ok().and_then(unix_seconds))
        }
        _ => None,
    }
}

/// Unix seconds, possibly fractional, as a UTC time; none when out of chrono's range.
fn unix_seconds(t: f64) -> Option<DateTime<Utc>> {
    let secs = integral_f64(t.floor())?;
    let nanos = ((t - t.floor()) * 1e9).round().clamp(0.0, 999_999_999.0) as u32;
    DateTime::from_timestamp(secs, nanos)
}

/// Turns parsed values into observation-log entries: step = the metric's own report index (0,1,2,...) unless the line gave one; timestamp = the line's own, else `now`.
#[derive(Debug, Clone, Default)]
pub struct ObservationBuilder {
    counts: HashMap<String, i64>,
}

impl ObservationBuilder {
    /// A builder for a trial with no values recorded yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Continue numbering after a restart: the counts of values already recorded per metric.
    pub fn with_counts(counts: HashMap<String, i64>) -> Self {
        ObservationBuilder { counts }
    }

    /// The next entry of the observation log; every value counts towards its metric's index.
    pub fn push(&mut self, parsed: ParsedMetric, now: DateTime<Utc>) -> Observation {
        let count = self.counts.entry(parsed.name.clone()).or_insert(0);
        let index = *count;
        *count = count.saturating_add(1);
        Observation {
            metric: parsed.name,
            step: parsed.step.unwrap_or(index),
            timestamp: parsed.timestamp.unwrap_or(now),
            value: parsed.value,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use proptest::prelude::*;

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    fn text(wanted: &[&str]) -> MetricParser {
        MetricParser::new(MetricsFormat::Text, &[], &names(wanted)).unwrap()
    }

    fn json(wanted: &[&str]) -> MetricParser {
        MetricParser::new(MetricsFormat::Json, &[], &names(wanted)).unwrap()
    }

    /// `(name, value)` of each parsed metric, in order.
    fn values(parsed: &[ParsedMetric]) -> Vec<(&str, f64)> {
        parsed.iter().map(|p| (p.name.as_str(), p.value)).collect()
    }

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap()
    }

    #[test]
    fn default_filter_reads_katib_examples() {
        let p = text(&["loss", "accuracy", "score"]);
        assert_eq!(values(&p.parse_line("loss=0.3")), [("loss", 0.3)]);
        assert_eq!(values(&p.parse_line("accuracy=.98")), [("accuracy", 0.98)]);
        assert_eq!(
            values(&p.parse_line("score=-7.53e-05")),
            [("score", -7.53e-05)]
        );
        assert_eq!(values(&p.parse_line("score = +1")), [("score", 1.0)]);
        let got = p.parse_line("loss=0.3");
        assert_eq!(got[0].step, None);
        assert_eq!(got[0].timestamp, None);
    }

    #[test]
    fn several_pairs_on_one_line() {
        let p = text(&["epoch", "loss", "accuracy"]);
        assert_eq!(
            values(&p.parse_line("epoch=3 loss=0.25 accuracy=0.91")),
            [("epoch", 3.0), ("loss", 0.25), ("accuracy", 0.91)]
        );
    }

    #[test]
    fn unwanted_names_are_ignored() {
        let p = text(&["accuracy"]);
        assert_eq!(
            values(&p.parse_line("epoch=3 loss=0.25 accuracy=0.91 lr=1e-3")),
            [("accuracy", 0.91)]
        );
        assert!(text(&[]).parse_line("loss=0.3").is_empty());
    }

    #[test]
    fn garbage_lines_give_nothing() {
        let p = text(&["loss", "epoch"]);
        assert!(p.parse_line("===== epoch 3 =====").is_empty());
        assert!(p.parse_line("loss: 0.3").is_empty());
        assert!(p.parse_line("").is_empty());
        assert!(p.parse_line("   ").is_empty());
        let junk: Vec<u8> = (0..=255u8).rev().chain([0, 0xff, b'=', 0xfe]).collect();
        assert!(p.parse_line(&String::from_utf8_lossy(&junk)).is_empty());
    }

    #[test]
    fn empty_or_malformed_values_are_skipped() {
        let p = text(&["loss", "acc"]);
        assert!(p.parse_line("loss=").is_empty());
        assert!(p.parse_line("loss=.").is_empty());
        assert!(p.parse_line("loss=-").is_empty());
        assert_eq!(values(&p.parse_line("loss= acc=0.5")), [("acc", 0.5)]);
        // Overflowing to infinity is not a value.
        assert!(p.parse_line("loss=1e999").is_empty());
    }

    #[test]
    fn very_long_lines_and_carriage_returns() {
        let p = text(&["loss"]);
        let long = "x=1 ".repeat(100_000) + "loss=0.5";
        assert_eq!(values(&p.parse_line(&long)), [("loss", 0.5)]);
        assert!(p.parse_line(&"=".repeat(1_000_000)).is_empty());
        assert_eq!(values(&p.parse_line("loss=0.3\r")), [("loss", 0.3)]);
    }

    #[test]
    fn timestamp_prefix_applies_to_every_value() {
        let p = text(&["loss", "accuracy"]);
        let got = p.parse_line("2021-12-02T14:27:51Z loss=0.3 accuracy=0.9");
        assert_eq!(values(&got), [("loss", 0.3), ("accuracy", 0.9)]);
        for m in &got {
            assert_eq!(m.timestamp, Some(utc(2021, 12, 2, 14, 27, 51)));
        }

        let got = p.parse_line("2021-12-02T14:27:51.250+01:00 loss=0.3\r");
        assert_eq!(values(&got), [("loss", 0.3)]);
        let expected = utc(2021, 12, 2, 13, 27, 51) + chrono::Duration::milliseconds(250);
        assert_eq!(got[0].timestamp, Some(expected));
    }

    #[test]
    fn timestamp_is_not_read_as_a_metric() {
        // A filter that would otherwise find `14: 27` and `27: 51` in the timestamp.
        let filter = r"(\w+):\s*([+-]?\d+(?:\.\d+)?)".to_string();
        let p = MetricParser::new(
            MetricsFormat::Text,
            &[filter],
            &names(&["14", "27", "loss"]),
        )
        .unwrap();
        let got = p.parse_line("2021-12-02T14:27:51Z loss: 0.3");
        assert_eq!(values(&got), [("loss", 0.3)]);
        assert_eq!(got[0].timestamp, Some(utc(2021, 12, 2, 14, 27, 51)));
        // Without a valid timestamp the line is read as it is.
        let got = p.parse_line("14:27 loss: 0.3");
        assert_eq!(values(&got), [("14", 27.0), ("loss", 0.3)]);
        assert_eq!(got[0].timestamp, None);
    }

    #[test]
    fn step_pair_sets_the_step_of_the_line() {
        let p = text(&["loss", "accuracy"]);
        let got = p.parse_line("step=5 loss=0.3 accuracy=0.8");
        assert_eq!(values(&got), [("loss", 0.3), ("accuracy", 0.8)]);
        assert!(got.iter().all(|m| m.step == Some(5)));

        // Position on the line does not matter.
        let got = p.parse_line("loss=0.3 step=7");
        assert_eq!(got[0].step, Some(7));

        // A non-integer step is not a step.
        let got = p.parse_line("step=1.5 loss=0.3");
        assert_eq!(got[0].step, None);

        // `step` is a metric only when wanted.
        let p = text(&["loss", "step"]);
        let got = p.parse_line("step=5 loss=0.3");
        assert_eq!(values(&got), [("step", 5.0), ("loss", 0.3)]);
        assert!(got.iter().all(|m| m.step == Some(5)));
    }

    #[test]
    fn custom_filter() {
        let filter = "(\\w+):\\s*([+-]?\\d+(?:\\.\\d+)?)".to_string();
        let p =
            MetricParser::new(MetricsFormat::Text, &[filter], &names(&["loss", "acc"])).unwrap();
        assert_eq!(values(&p.parse_line("loss: 0.3")), [("loss", 0.3)]);
        assert_eq!(
            values(&p.parse_line("loss: 0.3, acc: 1")),
            [("loss", 0.3), ("acc", 1.0)]
        );
        // The default filter no longer applies.
        assert!(p.parse_line("loss=0.3").is_empty());
    }

    #[test]
    fn several_custom_filters_each_apply() {
        let filters = vec![
            r"(\w+):\s*(\d+(?:\.\d+)?)".to_string(),
            r"(\w+)=(\d+(?:\.\d+)?)".to_string(),
        ];
        let p = MetricParser::new(MetricsFormat::Text, &filters, &names(&["loss", "acc"])).unwrap();
        assert_eq!(
            values(&p.parse_line("loss: 0.3 acc=0.7")),
            [("loss", 0.3), ("acc", 0.7)]
        );
    }

    #[test]
    fn custom_filter_with_unmatched_optional_group_is_skipped() {
        let filter = r"(\w+)?=(\d+)?".to_string();
        let p = MetricParser::new(MetricsFormat::Text, &[filter], &names(&["loss"])).unwrap();
        assert!(p.parse_line("=3 loss=").is_empty());
        assert_eq!(values(&p.parse_line("loss=4")), [("loss", 4.0)]);
    }

    #[test]
    fn filter_with_fewer_than_two_groups_is_bad() {
        for pattern in [r"(\w+)=\d+", r"\w+=\d+", r"(?:\w+)=(?:\d+)"] {
            let err =
                MetricParser::new(MetricsFormat::Text, &[pattern.to_string()], &[]).unwrap_err();
            match err {
                CoreError::BadRegex { pattern: p, reason } => {
                    assert_eq!(p, pattern);
                    assert!(reason.contains("2 capture groups"), "{reason}");
                }
                other => panic!("unexpected error {other:?}"),
            }
        }
    }

    #[test]
    fn invalid_regex_is_bad() {
        let filters = names(&[r"(\w+)=(\d+)", r"(\w+=(\d+"]);
        let err = MetricParser::new(MetricsFormat::Text, &filters, &[]).unwrap_err();
        match err {
            CoreError::BadRegex { pattern, reason } => {
                assert_eq!(pattern, r"(\w+=(\d+");
                assert!(!reason.is_empty());
            }
            other => panic!("unexpected error {other:?}"),
        }
        // Filters are checked for JSON too, though they do not apply there.
        assert!(MetricParser::new(MetricsFormat::Json, &names(&["("]), &[]).is_err());
    }

    #[test]
    fn json_string_values() {
        let p = json(&["loss", "acc"]);
        let got = p.parse_line(r#"{"acc": "0.9", "loss": "0.2", "other": "1"}"#);
        let mut v = values(&got);
        v.sort_by(|a, b| a.0.cmp(b.0));
        assert_eq!(v, [("acc", 0.9), ("loss", 0.2)]);
        assert!(
            got.iter()
                .all(|m| m.step.is_none() && m.timestamp.is_none())
        );
    }

    #[test]
    fn json_number_values() {
        let p = json(&["loss", "acc"]);
        assert_eq!(values(&p.parse_line(r#"{"loss": 0.25}"#)), [("loss", 0.25)]);
        assert_eq!(values(&p.parse_line(r#"{"loss": -3}"#)), [("loss", -3.0)]);
        assert_eq!(
            values(&p.parse_line("{\"loss\": 1e-3}\r")),
            [("loss", 0.001)]
        );
        // Non-numeric or non-finite values are skipped.
        assert!(p.parse_line(r#"{"loss": "NaN", "acc": "inf"}"#).is_empty());
        assert!(p.parse_line(r#"{"loss": null, "acc": true}"#).is_empty());
        assert!(p.parse_line(r#"{"loss": "", "acc": [1]}"#).is_empty());
        assert!(p.parse_line(r#"{"loss": 1e999}"#).is_empty());
    }

    #[test]
    fn json_unix_timestamp() {
        let p = json(&["loss"]);
        let got = p.parse_line(r#"{"loss": "0.2", "timestamp": 1638455271}"#);
        assert_eq!(values(&got), [("loss", 0.2)]);
        assert_eq!(got[0].timestamp, Some(utc(2021, 12, 2, 14, 27, 51)));

        let got = p.parse_line(r#"{"loss": "0.2", "timestamp": 1638455271.5}"#);
        let half = utc(2021, 12, 2, 14, 27, 51) + chrono::Duration::milliseconds(500);
        assert_eq!(got[0].timestamp, Some(half));

        let got = p.parse_line(r#"{"loss": "0.2", "timestamp": "1638455271.5"}"#);
        assert_eq!(got[0].timestamp, Some(half));

        // Out of range or unreadable timestamps are dropped; the value is kept.
        for ts in ["1e300", "-1e300", "\"soon\"", "null", "9223372036854775807"] {
            let got = p.parse_line(&format!(r#"{{"loss": "0.2", "timestamp": {ts}}}"#));
            assert_eq!(values(&got), [("loss", 0.2)], "{ts}");
            assert_eq!(got[0].timestamp, None, "{ts}");
        }
    }

    #[test]
    fn json_rfc3339_timestamp() {
        let p = json(&["loss", "timestamp"]);
        let got = p.parse_line(r#"{"loss": "0.2", "timestamp": "2021-12-02T15:27:51+01:00"}"#);
        // `timestamp` is never a metric, even when wanted.
        assert_eq!(values(&got), [("loss", 0.2)]);
        assert_eq!(got[0].timestamp, Some(utc(2021, 12, 2, 14, 27, 51)));
    }

    #[test]
    fn json_step() {
        let p = json(&["loss"]);
        let got = p.parse_line(r#"{"loss": "0.2", "step": 4}"#);
        assert_eq!(values(&got), [("loss", 0.2)]);
        assert_eq!(got[0].step, Some(4));
        assert_eq!(
            p.parse_line(r#"{"loss": "0.2", "step": "12"}"#)[0].step,
            Some(12)
        );
        assert_eq!(
            p.parse_line(r#"{"loss": "0.2", "step": 3.0}"#)[0].step,
            Some(3)
        );
        assert_eq!(
            p.parse_line(r#"{"loss": "0.2", "step": 3.5}"#)[0].step,
            None
        );
        assert_eq!(
            p.parse_line(r#"{"loss": "0.2", "step": 1e300}"#)[0].step,
            None
        );
    }

    #[test]
    fn json_invalid_or_non_object_lines_give_nothing() {
        let p = json(&["loss"]);
        for line in [
            "",
            "loss=0.3",
            r#"{"loss": "0.2""#,
            r#"[{"loss": "0.2"}]"#,
            r#""loss""#,
            "0.3",
            "null",
            r#"{"loss": "0.2"} {"loss": "0.3"}"#,
        ] {
            assert!(p.parse_line(line).is_empty(), "{line:?}");
        }
        let deep = "[".repeat(10_000);
        assert!(p.parse_line(&deep).is_empty());
    }

    #[test]
    fn custom_filters_do_not_apply_to_json() {
        let filter = r"(\w+):\s*(\d+)".to_string();
        let p = MetricParser::new(MetricsFormat::Json, &[filter], &names(&["loss"])).unwrap();
        assert!(p.parse_line("loss: 3").is_empty());
        assert_eq!(values(&p.parse_line(r#"{"loss": 3}"#)), [("loss", 3.0)]);
    }

    fn parsed(name: &str, value: f64) -> ParsedMetric {
        ParsedMetric {
            name: name.to_string(),
            value,
            step: None,
            timestamp: None,
        }
    }

    #[test]
    fn builder_numbers_each_metric_on_its_own() {
        let now = utc(2024, 1, 1, 0, 0, 0);
        let mut b = ObservationBuilder::new();
        let steps: Vec<(String, i64)> = [
            parsed("loss", 0.5),
            parsed("acc", 0.1),
            parsed("loss", 0.4),
            parsed("loss", 0.3),
            parsed("acc", 0.2),
        ]
        .into_iter()
        .map(|p| {
            let o = b.push(p, now);
            assert_eq!(o.timestamp, now);
            (o.metric, o.step)
        })
        .collect();
        let expected = [
            ("loss", 0),
            ("acc", 0),
            ("loss", 1),
            ("loss", 2),
            ("acc", 1),
        ];
        assert_eq!(steps, expected.map(|(n, s)| (n.to_string(), s)).to_vec());
    }

    #[test]
    fn builder_keeps_the_lines_step_and_timestamp() {
        let now = utc(2024, 1, 1, 0, 0, 0);
        let then = utc(2021, 12, 2, 14, 27, 51);
        let mut b = ObservationBuilder::new();
        let o = b.push(
            ParsedMetric {
                name: "loss".into(),
                value: 0.3,
                step: Some(100),
                timestamp: Some(then),
            },
            now,
        );
        assert_eq!(
            o,
            Observation {
                metric: "loss".into(),
                step: 100,
                timestamp: then,
                value: 0.3,
            }
        );
        // A value with its own step still counts as a report.
        assert_eq!(b.push(parsed("loss", 0.2), now).step, 1);
    }

    #[test]
    fn builder_continues_after_restart() {
        let now = utc(2024, 1, 1, 0, 0, 0);
        let counts = HashMap::from([("loss".to_string(), 3), ("acc".to_string(), 1)]);
        let mut b = ObservationBuilder::with_counts(counts);
        assert_eq!(b.push(parsed("loss", 0.1), now).step, 3);
        assert_eq!(b.push(parsed("acc", 0.9), now).step, 1);
        assert_eq!(b.push(parsed("loss", 0.1), now).step, 4);
        assert_eq!(b.push(parsed("new", 1.0), now).step, 0);
    }

    #[test]
    fn parser_and_builder_end_to_end() {
        let p = text(&["loss"]);
        let now = utc(2024, 1, 1, 0, 0, 0);
        let mut b = ObservationBuilder::new();
        let log: Vec<Observation> = ["loss=0.5", "noise", "2021-12-02T14:27:51Z loss=0.4"]
            .iter()
            .flat_map(|l| p.parse_line(l))
            .map(|m| b.push(m, now))
            .collect();
        assert_eq!(log.len(), 2);
        assert_eq!((log[0].step, log[0].timestamp, log[0].value), (0, now, 0.5));
        assert_eq!(
            (log[1].step, log[1].timestamp, log[1].value),
            (1, utc(2021, 12, 2, 14, 27, 51), 0.4)
        );
    }

    /// Fragments that steer random lines towards the interesting paths.
    fn text_fragment() -> impl Strategy<Value = String> {
        prop_oneof![
            any::<String>(),
            "[a-z|_-]{0,6}",
            "[ =.:+eE0-9-]{0,8}",
            Just("step=".to_string()),
            Just("2021-12-02T14:27:51Z ".to_string()),
            Just("loss=".to_string()),
        ]
    }

    fn json_value() -> impl Strategy<Value = String> {
        prop_oneof![
            any::<f64>().prop_map(|v| format!("{v:?}")),
            any::<i64>().prop_map(|v| v.to_string()),
            any::<u64>().prop_map(|v| v.to_string()),
            any::<f64>().prop_map(|v| format!("\"{v}\"")),
            "[0-9eE.+-]{0,12}",
            "\"[0-9eE.:TZ+-]{0,25}\"",
            Just("\"2021-12-02T14:27:51.5Z\"".to_string()),
            Just("null".to_string()),
        ]
    }

    fn json_line() -> impl Strategy<Value = String> {
        let key = prop_oneof![
            Just("loss".to_string()),
            Just("step".to_string()),
            Just("timestamp".to_string()),
            "[a-z]{0,4}",
        ];
        prop::collection::vec((key, json_value()), 0..6).prop_map(|pairs| {
            let body: Vec<String> = pairs
                .into_iter()
                .map(|(k, v)| format!("\"{k}\": {v}"))
                .collect();
            format!("{{{}}}", body.join(", "))
        })
    }

    proptest! {
        #[test]
        fn parse_line_never_panics_on_arbitrary_strings(line in any::<String>()) {
            for format in [MetricsFormat::Text, MetricsFormat::Json] {
                let p = MetricParser::new(format, &[], &names(&["loss", "step", "a"])).unwrap();
                for m in p.parse_line(&line) {
                    prop_assert!(m.value.is_finite());
                }
            }
        }

        #[test]
        fn parse_line_never_panics_on_lossy_bytes(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
            let line = String::from_utf8_lossy(&bytes);
            for format in [MetricsFormat::Text, MetricsFormat::Json] {
                let p = MetricParser::new(format, &[], &names(&["loss"])).unwrap();
                let _ = p.parse_line(&line);
            }
        }

        #[test]
        fn text_lines_give_only_wanted_finite_values(
            parts in prop::collection::vec(text_fragment(), 0..8)
        ) {
            let line = parts.concat();
            let p = text(&["loss", "step"]);
            for m in p.parse_line(&line) {
                prop_assert!(m.value.is_finite());
                prop_assert!(m.name == "loss" || m.name == "step");
            }
        }

        #[test]
        fn json_lines_give_only_wanted_finite_values(line in json_line()) {
            let p = json(&["loss", "step", "timestamp"]);
            for m in p.parse_line(&line) {
                prop_assert!(m.value.is_finite());
                prop_assert!(m.name == "loss" || m.name == "step");
            }
        }
    }
}
