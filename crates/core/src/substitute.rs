//! `${trialParameters.NAME}` and `${trialSpec.…}` substitution, Katib's template language.
//!
//! Substitution works on single strings (an argv element, an env value), in one pass: a
//! value that itself looks like `${…}` or `$(reboot)` is inserted verbatim and never read
//! again, and nothing here ever reaches a shell.

use regex::Regex;
use std::collections::{BTreeMap, HashMap};
use std::sync::LazyLock;

static PLACEHOLDER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\$\{(trialParameters|trialSpec)\.([^}]*)\}").expect("static regex")
});
static MAP_REF: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^(Labels|Annotations)\[(.+)\]$").expect("static regex"));

/// The trial's own metadata, for `${trialSpec.Name}` and friends.
#[derive(Debug, Clone, Default)]
pub struct TrialMeta {
    pub name: String,
    pub namespace: String,
    pub kind: String,
    pub api_version: String,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
}

/// A `${…}` reference found in a template string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Placeholder {
    /// `${trialParameters.NAME}`
    TrialParameter(String),
    /// `${trialSpec.FIELD}`, e.g. `Name` or `Labels[app]`
    Meta(String),
}

/// Every reference in `s`, in order.
pub fn placeholders(s: &str) -> Vec<Placeholder> {
    PLACEHOLDER
        .captures_iter(s)
        .map(|c| {
            if &c[1] == "trialParameters" {
                Placeholder::TrialParameter(c[2].to_string())
            } else {
                Placeholder::Meta(c[2].to_string())
            }
        })
        .collect()
}

/// Whether `field` (the part after `trialSpec.`) is a metadata reference Katib knows.
pub fn is_meta_field(field: &str) -> bool {
    matches!(field, "Name" | "Namespace" | "Kind" | "APIVersion") || MAP_REF.is_match(field)
}

/// The value of a metadata reference; a missing label or annotation is empty.
pub fn meta_value(field: &str, meta: &TrialMeta) -> Option<String> {
    match field {
        "Name" => Some(meta.name.clone()),
        "Namespace" => Some(meta.namespace.clone()),
        "Kind" => Some(meta.kind.clone()),
        "APIVersion" => Some(meta.api_version.clone()),
        _ => {
            let c = MAP_REF.captures(field)?;
            let map = if &c[1] == "Labels" {
                &meta.labels
            } else {
                &meta.annotations
            };
            Some(map.get(&c[2]).cloned().unwrap_or_default())
        }
    }
}

/// When a trialParameter's `reference` is itself a metadata reference (`${trialSpec.Name}`),
/// the field it names.
pub fn reference_meta_field(reference: &str) -> Option<&str> {
    reference
        .strip_prefix("${trialSpec.")
        .and_then(|r| r.strip_suffix('}'))
        .filter(|f| is_meta_field(f))
}

/// Replaces every reference in `s`. `values` maps trial-parameter names to their text.
/// Unknown references are left as written (validation reports them before any trial runs).
pub fn substitute(s: &str, values: &HashMap<String, String>, meta: &TrialMeta) -> String {
    PLACEHOLDER
        .replace_all(s, |c: &regex::Captures<'_>| {
            let found = if &c[1] == "trialParameters" {
                values.get(&c[2]).cloned()
            } else {
                meta_value(&c[2], meta)
            };
            found.unwrap_or_else(|| c[0].to_string())
        })
        .into_owned()
}

/// Applies [`substitute`] to every string inside a JSON tree (keys stay as they are).
pub fn substitute_json(
    v: &serde_json::Value,
    values: &HashMap<String, String>,
    meta: &TrialMeta,
) -> serde_json::Value {
    match v {
        serde_json::Value::String(s) => serde_json::Value::String(substitute(s, values, meta)),
        serde_json::Value::Array(a) => {
            serde_json::Value::Array(a.iter().map(|x| substitute_json(x, values, meta)).collect())
        }
        serde_json::Value::Object(m) => serde_json::Value::Object(
            m.iter()
                .map(|(k, x)| (k.clone(), substitute_json(x, values, meta)))
                .collect(),
        ),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta() -> TrialMeta {
        TrialMeta {
            name: "exp-0003".into(),
            namespace: "team-a".into(),
            kind: "Job".into(),
            api_version: "batch/v1".into(),
            labels: [("app".to_string(), "digits".to_string())].into(),
            annotations: BTreeMap::new(),
        }
    }

    #[test]
    fn parameters_and_metadata() {
        let values: HashMap<String, String> = [("lr".to_string(), "0.01".to_string())].into();
        assert_eq!(
            substitute("--lr=${trialParameters.lr}", &values, &meta()),
            "--lr=0.01"
        );
        assert_eq!(
            substitute(
                "${trialSpec.Name}/${trialSpec.Namespace}/${trialSpec.Kind}/${trialSpec.APIVersion}/${trialSpec.Labels[app]}/${trialSpec.Annotations[x]}",
                &values,
                &meta()
            ),
            "exp-0003/team-a/Job/batch/v1/digits/"
        );
    }

    #[test]
    fn hostile_values_arrive_verbatim() {
        for hostile in [
            "; touch /tmp/x",
            "$(reboot)",
            "`id`",
            "${trialSpec.Name}",
            "a\nb",
            "' \" \\",
        ] {
            let values: HashMap<String, String> = [("opt".to_string(), hostile.to_string())].into();
            assert_eq!(
                substitute("${trialParameters.opt}", &values, &meta()),
                hostile
            );
            assert_eq!(
                substitute("--opt=${trialParameters.opt}", &values, &meta()),
                format!("--opt={hostile}")
            );
        }
    }

    #[test]
    fn unknown_references_stay_and_are_listed() {
        let values = HashMap::new();
        assert_eq!(
            substitute("${trialParameters.nope}", &values, &meta()),
            "${trialParameters.nope}"
        );
        assert_eq!(
            placeholders("a ${trialParameters.x} b ${trialSpec.Labels[k]}"),
            vec![
                Placeholder::TrialParameter("x".into()),
                Placeholder::Meta("Labels[k]".into())
            ]
        );
        assert!(is_meta_field("Annotations[a.b/c]"));
        assert!(!is_meta_field("Image"));
        assert_eq!(reference_meta_field("${trialSpec.Name}"), Some("Name"));
        assert_eq!(reference_meta_field("lr"), None);
    }
}
