//! The HTML shell, the router and the page frame.

use crate::audit::AuditPage;
use crate::auth::{session_info, LoginPage, SessionView, TokensPage};
use crate::catalog::{
    CatalogPage, EditServicePage, HomePage, ReadinessPage, ServicePage, SquadPage,
};
use crate::components::NotFound;
use crate::defaults::DefaultsPage;
use crate::error::AppError;
use crate::query::QueryPage;
use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Stylesheet, Title};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::{path, SsrMode};

/// The Content-Security-Policy of every page: scripts only from here or carrying this
/// response's nonce (the hydration scripts), wasm compiled but no `eval`, requests only to
/// here, no framing, no plugins, no `<base>` elsewhere. Inline `style` attributes stay (bar
/// widths); inline `<style>` and `<script>` do not.
pub fn content_security_policy(nonce: &str) -> String {
    format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; style-src 'self'; style-src-attr 'unsafe-inline'; \
         img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; object-src 'none'; base-uri 'self'; form-action 'self'"
    )
}

pub fn shell(options: LeptosOptions) -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let (Some(nonce), Some(response)) =
        (leptos::nonce::use_nonce(), use_context::<leptos_axum::ResponseOptions>())
    {
        if let Ok(value) = http::HeaderValue::from_str(&content_security_policy(&nonce.to_string()))
        {
            response.insert_header(http::header::CONTENT_SECURITY_POLICY, value);
        }
    }
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <AutoReload options=options.clone() />
                <HydrationScripts options />
                <link rel="icon" href="/favicon.svg" type="image/svg+xml" />
                <MetaTags />
            </head>
            <body class="bg-slate-50 text-slate-900 antialiased">
                <App />
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    // Marks the page once the wasm side has taken over; end-to-end tests wait for it.
    Effect::new(move |_| {
        if let Some(body) = document().body() {
            let _ = body.set_attribute("data-hydrated", "true");
        }
    });
    // Who is signed in, for the frame and for pages that hide what the user may not do.
    let session: Session = Resource::new(|| (), |_| session_info());
    provide_context(session);
    view! {
        <Stylesheet id="leptos" href="/pkg/console.css" />
        <Title formatter=|text: String| if text.is_empty() { "Console".to_string() } else { format!("{text} · Console") } />
        <Router>
            // Inside the hydrated app: the body's first child must be the app's own.
            <a href="#page" rel="external" class="sr-only focus:not-sr-only focus:absolute focus:left-2 focus:top-2 focus:z-50 focus:rounded focus:bg-white focus:px-3 focus:py-2 focus:text-slate-900">"Skip to the page"</a>
            <header class="bg-slate-900 text-white">
                // On a phone the header wraps instead of scrolling: the links on one line, the
                // account on the next, the search across the whole width last.
                <nav class="mx-auto max-w-6xl flex flex-wrap items-center gap-x-5 gap-y-1 px-4 py-2" aria-label="Main">
                    <a href="/" class="py-1 font-semibold tracking-tight">"Console"</a>
                    <a href="/catalog" class="py-1 text-slate-300 hover:text-white">"Catalog"</a>
                    <a href="/readiness" class="py-1 text-slate-300 hover:text-white">"Readiness"</a>
                    <form method="get" action="/catalog" role="search" class="order-last w-full sm:order-none sm:ml-auto sm:w-auto">
                        <input
                            type="search"
                            name="q"
                            placeholder="Search services…"
                            aria-label="Search services"
                            class="w-full rounded bg-slate-800 px-3 py-1 text-sm text-white placeholder-slate-400 sm:w-56"
                        />
                    </form>
                    <Transition fallback=|| ()>
                        {move || Suspend::new(async move { view! { <Account session=session.await.ok() /> } })}
                    </Transition>
                </nav>
                <Transition fallback=|| ()>
                    {move || Suspend::new(async move {
                        let dev = session.await.ok().is_some_and(|s| s.dev_sign_in);
                        view! {
                            <p class="bg-amber-400 px-4 py-1 text-center text-sm text-slate-900" class:hidden=!dev data-testid=if dev { "dev-banner" } else { "no-banner" }>
                                "Dev sign-in is on: anyone here can act as any demo user. Configure an identity provider for real use."
                            </p>
                        }
                    })}
                </Transition>
            </header>
            <main id="page" tabindex="-1" class="mx-auto max-w-6xl px-4 py-6 focus:outline-none">
                // Async SSR: the status code (404, 400) is known before the first byte is sent.
                <Routes fallback=|| view! { <NotFound what="page".to_string() /> }>
                    <Route path=path!("/") view=HomePage ssr=SsrMode::Async />
                    <Route path=path!("/catalog") view=CatalogPage ssr=SsrMode::Async />
                    <Route path=path!("/services/:name") view=ServicePage ssr=SsrMode::Async />
                    <Route path=path!("/services/:name/edit") view=EditServicePage ssr=SsrMode::Async />
                    <Route path=path!("/services/:name/query") view=QueryPage ssr=SsrMode::Async />
                    <Route path=path!("/services/:name/deployments") view=crate::k8s::DeploymentsPage ssr=SsrMode::Async />
                    <Route path=path!("/services/:name/logs") view=crate::k8s::LogsPage ssr=SsrMode::Async />
                    <Route path=path!("/services/:name/reads") view=crate::audit::ServiceReadsPage ssr=SsrMode::Async />
                    <Route path=path!("/squads/:name") view=SquadPage ssr=SsrMode::Async />
                    // Outside the default namespace: matched after the pages above (first
                    // match wins), which is why a namespaced service cannot be called "logs".
                    <Route path=path!("/services/:namespace/:name") view=ServicePage ssr=SsrMode::Async />
                    <Route path=path!("/services/:namespace/:name/edit") view=EditServicePage ssr=SsrMode::Async />
                    <Route path=path!("/services/:namespace/:name/query") view=QueryPage ssr=SsrMode::Async />
                    <Route path=path!("/services/:namespace/:name/deployments") view=crate::k8s::DeploymentsPage ssr=SsrMode::Async />
                    <Route path=path!("/services/:namespace/:name/logs") view=crate::k8s::LogsPage ssr=SsrMode::Async />
                    <Route path=path!("/services/:namespace/:name/reads") view=crate::audit::ServiceReadsPage ssr=SsrMode::Async />
                    <Route path=path!("/squads/:namespace/:name") view=SquadPage ssr=SsrMode::Async />
                    <Route path=path!("/entities/:kind/:name") view=crate::catalog::EntityPage ssr=SsrMode::Async />
                    <Route path=path!("/entities/:kind/:namespace/:name") view=crate::catalog::EntityPage ssr=SsrMode::Async />
                    <Route path=path!("/login") view=LoginPage ssr=SsrMode::Async />
                    <Route path=path!("/readiness") view=ReadinessPage ssr=SsrMode::Async />
                    <Route path=path!("/admin") view=DefaultsPage ssr=SsrMode::Async />
                    <Route path=path!("/admin/access") view=crate::auth::AccessPage ssr=SsrMode::Async />
                    <Route path=path!("/audit") view=AuditPage ssr=SsrMode::Async />
                    <Route path=path!("/tokens") view=TokensPage ssr=SsrMode::Async />
                </Routes>
            </main>
        </Router>
    }
}

/// The session, shared with every page through context.
pub type Session = Resource<Result<SessionView, AppError>>;

/// The signed-in user from context, once the session resource has loaded.
pub fn use_session() -> Session {
    expect_context::<Session>()
}

#[component]
fn Account(session: Option<SessionView>) -> impl IntoView {
    match session.and_then(|s| s.user) {
        None => view! { <a href="/login" class="text-slate-300 hover:text-white">"Sign in"</a> }.into_any(),
        Some(user) => view! {
            <span class="flex flex-wrap items-center gap-x-4 gap-y-1">
            <span class="text-sm text-slate-300" data-testid="signed-in-as">
                {user.name.clone()}
                {user.sre.then_some(" · SRE")}
            </span>
            {user.sre.then(|| view! {
                <a href="/admin" class="py-1 text-sm text-slate-300 hover:text-white">"Admin"</a>
                <a href="/audit" class="py-1 text-sm text-slate-300 hover:text-white">"Audit"</a>
                <a href="/admin/access" class="py-1 text-sm text-slate-300 hover:text-white">"Access"</a>
            })}
            <a href="/tokens" class="py-1 text-sm text-slate-300 hover:text-white">"Tokens"</a>
            <form method="post" action="/auth/logout">
                <button type="submit" class="min-h-6 text-sm text-slate-300 hover:text-white">"Sign out"</button>
            </form>
            </span>
        }
        .into_any(),
    }
}
