//! The HTML shell, the router and the page frame.

use crate::catalog::{CatalogPage, HomePage, ServicePage, SquadPage};
use crate::components::NotFound;
use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Stylesheet, Title};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::{path, SsrMode};

pub fn shell(options: LeptosOptions) -> impl IntoView {
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
    view! {
        <Stylesheet id="leptos" href="/pkg/console.css" />
        <Title formatter=|text: String| if text.is_empty() { "Console".to_string() } else { format!("{text} · Console") } />
        <Router>
            <header class="bg-slate-900 text-white">
                <nav class="mx-auto max-w-6xl flex items-center gap-6 px-4 py-3">
                    <a href="/" class="font-semibold tracking-tight">"Console"</a>
                    <a href="/catalog" class="text-slate-300 hover:text-white">"Catalog"</a>
                    <form method="get" action="/catalog" class="ml-auto">
                        <input
                            type="search"
                            name="q"
                            placeholder="Search services…"
                            aria-label="Search services"
                            class="rounded bg-slate-800 px-3 py-1 text-sm placeholder-slate-400"
                        />
                    </form>
                </nav>
            </header>
            <main class="mx-auto max-w-6xl px-4 py-6">
                // Async SSR: the status code (404, 400) is known before the first byte is sent.
                <Routes fallback=|| view! { <NotFound what="page".to_string() /> }>
                    <Route path=path!("/") view=HomePage ssr=SsrMode::Async />
                    <Route path=path!("/catalog") view=CatalogPage ssr=SsrMode::Async />
                    <Route path=path!("/services/:name") view=ServicePage ssr=SsrMode::Async />
                    <Route path=path!("/squads/:name") view=SquadPage ssr=SsrMode::Async />
                </Routes>
            </main>
        </Router>
    }
}
