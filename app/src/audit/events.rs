//! `/audit`: the whole event log for SREs (queries, log reads, tokens, grants, offboarding,
//! sign-ins, defaults changes, replicas), filtered by person, service, kind, outcome, date and
//! text, newest first, a page at a time. The filters live in the URL, so a view can be shared.

use super::server_fns::{audit_events, AuditEvent, EventFilter};
use crate::components::Loaded;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

/// The families of event kinds, for the kind filter.
const FAMILIES: [(&str, &str); 9] = [
    ("query", "Queries"),
    ("logs", "Log reads"),
    ("access", "Grants and offboarding"),
    ("auth", "Sign-ins and roles"),
    ("token", "API tokens"),
    ("sessions", "Sessions ended"),
    ("defaults", "Platform defaults"),
    ("replica", "Replicas"),
    ("audit", "Audit exports"),
];

#[component]
pub fn AuditPage() -> impl IntoView {
    let params = use_query_map();
    let filter = Memo::new(move |_| {
        let params = params.get();
        EventFilter::from_params(|k| params.get_str(k).map(str::to_owned))
    });
    let before = Memo::new(move |_| params.get().get_str("before").and_then(|b| b.parse().ok()));
    let page = Resource::new(
        move || (filter.get(), before.get()),
        |(filter, before)| audit_events(filter, before),
    );
    view! {
        <Title text="Audit" />
        <h1 class="text-2xl font-semibold mb-1">"Audit"</h1>
        <p class="mb-3 text-sm text-slate-600 dark:text-slate-300">
            "Every recorded action, newest first. Export: "
            <a rel="external" href="/admin/audit.csv" class="text-sky-700 underline dark:text-sky-300">"queries as CSV"</a>
            " · the whole log by date at "<code>"/admin/audit-events.csv?from=YYYY-MM-DD&to=YYYY-MM-DD"</code>
        </p>
        <Filters filter />
        <Loaded resource=page loading="Reading the log…" let:page>
            <Events events=page.events older=page.older filter=filter.get_untracked() />
        </Loaded>
    }
}

/// A plain GET form: it works before hydration, and the URL it makes can be shared.
#[component]
fn Filters(filter: Memo<EventFilter>) -> impl IntoView {
    let field = "rounded border border-slate-300 bg-white px-2 py-1 text-sm dark:bg-slate-800 dark:border-slate-600";
    let f = move || filter.get();
    view! {
        <form method="get" action="/audit" role="search" class="mb-3 flex flex-wrap items-end gap-2" data-testid="audit-filters">
            <label class="flex flex-col text-xs">"Person"
                <input name="actor" class=field prop:value=move || f().actor placeholder="login" /></label>
            <label class="flex flex-col text-xs">"Service"
                <input name="service" class=field prop:value=move || f().service /></label>
            <label class="flex flex-col text-xs">"Kind"
                <select name="kind" class=field prop:value=move || f().kind>
                    <option value="">"Every kind"</option>
                    {FAMILIES.into_iter().map(|(value, label)| view! { <option value=value>{label}</option> }).collect_view()}
                </select></label>
            <label class="flex flex-col text-xs">"Outcome"
                <input name="outcome" class=field prop:value=move || f().outcome placeholder="allowed, refused, abandoned…" /></label>
            <label class="flex flex-col text-xs">"From"
                <input type="date" name="from" class=field prop:value=move || f().from /></label>
            <label class="flex flex-col text-xs">"To"
                <input type="date" name="to" class=field prop:value=move || f().to /></label>
            <label class="flex flex-col text-xs">"Text"
                <input type="search" name="text" class=field prop:value=move || f().text placeholder="in detail or SQL" /></label>
            <button type="submit" class="min-h-8 rounded bg-slate-900 px-3 py-1 text-sm text-white">"Filter"</button>
            <a href="/audit" class="py-1 text-sm text-sky-700 dark:text-sky-300 hover:underline">"Clear"</a>
        </form>
    }
}

#[component]
fn Events(events: Vec<AuditEvent>, older: Option<i64>, filter: EventFilter) -> impl IntoView {
    if events.is_empty() {
        return view! { <p data-testid="no-events">"No event matches these filters."</p> }
            .into_any();
    }
    let query = filter.to_query_string();
    let older = older.map(|id| {
        let sep = if query.is_empty() { "" } else { "&" };
        format!("/audit?{query}{sep}before={id}")
    });
    let newest = (!query.is_empty()).then(|| format!("/audit?{query}"));
    view! {
        <div class="overflow-x-auto" tabindex="0">
        <table class="w-full bg-white text-xs dark:bg-slate-900" data-testid="audit">
            <thead><tr class="text-left text-slate-500 dark:text-slate-400">
                <th class="p-1">"When (UTC)"</th><th class="p-1">"Who"</th><th class="p-1">"What"</th>
                <th class="p-1">"Service / target"</th><th class="p-1">"Outcome"</th><th class="p-1">"Detail"</th>
            </tr></thead>
            <tbody>
                {events.into_iter().map(|e| {
                    let detail = if e.sql.is_empty() { e.detail.clone() } else { e.sql.clone() };
                    let detail: String = detail.chars().take(300).collect();
                    let by_token = (!e.token.is_empty()).then(|| view! { <div class="text-slate-500">"through a token"</div> });
                    let numbers = (e.rows > 0 || e.duration_ms > 0).then(|| view! {
                        <div class="text-slate-500">{format!("{} rows · {} ms", e.rows, e.duration_ms)}</div>
                    });
                    let kind = e.kind.clone();
                    view! {
                        <tr class="border-t border-slate-100 align-top dark:border-slate-700" data-testid="audit-event" data-kind=kind>
                            <td class="p-1 tabular-nums whitespace-nowrap">{console_core::dates::date_time(e.at)}</td>
                            <td class="p-1">{e.actor}{by_token}</td>
                            <td class="p-1 font-mono">{e.kind}</td>
                            <td class="p-1">{e.service}{(!e.target.is_empty()).then(|| view! { <div class="text-slate-500">{e.target.clone()}</div> })}</td>
                            <td class="p-1">{e.outcome}</td>
                            <td class="p-1 font-mono break-all">{detail}{numbers}</td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
        </div>
        <nav class="mt-3 flex gap-4 text-sm" aria-label="Pages">
            {newest.map(|href| view! { <a href=href class="text-sky-700 dark:text-sky-300 hover:underline">"Newest"</a> })}
            {older.map(|href| view! { <a href=href rel="next" class="text-sky-700 dark:text-sky-300 hover:underline" data-testid="older">"Older events →"</a> })}
        </nav>
    }
    .into_any()
}
