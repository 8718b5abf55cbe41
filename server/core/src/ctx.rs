//! What one request acts with: the store, the limiter, the clusters, who is asking, and the
//! platform defaults read at most once. Every use case (`<feature>::actions`) takes a `Ctx`, and
//! [`Ctx::authorize`] is its one door to the policy (`auth::policy`).

use crate::auth::policy::{allows, allows_on_service, Action};
use crate::auth::User;
use crate::catalog::Service;
use crate::defaults::PlatformDefaults;
use crate::error::{Error, Result};
use crate::k8s::Clusters;
use crate::limiter::Limiter;
use crate::store::Store;

pub struct Ctx {
    pub store: Store,
    pub limiter: Limiter,
    pub clusters: Clusters,
    /// The signed-in user (session or token), or nobody.
    pub user: Option<User>,
    defaults: tokio::sync::OnceCell<(i64, PlatformDefaults)>,
}

impl Ctx {
    pub fn new(store: Store, limiter: Limiter, clusters: Clusters, user: Option<User>) -> Ctx {
        Ctx { store, limiter, clusters, user, defaults: Default::default() }
    }

    /// A context for work no user asked for (start-up import, tests of the domain alone).
    pub fn system(store: Store) -> Ctx {
        Ctx::new(store.clone(), Limiter::new(store), Clusters::default(), None)
    }

    /// The same resources, acting as `user`.
    pub fn as_user(&self, user: Option<User>) -> Ctx {
        Ctx::new(self.store.clone(), self.limiter.clone(), self.clusters.clone(), user)
    }

    /// The signed-in user, or `Unauthorized`.
    pub fn signed_in(&self) -> Result<&User> {
        self.user.as_ref().ok_or(Error::Unauthorized)
    }

    /// Whether the policy lets the user do `action` on a resource owned by `owner` (None: a
    /// platform-wide resource). Anonymous callers get `Unauthorized`, others `Forbidden`.
    pub fn authorize(&self, action: Action, owner: Option<&str>) -> Result<Option<&User>> {
        if allows(self.user.as_ref(), action, owner) {
            return Ok(self.user.as_ref());
        }
        Err(self.refusal(action, owner))
    }

    /// [`Ctx::authorize`] for actions that need a signed-in user.
    pub fn authorize_user(&self, action: Action, owner: Option<&str>) -> Result<&User> {
        self.authorize(action, owner)?.ok_or(Error::Unauthorized)
    }

    /// The user, if the policy (or a grant in force on `service`) lets them do `action` there.
    pub fn authorize_on_service(&self, action: Action, service: &Service) -> Result<&User> {
        if allows_on_service(self.user.as_ref(), action, &service.name, &service.squad) {
            return self.signed_in();
        }
        Err(self.refusal(action, Some(&service.squad)))
    }

    fn refusal(&self, action: Action, owner: Option<&str>) -> Error {
        match &self.user {
            None => Error::Unauthorized,
            Some(u) => {
                tracing::info!(login = %u.login, ?action, ?owner, "refused by policy");
                Error::Forbidden(match owner {
                    Some(squad) => format!("only members of {squad} (or SREs) may do this"),
                    None => "only SREs may do this".into(),
                })
            }
        }
    }

    /// The service named `name`, or `NotFound`.
    pub async fn service(&self, name: &str) -> Result<Service> {
        crate::catalog::repo::service(&self.store, name)
            .await?
            .ok_or_else(|| Error::NotFound(format!("service {name:?}")))
    }

    /// The platform defaults in force and their version, read once per request.
    pub async fn defaults(&self) -> Result<&(i64, PlatformDefaults)> {
        self.defaults
            .get_or_try_init(|| async {
                Ok::<_, Error>(crate::defaults::repo::current(&self.store).await?)
            })
            .await
    }
}
