use super::editor::{insert_at_caret, SqlEditor};
use super::server_fns::*;
use crate::app::use_session;
use crate::components::{ErrorView, Refusal};
use crate::error::AppError;
use console_core::catalog::encode_component;
use console_core::query::CANCELLED_BY_USER;

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

/// `/services/:name/query`: the REPL. Ctrl+Enter runs; results are capped and masked on the
/// server; every attempt is audited.
#[component]
pub fn QueryPage() -> impl IntoView {
    let params = use_params_map();
    let service = move || crate::catalog::key_from(&params.get());
    // Bumped by the SREs' replica management after each change, so the list is current.
    let changed = RwSignal::new(0u32);
    let replicas = Resource::new(move || (service(), changed.get()), |(s, _)| list_replicas(s));
    let run = ServerAction::<RunQuery>::new();
    let history = Resource::new(move || run.version().get(), |_| query_history());
    // The squad's shelf of named queries; the name typed stays when a save is refused.
    let save = ServerAction::<SaveQuery>::new();
    let unsave = ServerAction::<DeleteSavedQuery>::new();
    let saved = Resource::new(
        move || (service(), save.version().get(), unsave.version().get()),
        |(s, _, _)| saved_queries(s),
    );
    let save_name = RwSignal::new(String::new());
    // A shared link carries the query and the replica: `?replica=…&sql=…`.
    let query = use_query_map();
    // The replica picked in the list or the link; empty means the service's first one. Never
    // written while rendering: the server's render and hydration must read the same value.
    let chosen = RwSignal::new(query.get_untracked().get("replica").unwrap_or_default());
    let first_replica = move || {
        replicas
            .get()
            .and_then(Result::ok)
            .and_then(|list| list.first().map(|r| r.replica.id.clone()))
            .unwrap_or_default()
    };
    let current = move || {
        let picked = chosen.get();
        if picked.is_empty() {
            first_replica()
        } else {
            picked
        }
    };
    let sql = RwSignal::new(
        query
            .get_untracked()
            .get("sql")
            .unwrap_or_else(|| "SELECT * FROM customers LIMIT 20".to_string()),
    );
    let share = move || {
        format!(
            "/services/{}/query?replica={}&sql={}",
            service(),
            encode_component(&current()),
            encode_component(&sql.get())
        )
    };
    // The download runs SQL, so it is a form POST (never a link): see server/src/query_csv.rs.
    let csv = move || format!("/services/{}/query.csv", service());
    let schema = Resource::new(
        move || (service(), chosen.get(), changed.get()),
        |(service, replica, _)| async move {
            let replica = if replica.is_empty() {
                list_replicas(service.clone())
                    .await
                    .ok()
                    .and_then(|list| list.first().map(|r| r.replica.id.clone()))
                    .unwrap_or_default()
            } else {
                replica
            };
            if replica.is_empty() {
                Ok(vec![])
            } else {
                replica_schema(service, replica).await
            }
        },
    );
    // The editor's textarea (the schema panel inserts names at its caret), what it completes
    // from, and where the last refusal points.
    let area = NodeRef::<leptos::html::Textarea>::new();
    let tables = Signal::derive(move || schema.get().and_then(Result::ok).unwrap_or_default());
    let masks = Signal::derive(move || {
        let picked = current();
        replicas
            .get()
            .and_then(Result::ok)
            .and_then(|list| list.into_iter().find(|r| r.replica.id == picked).map(|r| r.masks))
            .unwrap_or_default()
    });
    let error_at = Signal::derive(move || {
        run.value()
            .get()
            .and_then(Result::err)
            .and_then(|e| console_core::query::editor::error_position(&e.to_string()))
    });
    let submit = move || {
        run.dispatch(RunQuery { service: service(), replica: current(), sql: sql.get_untracked() });
    };
    let explain = move || {
        run.dispatch(RunQuery {
            service: service(),
            replica: current(),
            sql: format!("EXPLAIN {}", sql.get_untracked()),
        });
    };
    view! {
        // Read once, not a closure: the server reads the title after the page's owner is gone.
        <Title text=format!("Query {}", crate::catalog::key_from(&params.get_untracked())) />
        <h1 class="text-2xl font-semibold mb-2">{move || format!("Query {}", service())}</h1>
        <Suspense fallback=|| view! { <p>"Loading replicas…"</p> }>
            {move || Suspend::new(async move {
                match replicas.await {
                    Err(error) => view! { <ErrorView error /> }.into_any(),
                    Ok(list) if list.is_empty() => view! { <p data-testid="no-replicas">"No replica is in use for this service; ask an SRE to designate one."</p> }.into_any(),
                    Ok(list) => {
                        let shown = if chosen.get_untracked().is_empty() { list[0].replica.id.clone() } else { chosen.get_untracked() };
                        view! {
                            <div class="mb-3 flex flex-wrap items-center gap-3 text-sm">
                                <label>"Replica "
                                    <select class="rounded border border-slate-300 px-2 py-1" prop:value=current on:change=move |ev| chosen.set(event_target_value(&ev)) aria-label="Replica">
                                        {list.iter().map(|r| view! { <option value=r.replica.id.clone()>{format!("{} ({:?})", r.replica.name, r.replica.engine)}</option> }).collect_view()}
                                    </select>
                                </label>
                                {list.iter().find(|r| r.replica.id == shown).map(|r| view! {
                                    <span class="text-slate-600" data-testid="limits">
                                        {format!("timeout {} ms · at most {} rows · masked: {}{}", r.statement_timeout_ms, r.row_cap, r.masks.join(", "),
                                            if r.replica.extra_functions.is_empty() { String::new() } else { format!(" · extra functions allowed by an SRE: {}", r.replica.extra_functions.join(", ")) })}
                                    </span>
                                })}
                            </div>
                        }.into_any()
                    }
                }
            })}
        </Suspense>
        <div class="grid gap-4 md:grid-cols-4">
            <div class="md:col-span-3">
                <SqlEditor sql area tables masks error_at on_run=Callback::new(move |_| submit()) />
                <div class="mt-2 flex items-center gap-3">
                    <button class="rounded bg-slate-900 px-4 py-1 text-white" on:click=move |_| submit()>"Run"</button>
                    <button class="rounded border border-slate-300 px-3 py-1" on:click=move |_| explain()>"Explain"</button>
                    <form method="post" action=csv class="inline">
                        <input type="hidden" name="replica" prop:value=current />
                        <input type="hidden" name="sql" prop:value=move || sql.get() />
                        <button type="submit" class="text-sm text-sky-700 hover:underline" data-testid="csv-link">"Download CSV"</button>
                    </form>
                    <a class="text-sm text-sky-700 hover:underline" href=share data-testid="share-link">"Link to this query"</a>
                    <span class="text-xs text-slate-500">"Ctrl+Enter runs. Read-only; every query is audited."</span>
                    {move || run.pending().get().then(|| view! {
                        <span class="text-sm">"Running…"</span>
                        <button class="text-sm text-red-700 hover:underline" on:click=move |_| {
                            let (service, replica) = (service(), current());
                            leptos::task::spawn_local(async move { let _ = cancel_query(service, replica).await; });
                        }>"Cancel"</button>
                    })}
                </div>
                <div aria-live="polite">
                {move || run.value().get().map(|result| match result {
                    // The person's own cancel: said as what it is, not as a failure.
                    Err(AppError::BadRequest(why)) if why.starts_with(CANCELLED_BY_USER) => view! {
                        <p class="mt-3 text-sm text-slate-700" role="status" data-testid="cancelled">"Cancelled: the statement was stopped on the replica."</p>
                    }.into_any(),
                    Err(error) => view! { <Refusal error /> }.into_any(),
                    Ok(result) => view! { <ResultGrid result /> }.into_any(),
                })}
                </div>
            </div>
            <aside class="rounded border border-slate-200 bg-white p-3 text-xs">
                <h2 class="font-semibold mb-1">"Schema"</h2>
                <Suspense fallback=|| ()>
                    {move || Suspend::new(async move {
                        match schema.await {
                            Err(error) => view! { <Refusal error /> }.into_any(),
                            Ok(tables) => view! {
                                <ul data-testid="schema">
                                    {tables.into_iter().map(|(table, columns)| {
                                        let short = table.rsplit('.').next().unwrap_or(&table).to_string();
                                        view! {
                                            <li class="mb-1">
                                                <button type="button" class="min-h-6 font-mono font-semibold hover:underline" title="Insert at the caret"
                                                    aria-label=format!("Insert table {table}")
                                                    on:click={ let short = short.clone(); move |_| insert_at_caret(area, sql, &short) }>{table.clone()}</button>
                                                <span class="flex flex-wrap gap-x-2">
                                                    {columns.into_iter().map(|c| view! {
                                                        <button type="button" class="min-h-6 text-slate-600 hover:underline dark:text-slate-300" aria-label=format!("Insert column {c} of {short}")
                                                            on:click={ let c = c.clone(); move |_| insert_at_caret(area, sql, &c) }>{c.clone()}</button>
                                                    }).collect_view()}
                                                </span>
                                            </li>
                                        }
                                    }).collect_view()}
                                </ul>
                            }.into_any(),
                        }
                    })}
                </Suspense>
            </aside>
        </div>
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                let sre = use_session().await.ok().and_then(|s| s.user).is_some_and(|u| u.sre);
                sre.then(|| view! { <super::manage::ManageReplicas service=service() changed /> })
            })}
        </Suspense>
        <section class="mt-6" aria-labelledby="saved-heading">
            <h2 id="saved-heading" class="font-semibold mb-1">"Saved queries"</h2>
            <p class="text-xs text-slate-600 mb-1">"Shared with everyone who may query this service. Running one is checked and audited like any query."</p>
            <form class="mb-2 flex flex-wrap items-end gap-2 text-sm" on:submit=move |ev| {
                ev.prevent_default();
                save.dispatch(SaveQuery { service: service(), name: save_name.get_untracked(), sql: sql.get_untracked() });
            }>
                <label class="flex flex-col text-xs">"Name"
                    <input class="rounded border border-slate-300 px-2 py-1 text-sm" maxlength="80" data-testid="save-name"
                        prop:value=save_name on:input=move |ev| save_name.set(event_target_value(&ev)) />
                </label>
                <button type="submit" class="min-h-6 rounded border border-slate-300 px-3 py-1" data-testid="save-query">"Save the editor's query"</button>
            </form>
            <div aria-live="polite">
                {move || save.value().get().map(|result| match result {
                    Ok(()) => view! { <p class="text-sm text-emerald-700" role="status" data-testid="saved-status">{format!("Saved as \"{}\".", save_name.get_untracked().trim())}</p> }.into_any(),
                    Err(error) => view! { <Refusal error /> }.into_any(),
                })}
                {move || unsave.value().get().and_then(Result::err).map(|error| view! { <Refusal error /> })}
            </div>
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    match saved.await {
                        Err(error) => view! { <Refusal error /> }.into_any(),
                        Ok(list) if list.is_empty() => view! { <p class="text-xs text-slate-600" data-testid="no-saved">"None yet: name the editor's query and save it."</p> }.into_any(),
                        Ok(list) => view! {
                            <ul class="text-xs" data-testid="saved-queries">
                                {list.into_iter().map(|q| {
                                    let (load, again, name) = (q.sql.clone(), q.sql.clone(), q.name.clone());
                                    view! {
                                        <li class="flex flex-wrap items-center gap-2 py-0.5" data-testid="saved-query">
                                            <button type="button" class="min-h-6 font-semibold hover:underline" title=q.sql.clone()
                                                aria-label=format!("Load {} into the editor", q.name)
                                                on:click={ let name = q.name.clone(); move |_| { sql.set(load.clone()); save_name.set(name.clone()); } }>{q.name.clone()}</button>
                                            <button type="button" class="min-h-6 rounded border border-slate-300 px-1" aria-label=format!("Run {}", q.name)
                                                on:click=move |_| { sql.set(again.clone()); submit(); }>"run"</button>
                                            <span class="text-slate-600">{format!("saved by {} on {}", q.saved_by, console_core::dates::date(q.saved_at))}</span>
                                            <button type="button" class="min-h-6 text-red-700 hover:underline" aria-label=format!("Delete {}", q.name)
                                                on:click=move |_| { unsave.dispatch(DeleteSavedQuery { service: service(), name: name.clone() }); }>"delete"</button>
                                        </li>
                                    }
                                }).collect_view()}
                            </ul>
                        }.into_any(),
                    }
                })}
            </Suspense>
        </section>
        <section class="mt-6">
            <h2 class="font-semibold mb-1">"My recent queries on this service"</h2>
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    history.await.map(|entries| view! {
                        <ul class="text-xs" data-testid="history">
                            {entries.into_iter().filter(|e| e.service == service()).map(|e| {
                                let (load, again) = (e.sql.clone(), e.sql.clone());
                                view! {
                                    <li class="flex flex-wrap items-center gap-2 py-0.5">
                                        <span class=match e.outcome.as_str() { "allowed" => "text-emerald-700", "cancelled" => "text-slate-600", _ => "text-red-700" }>{e.outcome.clone()}</span>
                                        <button type="button" class="min-h-6 text-left font-mono hover:underline" title="Load into the editor"
                                            on:click=move |_| sql.set(load.clone())>{e.sql.chars().take(120).collect::<String>()}</button>
                                        <button type="button" class="min-h-6 rounded border border-slate-300 px-1" aria-label="Run this again"
                                            on:click=move |_| { sql.set(again.clone()); submit(); }>"run again"</button>
                                        <span class="text-slate-600">{e.reason.clone()}</span>
                                    </li>
                                }
                            }).collect_view()}
                        </ul>
                    }).ok()
                })}
            </Suspense>
        </section>
    }
}

#[component]
fn ResultGrid(result: console_core::query::QueryResult) -> impl IntoView {
    view! {
        <p class="mt-3 text-xs text-slate-600" data-testid="result-summary">
            {format!("{} rows in {} ms{}", result.rows.len(), result.elapsed_ms, if result.truncated { " · stopped at the row cap" } else { "" })}
        </p>
        <div class="mt-1 max-h-96 overflow-auto rounded border border-slate-200 bg-white">
            <table class="w-full text-xs" data-testid="result-grid">
                <thead class="sticky top-0 bg-slate-100"><tr>{result.columns.iter().map(|c| view! { <th class="px-2 py-1 text-left">{c.clone()}</th> }).collect_view()}</tr></thead>
                <tbody>
                    {result.rows.into_iter().map(|row| view! {
                        <tr class="border-t border-slate-100">
                            {row.into_iter().map(|cell| match cell {
                                Some(v) => view! { <td class="px-2 py-0.5 font-mono align-top">{cell_view(v)}</td> }.into_any(),
                                // SQL NULL is italic and grey, so it never reads as the text "NULL".
                                None => view! { <td class="px-2 py-0.5 italic text-slate-500" title="SQL NULL: no value" data-null="true">"NULL"</td> }.into_any(),
                            }).collect_view()}
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
}

/// Longest text a grid cell shows before it folds; the whole value is one click away.
const CELL_PREVIEW: usize = 120;

/// A cell's text: JSON objects and arrays indented, long values folded (never cut: the answer
/// already holds the whole value, up to the replica's cut).
fn cell_view(value: String) -> AnyView {
    let pretty = (value.starts_with('{') || value.starts_with('['))
        .then(|| serde_json::from_str::<serde_json::Value>(&value).ok())
        .flatten()
        .and_then(|json| serde_json::to_string_pretty(&json).ok());
    let whole = pretty.unwrap_or(value);
    if whole.chars().count() <= CELL_PREVIEW && !whole.contains('\n') {
        return view! { <span>{whole}</span> }.into_any();
    }
    let preview: String =
        whole.chars().take(CELL_PREVIEW).map(|c| if c == '\n' { ' ' } else { c }).collect();
    view! {
        <details data-testid="long-cell">
            <summary class="cursor-pointer">{format!("{preview}…")}</summary>
            <pre class="whitespace-pre-wrap">{whole}</pre>
        </details>
    }
    .into_any()
}
