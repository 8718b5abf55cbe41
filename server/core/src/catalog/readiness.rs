//! Production readiness after Shopify's ServicesDB: each tier adds checks, and a service at
//! tier N must meet the checks of tier N and of every less critical tier (N+1 … 4).
//!
//! A check is derived where the catalog data can tell (a runbook link, two owners…) and
//! otherwise attested by the squad, with who and when.

use super::model::{Score, Service, Squad, Tier};
use serde::{Deserialize, Serialize};

/// How a check is decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Evidence {
    /// The owning squad exists.
    HasOwner,
    /// The owning squad has two or more members.
    SeveralOwners,
    /// The owning squad names an on-call rotation.
    OnCall,
    /// The service links a runbook / playbook.
    Runbook,
    /// The service states an SLO.
    Slo,
    /// Only the squad can say; met when attested.
    Attested,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Check {
    /// Stable id, used in `console.dev/attest-<id>` annotations.
    pub id: String,
    pub title: String,
    /// The most critical tier that does not need it is tier - 1: tiers 1..=tier require it.
    pub tier: u8,
    pub evidence: Evidence,
    /// Component types (`spec.type`) it does not apply to: a library has no uptime to monitor.
    /// A list of exceptions, not of types, so a type nobody listed gets every check.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub except_types: Vec<String>,
}

/// Types that do not run: the operational checks do not apply to them by default.
const NOT_RUNNING: &[&str] = &["library", "documentation"];

/// The standard requirements (editable by SREs once platform defaults exist).
pub fn standard_checks() -> Vec<Check> {
    use Evidence::*;
    // (id, title, tier, evidence, for running components only)
    let table: &[(&str, &str, u8, Evidence, bool)] = &[
        // Tier 4: experiment.
        ("owner", "Has an owning squad", 4, HasOwner, false),
        ("security-bugs-fixed", "Security bugs are fixed", 4, Attested, false),
        ("outages-resolved", "Outages are resolved", 4, Attested, true),
        // Tier 3: useful.
        ("several-owners", "More than one owner", 3, SeveralOwners, false),
        ("deploy-automation", "Deploys are automated", 3, Attested, true),
        ("ci", "Continuous integration", 3, Attested, false),
        ("dev-setup", "Standard development setup", 3, Attested, false),
        ("uptime-monitor", "Uptime monitor", 3, Attested, true),
        ("error-tracking", "Error tracking", 3, Attested, true),
        ("log-retention", "Log retention", 3, Attested, true),
        ("backups", "Backups", 3, Attested, true),
        ("tls", "TLS everywhere", 3, Attested, true),
        // Tier 2: important.
        ("on-call", "On-call rotation", 2, OnCall, true),
        ("alerting", "Alerting", 2, Attested, true),
        ("metrics", "Metrics", 2, Attested, true),
        ("dedicated-db", "Dedicated database", 2, Attested, true),
        ("load-tested", "Load tested", 2, Attested, true),
        ("rolling-deploy", "Rolling deploys", 2, Attested, true),
        // Tier 1: critical.
        ("playbook", "Playbooks / runbook", 1, Runbook, true),
        ("slo", "Defined SLO", 1, Slo, true),
        ("resiliency", "Resiliency patterns", 1, Attested, true),
        ("failover", "Failover", 1, Attested, true),
        ("scheduled-load-tests", "Scheduled load tests", 1, Attested, true),
        ("security-review", "Security review", 1, Attested, false),
    ];
    table
        .iter()
        .map(|&(id, title, tier, evidence, running)| Check {
            id: id.into(),
            title: title.into(),
            tier,
            evidence,
            except_types: if running {
                NOT_RUNNING.iter().map(|t| t.to_string()).collect()
            } else {
                vec![]
            },
        })
        .collect()
}

/// One check's outcome for one service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckResult {
    pub check: Check,
    pub met: bool,
    /// Why: what the data shows, or who attested and when.
    pub because: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Readiness {
    pub tier: Tier,
    pub checks: Vec<CheckResult>,
    pub score: Score,
}

impl Readiness {
    pub fn missing(&self) -> impl Iterator<Item = &CheckResult> {
        self.checks.iter().filter(|c| !c.met)
    }
}

/// The checks a component of `component_type` at `tier` must meet.
pub fn required_for<'a>(
    tier: Tier,
    component_type: &'a str,
    checks: &'a [Check],
) -> impl Iterator<Item = &'a Check> {
    checks.iter().filter(move |c| {
        c.tier >= tier.number()
            && !c.except_types.iter().any(|t| t.eq_ignore_ascii_case(component_type))
    })
}

/// `squad` is the owning squad; a service a person owns is evaluated against [`Squad::none`].
pub fn evaluate(service: &Service, squad: &Squad, checks: &[Check]) -> Readiness {
    let results: Vec<CheckResult> = required_for(service.tier, &service.component_type, checks)
        .map(|check| {
            let (met, because) = decide(check, service, squad);
            CheckResult { check: check.clone(), met, because }
        })
        .collect();
    let met = results.iter().filter(|r| r.met).count() as u32;
    Readiness {
        tier: service.tier,
        score: Score { met, required: results.len() as u32 },
        checks: results,
    }
}

fn decide(check: &Check, service: &Service, squad: &Squad) -> (bool, String) {
    let derived =
        |met: bool, yes: String, no: &str| if met { (true, yes) } else { (false, no.to_string()) };
    match check.evidence {
        Evidence::HasOwner if !service.dangling_owner.is_empty() => (
            false,
            format!(
                "its owner {} names no squad or person of the catalog, so nobody owns it",
                service.dangling_owner
            ),
        ),
        Evidence::HasOwner if !service.owner_person.is_empty() => {
            (false, format!("owned by a person ({}), not a squad", service.owner_person))
        }
        Evidence::HasOwner => derived(
            !service.squad.is_empty() && service.squad == squad.name,
            format!("owned by {}", squad.name),
            "no owning squad",
        ),
        Evidence::SeveralOwners => derived(
            squad.members.len() >= 2,
            format!("{} members in {}", squad.members.len(), squad.name),
            "the owning squad has fewer than two members",
        ),
        Evidence::OnCall => derived(
            !squad.oncall.rotation.is_empty(),
            format!("rotation {}", squad.oncall.rotation),
            "the owning squad has no on-call rotation",
        ),
        Evidence::Runbook => {
            derived(!service.runbook.is_empty(), "runbook linked".to_string(), "no runbook link")
        }
        Evidence::Slo => {
            derived(!service.slo.is_empty(), format!("SLO: {}", service.slo), "no SLO stated")
        }
        Evidence::Attested => match service.attestations.iter().find(|a| a.check == check.id) {
            Some(a) => (true, format!("attested by {} on {}", a.by, a.at)),
            None => (false, "not attested".to_string()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::model::*;

    fn squad(members: usize, rotation: &str) -> Squad {
        Squad {
            name: "payments".into(),
            display_name: "Payments".into(),
            description: String::new(),
            chat_channel: String::new(),
            oncall: OnCall { rotation: rotation.into(), url: String::new() },
            members: (0..members).map(|i| format!("dev{i}")).collect(),
            links: vec![],
            parent: String::new(),
            group_type: "team".into(),
        }
    }

    fn service(tier: i64) -> Service {
        Service {
            name: "checkout".into(),
            squad: "payments".into(),
            owner_person: String::new(),
            component_type: "service".into(),
            source: String::new(),
            tier: Tier::new(tier).unwrap(),
            lifecycle: Lifecycle::Production,
            lifecycle_label: String::new(),
            dangling_owner: String::new(),
            description: String::new(),
            system: String::new(),
            repository: String::new(),
            runbook: String::new(),
            slo: String::new(),
            tags: vec![],
            links: vec![],
            workloads: Workloads::default_for("checkout"),
            attestations: vec![],
        }
    }

    #[test]
    fn a_tier_requires_its_own_checks_and_all_less_critical_ones() {
        let checks = standard_checks();
        let count = |t| required_for(Tier::new(t).unwrap(), "service", &checks).count();
        assert_eq!(count(4), 3);
        assert_eq!(count(3), 3 + 9);
        assert_eq!(count(2), 3 + 9 + 6);
        assert_eq!(count(1), 3 + 9 + 6 + 6);
    }

    #[test]
    fn a_library_is_not_asked_for_what_only_running_code_has() {
        let checks = standard_checks();
        let library: Vec<&str> =
            required_for(Tier::ALL[0], "library", &checks).map(|c| c.id.as_str()).collect();
        assert_eq!(
            library,
            [
                "owner",
                "security-bugs-fixed",
                "several-owners",
                "ci",
                "dev-setup",
                "security-review"
            ]
        );
        assert_eq!(
            required_for(Tier::ALL[0], "Library", &checks).count(),
            library.len(),
            "types in any case"
        );
        assert_eq!(required_for(Tier::ALL[0], "website", &checks).count(), 24, "a website runs");
        assert_eq!(
            required_for(Tier::ALL[0], "grpc-gateway", &checks).count(),
            24,
            "a type nobody listed gets every check"
        );
        // The exceptions are data: SREs may widen a check to every type.
        let mut widened = checks.clone();
        widened.iter_mut().find(|c| c.id == "backups").unwrap().except_types.clear();
        assert!(required_for(Tier::ALL[2], "library", &widened).any(|c| c.id == "backups"));
    }

    #[test]
    fn a_service_a_person_owns_has_no_owning_squad() {
        let mut svc = service(4);
        svc.squad = String::new();
        svc.owner_person = "guest".into();
        let r = evaluate(&svc, &Squad::none(), &standard_checks());
        let owner = r.checks.iter().find(|c| c.check.id == "owner").unwrap();
        assert!(!owner.met);
        assert!(owner.because.contains("guest"), "{}", owner.because);
    }

    #[test]
    fn derived_checks_follow_the_data() {
        let checks = standard_checks();
        let mut svc = service(1);
        let r = evaluate(&svc, &squad(1, ""), &checks);
        let met = |r: &Readiness, id: &str| r.checks.iter().find(|c| c.check.id == id).unwrap().met;
        assert!(met(&r, "owner"));
        assert!(!met(&r, "several-owners"));
        assert!(!met(&r, "on-call"));
        assert!(!met(&r, "playbook"));
        assert!(!met(&r, "slo"));

        svc.runbook = "https://runbooks/checkout".into();
        svc.slo = "99.9% of requests < 300 ms".into();
        let r = evaluate(&svc, &squad(2, "payments-primary"), &checks);
        for id in ["several-owners", "on-call", "playbook", "slo"] {
            assert!(met(&r, id), "{id}");
        }
    }

    #[test]
    fn attestations_say_who_and_when() {
        let checks = standard_checks();
        let mut svc = service(4);
        svc.attestations.push(Attestation {
            check: "security-bugs-fixed".into(),
            by: "maria".into(),
            at: "2026-10-01".into(),
        });
        let r = evaluate(&svc, &squad(1, ""), &checks);
        let c = r.checks.iter().find(|c| c.check.id == "security-bugs-fixed").unwrap();
        assert!(c.met);
        assert_eq!(c.because, "attested by maria on 2026-10-01");
        assert_eq!(r.score, Score { met: 2, required: 3 });
        assert_eq!(
            r.missing().map(|c| c.check.id.as_str()).collect::<Vec<_>>(),
            ["outages-resolved"]
        );
    }
}
