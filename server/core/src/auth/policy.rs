//! The one place that decides (user, action, resource) → allow or deny.
//!
//! Every server function and route asks [`allows`]; the authorization matrix test enumerates
//! them all, so an endpoint without a policy entry fails the build's tests.

use super::User;
use serde::{Deserialize, Serialize};

/// A user's standing towards one resource, from least to most trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Role {
    Anonymous,
    /// Signed in.
    Developer,
    /// Member of the squad that owns the resource.
    Owner,
    /// Site reliability engineer: administers the platform.
    Sre,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Anonymous, Role::Developer, Role::Owner, Role::Sre];
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Action {
    /// See one's own session and the ways to sign in.
    ViewSession,
    /// Read the catalog, services, squads (pages and JSON API).
    ViewCatalog,
    /// Edit a service's catalog entry.
    EditService,
    /// Attest or withdraw a readiness check of a service.
    AttestReadiness,
    /// Change a service's tier, which picks its REPL limits and masks: not the owners' to lower.
    SetTier,
    /// Create, list and revoke one's own API tokens; list and end one's own sessions.
    ManageOwnTokens,
    /// See and revoke anyone's tokens, offboard a person, grant time-bound access.
    AdministerAccess,
    /// Re-import the catalog from its descriptors.
    ImportCatalog,
    /// Change, roll back, export or import the platform defaults.
    AdminDefaults,
    /// Run read-only queries on a service's replicas, see one's query history.
    QueryReplica,
    /// Register replicas, browse and export the query audit.
    AdministerReplicas,
    /// See a service's deployments, pods and events.
    ViewWorkloads,
    /// Read and follow a service's pod logs.
    ReadLogs,
    /// See who read a service's logs and data.
    ViewServiceAudit,
}

impl Action {
    pub const ALL: [Action; 14] = [
        Action::ViewSession,
        Action::ViewCatalog,
        Action::EditService,
        Action::AttestReadiness,
        Action::SetTier,
        Action::ManageOwnTokens,
        Action::AdministerAccess,
        Action::ImportCatalog,
        Action::AdminDefaults,
        Action::QueryReplica,
        Action::AdministerReplicas,
        Action::ViewWorkloads,
        Action::ReadLogs,
        Action::ViewServiceAudit,
    ];

    /// The least role that may do it.
    pub fn requires(self) -> Role {
        match self {
            Action::ViewSession => Role::Anonymous,
            Action::ViewCatalog | Action::ManageOwnTokens | Action::ViewWorkloads => {
                Role::Developer
            }
            // Logs can hold customer data: like the REPL, only the owning squad and SREs.
            Action::EditService
            | Action::AttestReadiness
            | Action::QueryReplica
            | Action::ReadLogs
            | Action::ViewServiceAudit => Role::Owner,
            Action::ImportCatalog
            | Action::AdminDefaults
            | Action::AdministerReplicas
            | Action::SetTier
            | Action::AdministerAccess => Role::Sre,
        }
    }
}

/// The role of `user` towards a resource owned by `owner` (None: not owned by a squad).
pub fn role(user: Option<&User>, owner: Option<&str>) -> Role {
    match user {
        None => Role::Anonymous,
        Some(u) if u.sre => Role::Sre,
        // An empty owner (a service with a dangling or a person's owner) makes nobody its owner.
        Some(u) if owner.is_some_and(|o| !o.is_empty() && u.member_of(o)) => Role::Owner,
        Some(_) => Role::Developer,
    }
}

pub fn allows(user: Option<&User>, action: Action, owner: Option<&str>) -> bool {
    role(user, owner) >= action.requires()
}

/// [`allows`] for an action on one service owned by `owner`: also a time-bound grant on that
/// service opens what it covers (its REPL or its logs) to a non-owner.
pub fn allows_on_service(user: Option<&User>, action: Action, service: &str, owner: &str) -> bool {
    allows(user, action, Some(owner)) || user.is_some_and(|u| u.granted(service, action))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(squads: &[&str], sre: bool) -> User {
        User {
            login: "u".into(),
            name: "U".into(),
            squads: squads.iter().map(|s| s.to_string()).collect(),
            sre,
            provider: "dev".into(),
            identity: String::new(),
            grants: vec![],
        }
    }

    /// A service whose owner dangles (or a person owns) has the empty squad: nobody is its
    /// owner, not even someone whose provider groups gave them a squad of the dangling name.
    #[test]
    fn an_empty_owner_makes_nobody_the_owner() {
        let inpixon = user(&["inpixon", ""], false);
        assert!(!allows_on_service(Some(&inpixon), Action::EditService, "inpixon-indoor", ""));
        assert!(!allows_on_service(Some(&inpixon), Action::QueryReplica, "inpixon-indoor", ""));
        assert!(allows_on_service(
            Some(&user(&[], true)),
            Action::EditService,
            "inpixon-indoor",
            ""
        ));
    }

    #[test]
    fn owners_edit_their_own_services_only() {
        let maria = user(&["payments"], false);
        assert!(allows(Some(&maria), Action::EditService, Some("payments")));
        assert!(!allows(Some(&maria), Action::EditService, Some("search")));
        assert!(allows(Some(&maria), Action::ViewCatalog, None));
        assert!(!allows(Some(&maria), Action::ImportCatalog, None));
    }

    #[test]
    fn a_grant_opens_its_access_on_its_service_only() {
        let mut arjun = user(&["search"], false);
        arjun.grants.push(super::super::ServiceGrant {
            service: "ledger".into(),
            access: super::super::GrantAccess::Logs,
            expires_at: 0,
        });
        assert!(allows_on_service(Some(&arjun), Action::ReadLogs, "ledger", "payments"));
        assert!(
            !allows_on_service(Some(&arjun), Action::QueryReplica, "ledger", "payments"),
            "logs, not the REPL"
        );
        assert!(
            !allows_on_service(Some(&arjun), Action::ReadLogs, "payments-api", "payments"),
            "that service only"
        );
        assert!(!allows_on_service(Some(&arjun), Action::EditService, "ledger", "payments"));
    }

    #[test]
    fn anonymous_may_do_nothing_and_sre_everything() {
        let sre = user(&[], true);
        for action in Action::ALL.into_iter().filter(|a| *a != Action::ViewSession) {
            assert!(!allows(None, action, Some("payments")), "{action:?}");
            assert!(allows(Some(&sre), action, Some("payments")), "{action:?}");
        }
    }
}
