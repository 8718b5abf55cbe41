//! Small pieces shared by pages.

use crate::error::{set_status, AppError};
use console_core::catalog::{safe_href, Lifecycle, Score, Tier};
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn TierBadge(tier: Tier) -> impl IntoView {
    let colour = match tier.number() {
        1 => "bg-red-100 text-red-800",
        2 => "bg-amber-100 text-amber-800",
        3 => "bg-sky-100 text-sky-800",
        _ => "bg-slate-200 text-slate-700",
    };
    view! {
        <span class=format!("inline-block rounded px-2 py-0.5 text-xs font-medium {colour}") title=tier.to_string()>
            {format!("T{} {}", tier.number(), tier.label())}
        </span>
    }
}

#[component]
pub fn LifecycleBadge(lifecycle: Lifecycle) -> impl IntoView {
    let colour = match lifecycle {
        Lifecycle::Production => "text-emerald-700",
        Lifecycle::Experimental => "text-violet-700",
        Lifecycle::Deprecated => "text-slate-500 line-through",
    };
    view! { <span class=format!("text-xs {colour}")>{lifecycle.as_str()}</span> }
}

/// Met / required checks as a bar and a number.
#[component]
pub fn ReadinessBar(score: Score) -> impl IntoView {
    let pct = score.percent();
    let colour = if score.is_ready() {
        "bg-emerald-500"
    } else if pct >= 50 {
        "bg-amber-500"
    } else {
        "bg-red-500"
    };
    view! {
        <span class="inline-flex items-center gap-2" title=format!("{} of {} readiness checks met", score.met, score.required)>
            <span class="h-2 w-20 rounded bg-slate-200 overflow-hidden">
                <span class=format!("block h-2 {colour}") style=format!("width: {pct}%")></span>
            </span>
            <span class="text-xs tabular-nums">{format!("{}/{}", score.met, score.required)}</span>
        </span>
    }
}

/// A link if the URL is http(s), plain text otherwise.
#[component]
pub fn ExternalLink(url: String, #[prop(optional)] label: Option<String>) -> impl IntoView {
    let label = label.unwrap_or_else(|| url.clone());
    match safe_href(&url) {
        Some(href) => view! {
            <a href=href.to_string() class="text-sky-700 hover:underline" rel="noopener noreferrer" target="_blank">{label}</a>
        }
        .into_any(),
        None => view! { <span>{label}</span> }.into_any(),
    }
}

/// The heading of a refusal, in the words of the person who meets it.
pub fn refusal_heading(error: &AppError) -> &'static str {
    match error.status() {
        404 => "We could not find that",
        400 => "Please check what you asked for",
        401 => "Please sign in",
        403 => "You do not have access to this",
        409 => "Someone changed this meanwhile",
        429 => "Too many at once",
        503 => "Not reachable right now",
        _ => "Something broke on our side",
    }
}

/// An error as a page section, with the matching HTTP status on the server.
#[component]
pub fn ErrorView(error: AppError) -> impl IntoView {
    set_status(error.status());
    let heading = refusal_heading(&error);
    view! {
        <Title text=heading.to_string() />
        <section class="rounded border border-red-200 bg-red-50 p-4" role="alert">
            <h1 class="text-lg font-semibold text-red-800">{heading}</h1>
            <p class="whitespace-pre-wrap text-red-800">{error.to_string()}</p>
        </section>
    }
}

/// A refused action, shown where the person acted: the reason in plain words, kept verbatim
/// (line breaks and carets of a parser's message stay where they point).
#[component]
pub fn Refusal(error: AppError) -> impl IntoView {
    let heading = refusal_heading(&error);
    view! {
        <div class="mt-2 rounded border border-red-200 bg-red-50 p-2 text-sm text-red-800" role="alert">
            <p class="font-semibold">{heading}</p>
            <pre class="whitespace-pre-wrap font-sans">{error.to_string()}</pre>
        </div>
    }
}

/// A resource's value once loaded, else its error as a page section (with the HTTP status on the
/// server): the one Suspense and ErrorView scaffold of the pages. `let:value` names the value.
#[component]
pub fn Loaded<T, V, F>(
    resource: Resource<Result<T, AppError>>,
    children: F,
    /// What shows while it loads.
    #[prop(optional)]
    loading: Option<&'static str>,
) -> impl IntoView
where
    T: Clone + Send + Sync + 'static,
    F: Fn(T) -> V + Clone + Send + Sync + 'static,
    V: IntoView + 'static,
{
    let loading = loading.unwrap_or("Loading…");
    view! {
        <Suspense fallback=move || view! { <p>{loading}</p> }>
            {move || {
                let children = children.clone();
                Suspend::new(async move {
                    match resource.await {
                        Err(error) => view! { <ErrorView error /> }.into_any(),
                        Ok(value) => children(value).into_any(),
                    }
                })
            }}
        </Suspense>
    }
}

#[component]
pub fn NotFound(what: String) -> impl IntoView {
    view! { <ErrorView error=AppError::NotFound(what) /> }
}

/// A button that copies `text` to the clipboard and says so (a live region, for screen readers).
#[component]
pub fn CopyButton(text: String, #[prop(into)] label: String) -> impl IntoView {
    let copied = RwSignal::new(false);
    let copy = move |_| {
        #[cfg(feature = "hydrate")]
        if let Some(window) = web_sys::window() {
            // The promise settles on its own; the page only says it was asked.
            let _ = window.navigator().clipboard().write_text(&text);
            copied.set(true);
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = &text;
    };
    view! {
        <button type="button" on:click=copy aria-label=label.clone()
            class="min-h-6 rounded border border-slate-300 px-2 py-0.5 text-xs hover:bg-slate-100 dark:border-slate-600 dark:hover:bg-slate-800">
            "Copy"
        </button>
        <span role="status" class="text-xs text-emerald-700 dark:text-emerald-400">{move || copied.get().then_some(" Copied")}</span>
    }
}
