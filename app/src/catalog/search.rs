use super::server_fns::search_catalog;
use crate::components::{LifecycleBadge, Loaded, ReadinessBar, TierBadge};
use crate::error::AppError;
use console_core::catalog::{CatalogQuery, Lifecycle, ReadinessFilter, Tier};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_navigate, use_query_map};

/// The catalog: free-text search, filters and pages, all in the URL so results can be shared.
#[component]
pub fn CatalogPage() -> impl IntoView {
    let params = use_query_map();
    let query = Memo::new(move |_| {
        let params = params.get();
        CatalogQuery::from_params(|k| params.get_str(k))
    });
    let results = Resource::new(
        move || query.get(),
        |query| async move {
            match query {
                Ok(query) => search_catalog(query).await,
                Err(reason) => Err(AppError::BadRequest(reason)),
            }
        },
    );
    view! {
        <Title text="Catalog" />
        <h1 class="text-2xl font-semibold mb-4">"Catalog"</h1>
        <Filters query />
        <Loaded resource=results loading="Searching…" let:page>
            <Results page />
        </Loaded>
    }
}

/// The search form. Without JavaScript it submits as a plain GET; once hydrated, changing a
/// select applies the filter at once.
#[component]
fn Filters(query: Memo<Result<CatalogQuery, String>>) -> impl IntoView {
    let current = move || query.get().unwrap_or_default();
    let navigate = use_navigate();
    let apply = move |key: &'static str, value: String| {
        let mut q = current();
        match key {
            "tier" => q.tier = value.parse::<i64>().ok().and_then(|t| Tier::new(t).ok()),
            "lifecycle" => q.lifecycle = Lifecycle::parse(&value),
            _ => q.readiness = ReadinessFilter::parse(&value),
        }
        q.page = 1;
        navigate(&format!("/catalog?{}", q.to_query_string()), Default::default());
    };
    let on_tier = {
        let apply = apply.clone();
        move |ev| apply("tier", event_target_value(&ev))
    };
    let on_lifecycle = {
        let apply = apply.clone();
        move |ev| apply("lifecycle", event_target_value(&ev))
    };
    let on_readiness = move |ev| apply("readiness", event_target_value(&ev));
    let select = "rounded border border-slate-300 bg-white px-2 py-2 text-sm";
    view! {
        <form method="get" action="/catalog" class="mb-4 flex flex-wrap items-center gap-2" role="search">
            <input
                type="search"
                name="q"
                prop:value=move || current().text
                placeholder="Name, description, tag, squad"
                aria-label="Search text"
                class="flex-1 min-w-60 rounded border border-slate-300 px-3 py-2"
            />
            {move || current().squad.map(|s| view! { <input type="hidden" name="squad" value=s /> })}
            <select name="tier" aria-label="Tier" class=select on:change=on_tier
                prop:value=move || current().tier.map(|t| t.number().to_string()).unwrap_or_default()>
                <option value="">"Any tier"</option>
                {Tier::ALL.into_iter().map(|t| view! {
                    <option value=t.number().to_string()>{format!("Tier {} · {}", t.number(), t.label())}</option>
                }).collect_view()}
            </select>
            <select name="lifecycle" aria-label="Lifecycle" class=select on:change=on_lifecycle
                prop:value=move || current().lifecycle.map(|l| l.as_str().to_string()).unwrap_or_default()>
                <option value="">"Any lifecycle"</option>
                {Lifecycle::ALL.into_iter().map(|l| view! { <option value=l.as_str()>{l.as_str()}</option> }).collect_view()}
            </select>
            <select name="readiness" aria-label="Readiness" class=select on:change=on_readiness
                prop:value=move || current().readiness.map(|r| r.as_str().to_string()).unwrap_or_default()>
                <option value="">"Any readiness"</option>
                <option value="ready">"Ready for its tier"</option>
                <option value="not-ready">"Missing checks"</option>
            </select>
            <button type="submit" class="rounded bg-slate-900 px-4 py-2 text-white">"Search"</button>
        </form>
    }
}

#[component]
fn Results(page: console_core::catalog::CatalogPage) -> impl IntoView {
    let pages = page.page_count();
    let current = page.query.page;
    let link_to = {
        let query = page.query.clone();
        move |n: u32| {
            format!("/catalog?{}", CatalogQuery { page: n, ..query.clone() }.to_query_string())
        }
    };
    let prev = (current > 1).then(|| link_to(current - 1));
    let next = (current < pages).then(|| link_to(current + 1));
    if page.services.is_empty() {
        return view! { <p class="text-slate-600" data-testid="no-results">"No service matches."</p> }.into_any();
    }
    view! {
        <p class="mb-2 text-sm text-slate-600" data-testid="result-count">
            {format!("{} services · page {current} of {pages}", page.total)}
        </p>
        <table class="w-full border-collapse bg-white text-sm">
            <thead>
                <tr class="border-b border-slate-200 text-left text-slate-500">
                    <th class="p-2">"Service"</th>
                    <th class="p-2">"Squad"</th>
                    <th class="p-2">"Tier"</th>
                    <th class="p-2">"Lifecycle"</th>
                    <th class="p-2">"Readiness"</th>
                    <th class="p-2">"Description"</th>
                </tr>
            </thead>
            <tbody>
                {page.services.into_iter().map(|s| view! {
                    <tr class="border-b border-slate-100" data-testid="service-row">
                        <td class="p-2"><a href=format!("/services/{}", s.name) class="font-medium text-sky-700 hover:underline">{s.name.clone()}</a></td>
                        <td class="p-2"><a href=format!("/squads/{}", s.squad) class="hover:underline">{s.squad.clone()}</a></td>
                        <td class="p-2"><TierBadge tier=s.tier /></td>
                        <td class="p-2"><LifecycleBadge lifecycle=s.lifecycle /></td>
                        <td class="p-2"><ReadinessBar score=s.readiness /></td>
                        <td class="p-2 text-slate-600">{s.description.clone()}</td>
                    </tr>
                }).collect_view()}
            </tbody>
        </table>
        <nav class="mt-3 flex gap-4 text-sm" aria-label="Pages">
            {prev.map(|href| view! { <a href=href rel="prev" class="text-sky-700 hover:underline">"← Previous"</a> })}
            {next.map(|href| view! { <a href=href rel="next" class="text-sky-700 hover:underline">"Next →"</a> })}
        </nav>
    }
    .into_any()
}
