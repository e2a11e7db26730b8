//! Reading experiment files: YAML (one or many documents) or JSON, with typo protection.

use crate::error::{CoreError, FieldError};
use crate::spec::ExperimentDoc;
use serde::Deserialize;

/// One document of a file, parsed but not yet validated.
#[derive(Debug, Clone)]
pub struct LoadedDoc {
    /// 1-based position in the file, for messages about multi-document files.
    pub index: usize,
    /// The document as JSON, exactly as written; stored so that a resumed experiment is
    /// rebuilt from the same text.
    pub raw: serde_json::Value,
    pub doc: ExperimentDoc,
    /// Fields nobody reads: typos, mostly. Each with a "did you mean" where one is close.
    pub unknown_fields: Vec<FieldError>,
}

/// What a file held: experiments, and documents of other kinds that were passed over.
#[derive(Debug, Clone, Default)]
pub struct LoadedFile {
    pub experiments: Vec<LoadedDoc>,
    /// `(index, kind)` of documents that are not Experiments (e.g. a Namespace alongside).
    pub skipped: Vec<(usize, String)>,
}

/// Parses YAML or JSON text. A top-level list, or a Kubernetes `kind: List` with `items`,
/// counts as several documents. Each document is parsed on its own; a document whose
/// fields have the wrong types is an error that names the field.
pub fn load_str(text: &str) -> Result<LoadedFile, CoreError> {
    let mut values = Vec::new();
    for de in serde_yaml::Deserializer::from_str(text) {
        let v = serde_yaml::Value::deserialize(de).map_err(|e| CoreError::Syntax(e.to_string()))?;
        if v.is_null() {
            continue; // an empty document, e.g. a trailing `---`
        }
        let json: serde_json::Value = serde_json::to_value(&v)
            .map_err(|e| CoreError::Syntax(format!("not representable as JSON: {e}")))?;
        match json {
            serde_json::Value::Array(items) => values.extend(items),
            serde_json::Value::Object(ref m)
                if m.get("kind").and_then(|k| k.as_str()) == Some("List")
                    && m.get("items").is_some_and(|i| i.is_array()) =>
            {
                if let Some(serde_json::Value::Array(items)) = m.get("items") {
                    values.extend(items.iter().cloned());
                }
            }
            other => values.push(other),
        }
    }
    let mut out = LoadedFile::default();
    let mut errors = Vec::new();
    for (i, raw) in values.into_iter().enumerate() {
        let index = i + 1;
        let kind = raw.get("kind").and_then(|k| k.as_str()).unwrap_or("");
        if !raw.is_object() {
            errors.push(FieldError::new(
                format!("document {index}"),
                "is not a mapping (expected an Experiment object)",
            ));
            continue;
        }
        if !kind.is_empty() && kind != "Experiment" {
            out.skipped.push((index, kind.to_string()));
            continue;
        }
        match parse_doc(&raw) {
            Ok((doc, unknown_fields)) => out.experiments.push(LoadedDoc {
                index,
                raw,
                doc,
                unknown_fields,
            }),
            Err(e) => errors.push(e),
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(CoreError::Invalid(errors))
    }
}

fn parse_doc(raw: &serde_json::Value) -> Result<(ExperimentDoc, Vec<FieldError>), FieldError> {
    let mut ignored = Vec::new();
    let mut on_ignored = |p: serde_ignored::Path<'_>| ignored.push(path_segments(&p));
    let de = serde_ignored::Deserializer::new(raw.clone(), &mut on_ignored);
    let doc: ExperimentDoc = serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let path = if path == "." { String::new() } else { path };
        FieldError::new(path, e.into_inner().to_string())
    })?;
    // The struct serialised back has every field it knows, so the keys beside an unknown
    // one are the candidates for "did you mean".
    let known = serde_json::to_value(&doc).unwrap_or_default();
    let unknown = ignored
        .into_iter()
        .map(|segs| unknown_field_error(&segs, &known))
        .collect();
    Ok((doc, unknown))
}

#[derive(Debug, Clone)]
enum Seg {
    Key(String),
    Index(usize),
}

fn path_segments(p: &serde_ignored::Path<'_>) -> Vec<Seg> {
    use serde_ignored::Path;
    let mut segs = Vec::new();
    let mut cur = p;
    loop {
        match cur {
            Path::Root => break,
            Path::Seq { parent, index } => {
                segs.push(Seg::Index(*index));
                cur = parent;
            }
            Path::Map { parent, key } => {
                segs.push(Seg::Key(key.clone()));
                cur = parent;
            }
            Path::Some { parent }
            | Path::NewtypeStruct { parent }
            | Path::NewtypeVariant { parent } => cur = parent,
        }
    }
    segs.reverse();
    segs
}

/// Renders segments as `spec.parameters[1].feasibleSpace`.
fn render(segs: &[Seg]) -> String {
    let mut s = String::new();
    for seg in segs {
        match seg {
            Seg::Key(k) => {
                if !s.is_empty() {
                    s.push('.');
                }
                s.push_str(k);
            }
            Seg::Index(i) => s.push_str(&format!("[{i}]")),
        }
    }
    s
}

fn unknown_field_error(segs: &[Seg], known: &serde_json::Value) -> FieldError {
    let (field, parent) = match segs.split_last() {
        Some((Seg::Key(k), parent)) => (k.clone(), parent),
        _ => (render(segs), &[][..]),
    };
    let mut node = Some(known);
    for seg in parent {
        node = node.and_then(|n| match seg {
            Seg::Key(k) => n.get(k),
            Seg::Index(i) => n.get(*i),
        });
    }
    let candidates: Vec<String> = node
        .and_then(|n| n.as_object())
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    let mut msg = format!("unknown field {field:?}");
    if let Some(s) = did_you_mean(&field, candidates.iter().map(String::as_str)) {
        msg.push_str(&format!(", did you mean {s:?}?"));
    } else if !candidates.is_empty() {
        msg.push_str(&format!(" (known here: {})", candidates.join(", ")));
    }
    FieldError::new(render(parent), msg)
}

/// The closest candidate when it is close enough to be a plausible typo.
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let lw = word.to_ascii_lowercase();
    candidates
        .into_iter()
        .map(|c| {
            let lc = c.to_ascii_lowercase();
            let edits = strsim::damerau_levenshtein(&lw, &lc);
            (c, edits, strsim::jaro_winkler(&lw, &lc))
        })
        .filter(|(c, edits, jw)| *jw >= 0.85 || *edits <= (c.len() / 4).max(1))
        .min_by(|a, b| a.1.cmp(&b.1).then(b.2.total_cmp(&a.2)))
        .map(|(c, _, _)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_fields_are_found_with_suggestions() {
        let f = load_str(
            "apiVersion: kubeflow.org/v1beta1\nkind: Experiment\nmetadata: {name: x, labels: {a: b}}\nspec:\n  paralelTrialCount: 3\n  parameters:\n  - name: lr\n    parameterType: double\n    feasibleSpace: {min: '0.1', mx: '0.2'}\n",
        )
        .unwrap();
        let errs: Vec<String> = f.experiments[0]
            .unknown_fields
            .iter()
            .map(|e| e.to_string())
            .collect();
        assert!(
            errs.contains(
                &"spec: unknown field \"paralelTrialCount\", did you mean \"parallelTrialCount\"?"
                    .to_string()
            ),
            "{errs:?}"
        );
        assert!(
            errs.contains(
                &"spec.parameters[0].feasibleSpace: unknown field \"mx\", did you mean \"max\"?"
                    .to_string()
            ),
            "{errs:?}"
        );
        assert_eq!(errs.len(), 2, "metadata.labels is not unknown: {errs:?}");
    }

    #[test]
    fn wrong_types_name_the_field() {
        let err = load_str("kind: Experiment\nspec:\n  maxTrialCount: lots\n").unwrap_err();
        let s = err.to_string();
        assert!(s.starts_with("spec.maxTrialCount: invalid type"), "{s}");
    }

    #[test]
    fn multi_document_yaml_json_and_lists() {
        let f = load_str("kind: Experiment\nmetadata: {name: a}\n---\nkind: Namespace\n---\nkind: Experiment\nmetadata: {name: b}\n---\n").unwrap();
        assert_eq!(f.experiments.len(), 2);
        assert_eq!(f.skipped, vec![(2, "Namespace".to_string())]);
        let j = load_str(r#"{"kind":"List","items":[{"kind":"Experiment","metadata":{"name":"a"}},{"kind":"Experiment","metadata":{"name":"b"}}]}"#).unwrap();
        assert_eq!(j.experiments.len(), 2);
        assert_eq!(j.experiments[1].doc.metadata.name.as_deref(), Some("b"));
        let arr = load_str(r#"[{"kind":"Experiment","spec":{"maxTrialCount":4}}]"#).unwrap();
        assert_eq!(arr.experiments[0].doc.spec.max_trial_count, Some(4));
    }

    #[test]
    fn syntax_errors_are_reported() {
        assert!(matches!(
            load_str("spec: [unclosed"),
            Err(CoreError::Syntax(_))
        ));
    }

    #[test]
    fn numbers_or_strings_for_values() {
        let f = load_str("kind: Experiment\nspec:\n  parameters:\n  - feasibleSpace: {min: 0.01, max: \"1\", list: [1, a, 2.5]}\n").unwrap();
        let fs = f.experiments[0].doc.spec.parameters[0]
            .feasible_space
            .clone()
            .unwrap();
        assert_eq!(fs.min.unwrap().0, "0.01");
        assert_eq!(fs.max.unwrap().0, "1");
        let l: Vec<String> = fs.list.unwrap().into_iter().map(|s| s.0).collect();
        assert_eq!(l, ["1", "a", "2.5"]);
    }
}
