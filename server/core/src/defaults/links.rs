//! Metrics link templates: `https://grafana.example.com/d/svc?var-service={service}`.
//!
//! Validated when saved (known placeholders only, http(s) only, a well-formed URL) and rendered
//! with every value URL-encoded, so a hostile service name cannot change the link's shape.

use crate::catalog::{encode_component, Tier};
use serde::{Deserialize, Serialize};

pub const PLACEHOLDERS: [&str; 5] = ["service", "squad", "cluster", "namespace", "tier"];

/// Who gets a link: everyone, services of one tier, or one service (an override).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    Everyone,
    Tier(u8),
    Service(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkTemplate {
    pub name: String,
    /// grafana, datadog, newrelic, or any short word.
    #[serde(default)]
    pub icon: String,
    pub url: String,
    pub scope: Scope,
}

/// The values a template is rendered with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkContext<'a> {
    pub service: &'a str,
    pub squad: &'a str,
    pub cluster: &'a str,
    pub namespace: &'a str,
    pub tier: Tier,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RenderedLink {
    pub name: String,
    pub icon: String,
    pub url: String,
}

pub fn starter_templates() -> Vec<LinkTemplate> {
    vec![
        LinkTemplate {
            name: "Grafana".into(),
            icon: "grafana".into(),
            url: "https://grafana.example.com/d/service-overview?var-service={service}&var-namespace={namespace}".into(),
            scope: Scope::Everyone,
        },
        LinkTemplate {
            name: "Datadog APM".into(),
            icon: "datadog".into(),
            url: "https://app.datadoghq.com/apm/services/{service}?env=production".into(),
            scope: Scope::Tier(1),
        },
    ]
}

/// Splits a template into literal text and placeholders; errors on `{` without `}` or an
/// unknown name.
fn parts(template: &str) -> Result<Vec<(bool, &str)>, String> {
    let mut out = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push((false, &rest[..open]));
        let after = &rest[open + 1..];
        let close = after.find('}').ok_or_else(|| "a '{' has no closing '}'".to_string())?;
        let name = &after[..close];
        if !PLACEHOLDERS.contains(&name) {
            return Err(format!(
                "unknown placeholder {{{name}}}; known: {}",
                PLACEHOLDERS.map(|p| format!("{{{p}}}")).join(", ")
            ));
        }
        out.push((true, name));
        rest = &after[close + 1..];
    }
    if rest.contains('}') {
        return Err("a '}' has no opening '{'".into());
    }
    out.push((false, rest));
    Ok(out)
}

impl LinkTemplate {
    pub fn validate(&self) -> Result<(), String> {
        if self.name.trim().is_empty() || self.name.chars().count() > 60 {
            return Err("a link needs a name of 1 to 60 characters".into());
        }
        if let Scope::Tier(t) = self.scope {
            Tier::new(t as i64)?;
        }
        parts(&self.url)?;
        let lower = self.url.trim_start().to_ascii_lowercase();
        if !(lower.starts_with("https://") || lower.starts_with("http://")) {
            return Err(format!("only http(s) links are allowed, not {:?}", self.url));
        }
        // Rendered with sample values, it must be a well-formed URL with a host.
        let sample = LinkContext {
            service: "svc",
            squad: "squad",
            cluster: "cluster",
            namespace: "ns",
            tier: Tier::ALL[0],
        };
        let rendered = self.render(&sample)?;
        #[cfg(feature = "server")]
        {
            let parsed = url::Url::parse(&rendered).map_err(|e| format!("not a valid URL: {e}"))?;
            if parsed.host_str().is_none_or(str::is_empty) {
                return Err("the URL has no host".into());
            }
        }
        #[cfg(not(feature = "server"))]
        let _ = rendered;
        Ok(())
    }

    pub fn applies_to(&self, service: &str, tier: Tier) -> bool {
        match &self.scope {
            Scope::Everyone => true,
            Scope::Tier(t) => *t == tier.number(),
            Scope::Service(s) => s == service,
        }
    }

    pub fn render(&self, ctx: &LinkContext) -> Result<String, String> {
        let tier = ctx.tier.number().to_string();
        Ok(parts(&self.url)?
            .into_iter()
            .map(|(placeholder, text)| {
                if !placeholder {
                    return text.to_string();
                }
                encode_component(match text {
                    "service" => ctx.service,
                    "squad" => ctx.squad,
                    "cluster" => ctx.cluster,
                    "namespace" => ctx.namespace,
                    _ => &tier,
                })
            })
            .collect())
    }
}

/// The links a service shows: a service-scoped template overrides one of the same name.
pub fn links_for(templates: &[LinkTemplate], ctx: &LinkContext) -> Vec<RenderedLink> {
    let mut chosen: Vec<&LinkTemplate> = Vec::new();
    for t in templates.iter().filter(|t| t.applies_to(ctx.service, ctx.tier)) {
        match chosen.iter().position(|c| c.name == t.name) {
            Some(i) if matches!(t.scope, Scope::Service(_)) => chosen[i] = t,
            Some(_) => {}
            None => chosen.push(t),
        }
    }
    chosen
        .into_iter()
        .filter_map(|t| {
            t.render(ctx).ok().map(|url| RenderedLink {
                name: t.name.clone(),
                icon: t.icon.clone(),
                url,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template(url: &str, scope: Scope) -> LinkTemplate {
        LinkTemplate { name: "Grafana".into(), icon: "grafana".into(), url: url.into(), scope }
    }

    fn ctx(service: &str) -> LinkContext<'_> {
        LinkContext {
            service,
            squad: "pay ments",
            cluster: "",
            namespace: "prod",
            tier: Tier::new(2).unwrap(),
        }
    }

    #[test]
    fn renders_with_every_value_encoded() {
        let t = template(
            "https://g.example.com/d/x?s={service}&q={squad}&t={tier}&c={cluster}",
            Scope::Everyone,
        );
        assert_eq!(
            t.render(&ctx("ledger")).unwrap(),
            "https://g.example.com/d/x?s=ledger&q=pay%20ments&t=2&c="
        );
        let hostile = t.render(&ctx("a&b=c#/../<script>\"")).unwrap();
        assert_eq!(
            hostile,
            "https://g.example.com/d/x?s=a%26b%3Dc%23%2F..%2F%3Cscript%3E%22&q=pay%20ments&t=2&c="
        );
    }

    #[test]
    fn refuses_bad_templates_with_the_reason() {
        let cases = [
            ("https://g.example.com/{servce}", "unknown placeholder {servce}"),
            ("javascript:alert(1)", "only http(s)"),
            ("JAVASCRIPT:alert(1)", "only http(s)"),
            ("data:text/html,hi", "only http(s)"),
            ("https://g.example.com/{service", "no closing"),
            ("https://g.example.com/service}", "no opening"),
            ("https://", "not a valid URL"),
            ("http://exa mple.com/", "not a valid URL"),
        ];
        for (url, reason) in cases {
            let err = template(url, Scope::Everyone).validate().unwrap_err();
            assert!(err.contains(reason), "{url}: {err}");
        }
        assert!(template("https://g.example.com/{service}", Scope::Tier(5)).validate().is_err());
        template("https://g.example.com/{service}?t={tier}", Scope::Tier(1)).validate().unwrap();
    }

    #[test]
    fn scopes_pick_links_and_service_overrides_win() {
        let templates = vec![
            template("https://all.example.com/{service}", Scope::Everyone),
            LinkTemplate {
                name: "Tier 1 only".into(),
                icon: String::new(),
                url: "https://t1.example.com/".into(),
                scope: Scope::Tier(1),
            },
            template("https://special.example.com/{service}", Scope::Service("ledger".into())),
        ];
        let ledger = links_for(&templates, &ctx("ledger"));
        assert_eq!(ledger.len(), 1);
        assert_eq!(ledger[0].url, "https://special.example.com/ledger");
        let other = links_for(&templates, &ctx("cart"));
        assert_eq!(other[0].url, "https://all.example.com/cart");
    }
}
