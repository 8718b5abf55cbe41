//! Sign-in and sign-out routes: one shape for OIDC and GitHub (start, then the callback checked
//! against the pending login sealed in a cookie), the development sign-in, logout.

use super::*;

/// Sign-in and sign-out routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/auth/oidc/start", get(|State(s), Query(p)| start(s, "oidc", p)))
        .route(
            "/auth/oidc/callback",
            get(|State(s), session, headers, Query(p)| callback(s, "oidc", session, headers, p)),
        )
        .route("/auth/github/start", get(|State(s), Query(p)| start(s, "github", p)))
        .route(
            "/auth/github/callback",
            get(|State(s), session, headers, Query(p)| callback(s, "github", session, headers, p)),
        )
        .route("/auth/dev", post(dev_sign_in))
        .route("/auth/logout", post(logout))
}

#[derive(Deserialize)]
pub(super) struct StartParams {
    return_to: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct CallbackParams {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

/// Only local paths: an absolute or protocol-relative URL would make us an open redirect.
/// A path on this console to return to after sign-in, else `/`. An allow-list: printable ASCII
/// only (browsers drop tabs and line breaks, so `/\t/evil` would become `//evil`), one leading
/// slash, no backslash.
pub(super) fn safe_return(path: Option<&str>) -> String {
    let conservative = |p: &str| {
        p.starts_with('/')
            && !p.starts_with("//")
            && p.bytes().all(|b| b.is_ascii_graphic() && b != b'\\')
    };
    // And checked after parsing, as a browser resolves it against our origin: still ours.
    let same_origin = |p: &str| {
        let base = url::Url::parse("http://console.invalid/").expect("base URL");
        base.join(p).is_ok_and(|u| u.origin() == base.origin())
    };
    match path {
        Some(p) if conservative(p) && same_origin(p) => p.to_string(),
        _ => "/".to_string(),
    }
}

/// A provider's `error` parameter, as the OAuth error codes are spelt (`access_denied`): anything
/// else would let the provider's text forge lines in the log.
pub(super) fn provider_error(text: &str) -> String {
    let code: String = text
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        .take(64)
        .collect();
    if code.is_empty() {
        "unspecified".into()
    } else {
        code
    }
}

pub(super) fn login_error(provider: &str, error: &AuthError) -> Response {
    tracing::warn!(provider, %error, "sign-in failed");
    Redirect::to(&format!("/login?error={}", error.code())).into_response()
}

pub(super) fn pending_cookie(auth: &Auth, value: &str, max_age: i64) -> String {
    let name = cookie_name(auth, PENDING_COOKIE);
    if auth.secure_cookies {
        format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}; Secure")
    } else {
        format!("{name}={value}; Path=/auth/; HttpOnly; SameSite=Lax; Max-Age={max_age}")
    }
}

/// Sends the browser to the provider with the pending login sealed in a cookie.
pub(super) async fn begin(
    auth: &Auth,
    started: Result<(String, Pending), AuthError>,
    provider: &str,
) -> Response {
    match started {
        Ok((url, pending)) => {
            let sealed =
                auth.sealing.seal(&serde_json::to_string(&pending).expect("pending serialises"));
            let mut response = Redirect::to(&url).into_response();
            if let Ok(value) =
                header::HeaderValue::from_str(&pending_cookie(auth, &sealed, PENDING_SECS))
            {
                response.headers_mut().append(header::SET_COOKIE, value);
            }
            response
        }
        Err(e) => login_error(provider, &e),
    }
}

/// A configured sign-in provider: OIDC and GitHub take the same two steps.
#[derive(Clone)]
pub(super) enum Provider {
    Oidc(Arc<OidcProvider>),
    Github(Arc<GithubProvider>),
}

impl Provider {
    fn named(auth: &Auth, name: &str) -> Result<Provider, AuthError> {
        let provider = match name {
            "oidc" => auth.oidc.clone().map(|(_, p)| Provider::Oidc(p)),
            "github" => auth.github.clone().map(Provider::Github),
            _ => None,
        };
        provider.ok_or_else(|| AuthError::UnknownProvider(name.into()))
    }

    /// The provider's authorization URL and the pending login to seal in a cookie.
    async fn start(&self, return_to: &str) -> Result<(String, Pending), AuthError> {
        match self {
            Provider::Oidc(p) => p.start("oidc", return_to).await,
            Provider::Github(p) => p.start(return_to),
        }
    }

    /// The callback checked against the pending login: who signed in, and the credential to
    /// re-check them with later.
    async fn finish(
        &self,
        pending: &Pending,
        code: Option<&str>,
        state: Option<&str>,
    ) -> Result<(Identity, Option<String>), AuthError> {
        match self {
            Provider::Oidc(p) => p.finish(pending, code, state).await,
            Provider::Github(p) => p.finish(pending, code, state).await,
        }
    }
}

pub(super) async fn start(state: AppState, provider: &'static str, p: StartParams) -> Response {
    let started = match Provider::named(&state.auth, provider) {
        Ok(signer) => signer.start(&safe_return(p.return_to.as_deref())).await,
        Err(e) => Err(e),
    };
    begin(&state.auth, started, provider).await
}

/// The pending login from its cookie, if it opens with our key and is for `provider`. The
/// callback clears the cookie whatever happens, so it is used once.
pub(super) fn take_pending(
    auth: &Auth,
    headers: &header::HeaderMap,
    provider: &str,
) -> Result<Pending, AuthError> {
    let cookie = cookie_name(auth, PENDING_COOKIE);
    let sealed = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(name, _)| *name == cookie)
        .map(|(_, value)| value.to_string())
        .ok_or(AuthError::StateMismatch)?;
    let pending: Pending = auth
        .sealing
        .open(&sealed)
        .and_then(|json| serde_json::from_str(&json).ok())
        .ok_or(AuthError::StateMismatch)?;
    if pending.provider != provider {
        return Err(AuthError::StateMismatch);
    }
    Ok(pending)
}

pub(super) async fn callback(
    state: AppState,
    provider: &'static str,
    session: Session,
    headers: header::HeaderMap,
    p: CallbackParams,
) -> Response {
    let result = async {
        let signer = Provider::named(&state.auth, provider)?;
        let pending = take_pending(&state.auth, &headers, provider)?;
        if let Some(error) = p.error {
            return Err(AuthError::ProviderRefused(provider_error(&error)));
        }
        let (identity, credential) =
            signer.finish(&pending, p.code.as_deref(), p.state.as_deref()).await?;
        Ok((identity, credential, pending.return_to))
    }
    .await;
    finish_login(&state, &session, result, provider).await
}

pub(super) type SignInResult = Result<(Identity, Option<String>, String), AuthError>;

pub(super) async fn finish_login(
    state: &AppState,
    session: &Session,
    result: SignInResult,
    provider: &str,
) -> Response {
    let mut response = match result {
        Ok((identity, credential, return_to)) => {
            match sign_in(state, session, &identity, credential.as_deref()).await {
                Ok(()) => Redirect::to(&safe_return(Some(&return_to))).into_response(),
                Err(SignInError::Blocked) => Redirect::to("/login?error=blocked").into_response(),
                Err(e) => {
                    tracing::error!(error = %e, "cannot store session");
                    StatusCode::INTERNAL_SERVER_ERROR.into_response()
                }
            }
        }
        Err(e) => login_error(provider, &e),
    };
    if provider != "dev" {
        if let Ok(value) = header::HeaderValue::from_str(&pending_cookie(&state.auth, "", 0)) {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
    response
}

#[derive(Debug, thiserror::Error)]
pub(super) enum SignInError {
    #[error(transparent)]
    Session(#[from] tower_sessions::session::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("offboarded: blocked until an SRE restores access")]
    Blocked,
}

/// Records the identity (linking it to its person) and starts a session for it, under a new
/// session id so a session fixed before sign-in is worth nothing after.
pub(super) async fn sign_in(
    state: &AppState,
    session: &Session,
    identity: &Identity,
    credential: Option<&str>,
) -> Result<(), SignInError> {
    let sealed = credential.map(|c| state.auth.sealing.seal(c));
    let id = match people::record_sign_in(&state.store, identity, sealed.as_deref()).await? {
        people::SignIn::Recorded(id) => id,
        // Offboarding is sticky, whichever provider or account the person comes back with.
        people::SignIn::Blocked => {
            tracing::warn!(login = %identity.login, provider = %identity.provider, "sign-in of an offboarded person refused");
            let name = format!("{}:{}", identity.provider, identity.subject);
            record(
                state,
                audit::SIGN_IN_BLOCKED,
                &name,
                &identity.provider,
                format!("as {}", identity.login),
            )
            .await;
            return Err(SignInError::Blocked);
        }
    };
    session.cycle_id().await?;
    session.insert(IDENTITY, &id).await?;
    session.insert(SIGNED_IN_AT, now()).await?;
    tracing::info!(login = %identity.login, provider = %identity.provider, "signed in");
    if let Some(stored) = people::find(&state.store, &id).await? {
        let detail = format!(
            "as {} (sre {}, squads from the provider [{}])",
            identity.login,
            identity.sre,
            identity.squads.join(", ")
        );
        record(state, audit::SIGNED_IN, &stored.actor, &identity.provider, detail).await;
    }
    Ok(())
}

#[derive(Deserialize)]
pub(super) struct DevForm {
    login: String,
    return_to: Option<String>,
}

pub(super) async fn dev_sign_in(
    State(state): State<AppState>,
    session: Session,
    Form(form): Form<DevForm>,
) -> Response {
    if !state.auth.dev_sign_in {
        return login_error("dev", &AuthError::UnknownProvider("dev".into()));
    }
    let known = match console_core::auth::dev::users(&state.store).await {
        Ok(users) => users.into_iter().any(|(login, _)| login == form.login),
        Err(e) => {
            tracing::error!(error = %e, "store error");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    if !known {
        return login_error(
            "dev",
            &AuthError::ProviderRefused(format!("no demo user {:?}", form.login)),
        );
    }
    // Squads come from the catalog's person of that name (plain names link under dev sign-in).
    let identity = Identity {
        provider: "dev".into(),
        subject: form.login.clone(),
        login: form.login.clone(),
        name: form.login.clone(),
        verified_emails: vec![],
        squads: vec![],
        sre: form.login == DEV_SRE,
    };
    finish_login(
        &state,
        &session,
        Ok((identity, None, safe_return(form.return_to.as_deref()))),
        "dev",
    )
    .await
}

pub(super) async fn logout(session: Session) -> Response {
    // Deletes the session on the server, not only the cookie.
    if let Err(e) = session.flush().await {
        tracing::error!(error = %e, "cannot delete session");
    }
    Redirect::to("/login").into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn return_paths_stay_local() {
        assert_eq!(safe_return(Some("/services/ledger?x=1")), "/services/ledger?x=1");
        // Browsers drop tabs and line breaks from URLs: `/\t/evil.example/` is `//evil.example/`.
        for bad in [
            "https://evil.example",
            "//evil.example",
            "/\\evil.example",
            "evil",
            "/\t/evil.example/",
            "/\n/evil.example",
            "/\r/x",
            "/ /evil.example",
            "/\u{a0}/x",
        ] {
            assert_eq!(safe_return(Some(bad)), "/", "{bad}");
        }
        assert_eq!(safe_return(None), "/");
    }

    #[test]
    fn provider_errors_cannot_forge_log_lines() {
        assert_eq!(provider_error("access_denied"), "access_denied");
        assert_eq!(
            provider_error("x\n2026-12-02T00:00:00Z INFO signed in login=sre"),
            "x2026-12-02T000000ZINFOsignedinloginsre"
        );
        assert_eq!(provider_error("\u{1b}[31m"), "31m");
        assert_eq!(provider_error(""), "unspecified");
    }
}
