//! Kubernetes label selectors (`app=web,tier!=db,env in (prod,staging),!canary`): parsed once,
//! matched against an object's labels. The sandbox uses it to answer `labelSelector`, the console
//! to pick a service's workloads out of its caches.

use std::collections::BTreeMap;
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Requirement {
    Equals(String, String),
    NotEquals(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    DoesNotExist(String),
}

/// A parsed selector. The empty selector matches everything, as in Kubernetes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Selector {
    requirements: Vec<Requirement>,
    source: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("label selector {selector:?}: {reason}")]
pub struct SelectorError {
    pub selector: String,
    pub reason: String,
}

fn valid_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= 253
        && key.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'))
}

fn valid_value(value: &str) -> bool {
    value.len() <= 63
        && value.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// Splits on commas that are not inside a `( … )` value set.
fn split_top_level(text: &str) -> Vec<&str> {
    let (mut parts, mut depth, mut start) = (Vec::new(), 0i32, 0);
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

impl Selector {
    pub fn parse(text: &str) -> Result<Selector, SelectorError> {
        let fail = |reason: String| SelectorError { selector: text.to_string(), reason };
        let mut requirements = Vec::new();
        if text.trim().is_empty() {
            return Ok(Selector::default());
        }
        for part in split_top_level(text) {
            let part = part.trim();
            let requirement = if let Some(key) = part.strip_prefix('!') {
                Requirement::DoesNotExist(key.trim().to_string())
            } else if let Some((key, value)) = part.split_once("!=") {
                Requirement::NotEquals(key.trim().into(), value.trim().into())
            } else if let Some((key, value)) =
                part.split_once("==").or_else(|| part.split_once('='))
            {
                Requirement::Equals(key.trim().into(), value.trim().into())
            } else if let Some((key, set, negated)) = set_requirement(part) {
                let values: Vec<String> = set.split(',').map(|v| v.trim().to_string()).collect();
                if values.iter().any(|v| !valid_value(v)) {
                    return Err(fail(format!("{part:?} has an invalid value")));
                }
                if negated {
                    Requirement::NotIn(key, values)
                } else {
                    Requirement::In(key, values)
                }
            } else {
                Requirement::Exists(part.to_string())
            };
            let (key, values): (&str, Vec<&String>) = match &requirement {
                Requirement::Equals(k, v) | Requirement::NotEquals(k, v) => (k, vec![v]),
                Requirement::In(k, _) | Requirement::NotIn(k, _) => (k, vec![]),
                Requirement::Exists(k) | Requirement::DoesNotExist(k) => (k, vec![]),
            };
            if !valid_key(key) {
                return Err(fail(format!("{part:?} does not name a valid label key")));
            }
            if values.iter().any(|v| !valid_value(v)) {
                return Err(fail(format!("{part:?} has an invalid value")));
            }
            requirements.push(requirement);
        }
        Ok(Selector { requirements, source: text.trim().to_string() })
    }

    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }

    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.requirements.iter().all(|r| match r {
            Requirement::Equals(k, v) => labels.get(k) == Some(v),
            Requirement::NotEquals(k, v) => labels.get(k) != Some(v),
            Requirement::In(k, vs) => labels.get(k).is_some_and(|l| vs.contains(l)),
            Requirement::NotIn(k, vs) => labels.get(k).is_none_or(|l| !vs.contains(l)),
            Requirement::Exists(k) => labels.contains_key(k),
            Requirement::DoesNotExist(k) => !labels.contains_key(k),
        })
    }

    /// The labels an object must carry to match: the `key=value` requirements. The sandbox
    /// gives demo workloads these labels.
    pub fn required_labels(&self) -> BTreeMap<String, String> {
        self.requirements
            .iter()
            .filter_map(|r| match r {
                Requirement::Equals(k, v) => Some((k.clone(), v.clone())),
                _ => None,
            })
            .collect()
    }
}

/// `key in (a,b)` / `key notin (a,b)` → (key, "a,b", negated).
fn set_requirement(part: &str) -> Option<(String, &str, bool)> {
    let open = part.find('(')?;
    let set = part[open + 1..].strip_suffix(')')?;
    let head = part[..open].trim();
    let (key, negated) = if let Some(key) = head.strip_suffix(" notin") {
        (key, true)
    } else if let Some(key) = head.strip_suffix(" in") {
        (key, false)
    } else {
        return None;
    };
    Some((key.trim().to_string(), set, negated))
}

impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn every_operator_matches_as_kubernetes_does() {
        let l = labels(&[("app", "web"), ("env", "prod"), ("tier", "front")]);
        for (selector, expected) in [
            ("app=web", true),
            ("app==web", true),
            ("app=api", false),
            ("app!=api", true),
            ("app!=web", false),
            ("env in (prod, staging)", true),
            ("env in (staging)", false),
            ("env notin (staging)", true),
            ("missing notin (x)", true),
            ("tier", true),
            ("canary", false),
            ("!canary", true),
            ("!app", false),
            ("app=web,env in (prod),!canary", true),
            ("app=web,env=dev", false),
            ("", true),
        ] {
            let parsed = Selector::parse(selector).unwrap();
            assert_eq!(parsed.matches(&l), expected, "{selector}");
        }
    }

    #[test]
    fn malformed_selectors_are_refused_with_the_reason() {
        for bad in ["app=we b", "=web", "app in (a b)", "a,,b", "ap p"] {
            let error = Selector::parse(bad).unwrap_err();
            assert_eq!(error.selector, bad);
        }
    }

    #[test]
    fn required_labels_are_the_equalities() {
        let s = Selector::parse("backstage.io/kubernetes-id=cart,env!=dev").unwrap();
        assert_eq!(s.required_labels(), labels(&[("backstage.io/kubernetes-id", "cart")]));
    }
}
