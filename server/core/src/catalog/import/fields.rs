//! Reading a descriptor's fields, each problem recorded with its line and field.

use super::*;

impl Problems<'_, '_> {
    /// What was assumed (reported, not refused).
    pub(super) fn warn(&mut self, path: &[&str], message: &str) {
        self.warnings.push(Problem {
            file: self.doc.file.to_string(),
            line: self.doc.line_of(path),
            field: path.join("."),
            message: message.to_string(),
        });
    }

    pub(super) fn add(&mut self, path: &[&str], message: &str) {
        self.list.push(Problem {
            file: self.doc.file.to_string(),
            line: self.doc.line_of(path),
            field: path.join("."),
            message: message.to_string(),
        });
    }

    /// A string field; numbers and booleans are accepted as their text.
    pub(super) fn string(&mut self, path: &[&str], required: bool) -> Option<String> {
        match self.doc.get(path) {
            None | Some(Value::Null) => {
                if required {
                    self.add(path, "missing required field");
                }
                None
            }
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Number(n)) => Some(n.to_string()),
            Some(Value::Bool(b)) => Some(b.to_string()),
            Some(_) => {
                self.add(path, "must be a string");
                None
            }
        }
    }

    pub(super) fn text(&mut self, path: &[&str]) -> String {
        self.string(path, false).unwrap_or_default()
    }

    pub(super) fn strings(&mut self, path: &[&str]) -> Vec<String> {
        match self.doc.get(path) {
            None | Some(Value::Null) => vec![],
            Some(Value::Sequence(items)) if items.iter().all(Value::is_string) => {
                items.iter().filter_map(|v| v.as_str().map(str::to_string)).collect()
            }
            Some(_) => {
                self.add(path, "must be a list of strings");
                vec![]
            }
        }
    }

    pub(super) fn annotations(&mut self) -> BTreeMap<String, String> {
        let path = ["metadata", "annotations"];
        match self.doc.get(&path) {
            None | Some(Value::Null) => BTreeMap::new(),
            Some(Value::Mapping(m)) => {
                let mut out = BTreeMap::new();
                for (k, v) in m {
                    match (k.as_str(), v) {
                        (Some(k), Value::String(v)) => {
                            out.insert(k.to_string(), v.clone());
                        }
                        (Some(k), Value::Number(n)) => {
                            out.insert(k.to_string(), n.to_string());
                        }
                        (Some(k), _) => {
                            self.add(&["metadata", "annotations", k], "must be a string")
                        }
                        (None, _) => self.add(&path, "keys must be strings"),
                    }
                }
                out
            }
            Some(_) => {
                self.add(&path, "must be a mapping of strings");
                BTreeMap::new()
            }
        }
    }

    pub(super) fn links(&mut self) -> Vec<Link> {
        let path = ["metadata", "links"];
        let Some(Value::Sequence(items)) = self.doc.get(&path) else {
            if !matches!(self.doc.get(&path), None | Some(Value::Null)) {
                self.add(&path, "must be a list of {url, title}");
            }
            return vec![];
        };
        let mut links = Vec::new();
        for item in items {
            match item.get("url").and_then(Value::as_str) {
                Some(url) if safe_href(url).is_some() => links.push(Link {
                    url: url.to_string(),
                    title: item.get("title").and_then(Value::as_str).unwrap_or(url).to_string(),
                }),
                Some(url) => self.add(
                    &["metadata", "links", "url"],
                    &format!("must be an http(s) URL, not {url:?}"),
                ),
                None => self.add(&["metadata", "links"], "each link needs a url"),
            }
        }
        links
    }

    pub(super) fn name(&mut self, kind: EntityKind, namespace: &str) -> Option<String> {
        let name = self.string(&["metadata", "name"], true)?;
        if !valid_name(&name) {
            self.add(&["metadata", "name"], &format!("{name:?} {NAME_RULE}"));
            None
        } else if kind == EntityKind::Component
            && namespace != DEFAULT_NAMESPACE
            && RESERVED_SERVICE_NAMES.contains(&name.as_str())
        {
            let message = format!("{name:?} outside the default namespace would be a page of service {namespace:?}: choose another name");
            self.add(&["metadata", "name"], &message);
            None
        } else {
            Some(name)
        }
    }

    /// `metadata.namespace`, checked; `default` when absent.
    pub(super) fn namespace(&mut self) -> String {
        match self.string(&["metadata", "namespace"], false) {
            None => DEFAULT_NAMESPACE.to_string(),
            Some(ns) if valid_namespace(&ns) => ns,
            Some(ns) => {
                self.add(
                    &["metadata", "namespace"],
                    &format!("{ns:?} must be lower-case letters, digits and '-' (at most 63)"),
                );
                DEFAULT_NAMESPACE.to_string()
            }
        }
    }

    /// `spec.owner`: a Group (the default kind) or a User, as (kind, key).
    pub(super) fn owner(&mut self, namespace: &str) -> Option<(EntityKind, String)> {
        let raw = self.string(&["spec", "owner"], true)?;
        match parse_ref(&raw, EntityKind::Group, namespace) {
            Ok((kind @ (EntityKind::Group | EntityKind::User), key)) => Some((kind, key)),
            Ok(_) => {
                self.add(
                    &["spec", "owner"],
                    &format!("must be a Group (squad) or a User, not {raw:?}"),
                );
                None
            }
            Err(e) => {
                self.add(&["spec", "owner"], &e);
                None
            }
        }
    }

    /// References in one field, as (kind, key), each checked.
    pub(super) fn refs(
        &mut self,
        path: &[&str],
        default_kind: EntityKind,
        namespace: &str,
    ) -> Vec<(EntityKind, String)> {
        let raw = match self.doc.get(path) {
            Some(Value::String(one)) => vec![one.clone()],
            _ => self.strings(path),
        };
        let mut out = Vec::new();
        for r in raw {
            match parse_ref(&r, default_kind, namespace) {
                Ok(found) => out.push(found),
                Err(e) => self.add(path, &e),
            }
        }
        out
    }

    /// The edges a descriptor declares, in Backstage's fields.
    pub(super) fn relations(
        &mut self,
        kind: EntityKind,
        key: &str,
        namespace: &str,
    ) -> Vec<Relation> {
        use EntityKind::*;
        let fields: &[(&str, &str, EntityKind)] = match kind {
            Component => &[
                ("system", "partOf", System),
                ("subcomponentOf", "subcomponentOf", Component),
                ("providesApis", "providesApi", Api),
                ("consumesApis", "consumesApi", Api),
                ("dependsOn", "dependsOn", Component),
            ],
            Api => &[("system", "partOf", System)],
            Resource => &[("system", "partOf", System), ("dependsOn", "dependsOn", Resource)],
            System => &[("domain", "partOf", Domain)],
            Domain => &[("subdomainOf", "partOf", Domain)],
            _ => &[],
        };
        let mut out = Vec::new();
        for (field, relation, default_kind) in fields {
            for (to_kind, to) in self.refs(&["spec", field], *default_kind, namespace) {
                out.push(Relation {
                    from_kind: kind,
                    from: key.to_string(),
                    relation: relation.to_string(),
                    to_kind,
                    to,
                });
            }
        }
        out
    }
}
