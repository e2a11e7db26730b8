//! Parameter values as suggested by algorithms and handed to trials.

use serde::{Deserialize, Serialize};
use std::fmt;

/// One parameter's value. Numbers stay numbers so that algorithms and `--output json`
/// see them as such; categorical values are strings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ParamValue {
    /// `int` parameters, and `discrete` values written as whole numbers.
    Int(i64),
    /// `double` parameters, and `discrete` values with a fraction.
    Float(f64),
    /// `categorical` values.
    Str(String),
}

impl ParamValue {
    /// The value as a number, when it is one.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            ParamValue::Int(i) => Some(*i as f64),
            ParamValue::Float(f) => Some(*f),
            ParamValue::Str(_) => None,
        }
    }
}

impl fmt::Display for ParamValue {
    /// The text a trial receives in `${trialParameters.X}`: the shortest form that reads
    /// back to the same number.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParamValue::Int(i) => write!(f, "{i}"),
            ParamValue::Float(x) => write!(f, "{x}"),
            ParamValue::Str(s) => f.write_str(s),
        }
    }
}

/// A full parameter set for one trial, in the order the experiment declares parameters.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Assignment(pub Vec<(String, ParamValue)>);

impl Assignment {
    /// The value of a parameter by name.
    pub fn get(&self, name: &str) -> Option<&ParamValue> {
        self.0.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    /// A JSON object `{name: value}`, numbers as numbers, categoricals as strings.
    pub fn to_json(&self) -> serde_json::Value {
        let map = self
            .0
            .iter()
            .map(|(k, v)| {
                let v = match v {
                    ParamValue::Int(i) => serde_json::Value::from(*i),
                    ParamValue::Float(x) => serde_json::Number::from_f64(*x)
                        .map(serde_json::Value::Number)
                        .unwrap_or(serde_json::Value::Null),
                    ParamValue::Str(s) => serde_json::Value::from(s.clone()),
                };
                (k.clone(), v)
            })
            .collect::<serde_json::Map<_, _>>();
        serde_json::Value::Object(map)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_is_shortest_round_trip() {
        assert_eq!(ParamValue::Float(0.1).to_string(), "0.1");
        assert_eq!(ParamValue::Float(1e-5).to_string(), "0.00001");
        assert_eq!(ParamValue::Int(-3).to_string(), "-3");
        assert_eq!(
            ParamValue::Str("; touch /tmp/x".into()).to_string(),
            "; touch /tmp/x"
        );
    }

    #[test]
    fn json_keeps_types() {
        let a = Assignment(vec![
            ("lr".into(), ParamValue::Float(0.5)),
            ("layers".into(), ParamValue::Int(3)),
            ("opt".into(), ParamValue::Str("adam".into())),
        ]);
        assert_eq!(
            a.to_json(),
            serde_json::json!({"lr": 0.5, "layers": 3, "opt": "adam"})
        );
    }
}
