use super::server_fns::*;
use crate::components::{ErrorView, Loaded};
use console_core::defaults::links::{LinkTemplate, Scope};
use console_core::defaults::DiffLine;
use leptos::prelude::*;
use leptos_meta::Title;

/// `/admin`: SREs edit the paved road. Everyone else gets a 403 page from the server.
#[component]
pub fn DefaultsPage() -> impl IntoView {
    let save_links = ServerAction::<SaveLinks>::new();
    let save_doc = ServerAction::<SaveDocument>::new();
    let rollback = ServerAction::<RollbackDefaults>::new();
    let defaults = Resource::new(
        move || (save_links.version().get(), save_doc.version().get(), rollback.version().get()),
        |_| load_defaults(),
    );
    view! {
        <Title text="Platform defaults" />
        <h1 class="text-2xl font-semibold mb-1">"Platform defaults"</h1>
        <p class="mb-4 text-sm text-slate-600">
            "Every change is a new version. " <a rel="external" href="/admin/defaults.toml" class="text-sky-700 hover:underline">"Export as TOML"</a>
            " to keep it in git; paste a file into the document editor to import it."
        </p>
        <Loaded resource=defaults let:view>
            <LinkEditor version=view.version links=view.links.clone() action=save_links />
            <DocumentEditor version=view.version document=view.document.clone() action=save_doc />
            <History history=view.history.clone() current=view.version rollback />
        </Loaded>
    }
}

/// The outcome of a save: the new version, or why it was refused.
fn saved(result: Result<i64, crate::error::AppError>) -> AnyView {
    match result {
        Ok(v) => view! { <p class="mt-2 text-sm text-emerald-700" role="status">{format!("Saved as version {v}.")}</p> }.into_any(),
        Err(error) => view! { <ErrorView error /> }.into_any(),
    }
}

fn scope_kind(scope: &Scope) -> &'static str {
    match scope {
        Scope::Everyone => "everyone",
        Scope::Tier(_) => "tier",
        Scope::Service(_) => "service",
    }
}

fn scope_value(scope: &Scope) -> String {
    match scope {
        Scope::Everyone => String::new(),
        Scope::Tier(t) => t.to_string(),
        Scope::Service(s) => s.clone(),
    }
}

#[derive(Clone)]
struct LinkRow {
    name: RwSignal<String>,
    icon: RwSignal<String>,
    url: RwSignal<String>,
    kind: RwSignal<String>,
    value: RwSignal<String>,
}

impl LinkRow {
    fn new(t: &LinkTemplate) -> LinkRow {
        LinkRow {
            name: RwSignal::new(t.name.clone()),
            icon: RwSignal::new(t.icon.clone()),
            url: RwSignal::new(t.url.clone()),
            kind: RwSignal::new(scope_kind(&t.scope).into()),
            value: RwSignal::new(scope_value(&t.scope)),
        }
    }
    fn template(&self) -> LinkTemplate {
        let value = self.value.get();
        LinkTemplate {
            name: self.name.get(),
            icon: self.icon.get(),
            url: self.url.get(),
            scope: match self.kind.get().as_str() {
                // An unparsable tier becomes 0, which the server refuses with the reason.
                "tier" => Scope::Tier(value.trim().parse().unwrap_or(0)),
                "service" => Scope::Service(value.trim().to_string()),
                _ => Scope::Everyone,
            },
        }
    }
}

#[component]
fn LinkEditor(
    version: i64,
    links: Vec<LinkTemplate>,
    action: ServerAction<SaveLinks>,
) -> impl IntoView {
    let rows = RwSignal::new(links.iter().map(LinkRow::new).collect::<Vec<_>>());
    let add = move |_| {
        rows.update(|r| {
            r.push(LinkRow::new(&LinkTemplate {
                name: String::new(),
                icon: String::new(),
                url: "https://".into(),
                scope: Scope::Everyone,
            }))
        })
    };
    let save = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let links = rows.get().iter().map(LinkRow::template).collect();
        action.dispatch(SaveLinks { based_on: version, links });
    };
    let field = "rounded border border-slate-300 px-2 py-1 text-sm";
    view! {
        <section class="mb-6 rounded border border-slate-200 bg-white p-4">
            <h2 class="font-semibold mb-2">"Metrics link templates"</h2>
            <p class="mb-2 text-xs text-slate-500">"Placeholders: {service} {squad} {cluster} {namespace} {tier}. Scope: everyone, one tier, or one service (overrides a link of the same name)."</p>
            <form on:submit=save>
                <table class="w-full text-sm">
                    <thead><tr class="text-left text-slate-500"><th>"Name"</th><th>"Icon"</th><th>"URL template"</th><th>"Scope"</th><th></th><th></th></tr></thead>
                    <tbody>
                        {move || rows.get().into_iter().enumerate().map(|(i, row)| view! {
                            <tr data-testid="link-template">
                                <td><input class=field aria-label=format!("Link {} name", i + 1) bind:value=row.name /></td>
                                <td><input class=field size="8" aria-label=format!("Link {} icon", i + 1) bind:value=row.icon /></td>
                                <td class="w-1/2"><input class=format!("{field} w-full font-mono") aria-label=format!("Link {} URL", i + 1) bind:value=row.url /></td>
                                <td>
                                    <select class=field aria-label=format!("Link {} scope", i + 1) bind:value=row.kind>
                                        <option value="everyone">"everyone"</option>
                                        <option value="tier">"tier"</option>
                                        <option value="service">"service"</option>
                                    </select>
                                </td>
                                <td><input class=field size="10" aria-label=format!("Link {} scope value", i + 1) bind:value=row.value /></td>
                                <td><button type="button" class="text-red-700 text-xs" on:click=move |_| rows.update(|r| { r.remove(i); })>"remove"</button></td>
                            </tr>
                        }).collect_view()}
                    </tbody>
                </table>
                <div class="mt-2 flex gap-3">
                    <button type="button" class="rounded border border-slate-300 px-3 py-1 text-sm" on:click=add>"Add link"</button>
                    <button type="submit" class="rounded bg-slate-900 px-3 py-1 text-sm text-white">"Save links"</button>
                </div>
            </form>
            {move || action.value().get().map(saved)}
        </section>
    }
}

#[component]
fn DocumentEditor(
    version: i64,
    document: String,
    action: ServerAction<SaveDocument>,
) -> impl IntoView {
    let text = RwSignal::new(document);
    let note = RwSignal::new(String::new());
    let save = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        action.dispatch(SaveDocument { based_on: version, document: text.get(), note: note.get() });
    };
    view! {
        <section class="mb-6 rounded border border-slate-200 bg-white p-4">
            <h2 class="font-semibold mb-2">{format!("The whole document (version {version})")}</h2>
            <p class="mb-2 text-xs text-slate-500">"Readiness requirements per tier, query limits per tier (statement timeout, row cap, masked columns), log limits, links."</p>
            <form on:submit=save class="grid gap-2">
                <textarea class="h-96 w-full rounded border border-slate-300 p-2 font-mono text-xs" aria-label="Defaults document" bind:value=text></textarea>
                <input class="rounded border border-slate-300 px-2 py-1 text-sm" placeholder="What changed and why" aria-label="Change note" bind:value=note />
                <button type="submit" class="justify-self-start rounded bg-slate-900 px-3 py-1 text-sm text-white">"Save document"</button>
            </form>
            {move || action.value().get().map(saved)}
        </section>
    }
}

#[component]
fn History(
    history: Vec<console_core::defaults::Version>,
    current: i64,
    rollback: ServerAction<RollbackDefaults>,
) -> impl IntoView {
    let shown = RwSignal::new(None::<i64>);
    let diff = Resource::new(
        move || shown.get(),
        |v| async move {
            match v {
                Some(v) => defaults_diff(v).await.map(Some),
                None => Ok(None),
            }
        },
    );
    view! {
        <section class="rounded border border-slate-200 bg-white p-4">
            <h2 class="font-semibold mb-2">"History"</h2>
            {move || rollback.value().get().and_then(|r| r.err()).map(|error| view! { <ErrorView error /> })}
            <table class="w-full text-sm">
                <thead><tr class="text-left text-slate-500"><th>"Version"</th><th>"By"</th><th>"When (UTC)"</th><th>"Note"</th><th></th></tr></thead>
                <tbody>
                    {history.into_iter().map(|v| {
                        let version = v.version;
                        view! {
                            <tr class="border-t border-slate-100" data-testid="defaults-version">
                                <td class="p-1">{version}</td>
                                <td class="p-1">{v.author.clone()}</td>
                                <td class="p-1 tabular-nums">{console_core::dates::date_time(v.created_at)}</td>
                                <td class="p-1">{v.note.clone()}</td>
                                <td class="p-1 flex gap-3">
                                    <button class="text-sky-700 text-xs" on:click=move |_| shown.set(Some(version))>"diff"</button>
                                    {(version != current).then(|| view! {
                                        <button class="text-red-700 text-xs" data-testid=format!("rollback-{version}")
                                            on:click=move |_| { rollback.dispatch(RollbackDefaults { version }); }>
                                            {format!("roll back to {version}")}
                                        </button>
                                    })}
                                </td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    match diff.await {
                        Ok(Some(lines)) => view! {
                            <pre class="mt-3 overflow-x-auto rounded bg-slate-50 p-2 text-xs" data-testid="diff">
                                {lines.into_iter().filter(|l| !matches!(l, DiffLine::Same(_))).map(|l| match l {
                                    DiffLine::Added(t) => view! { <div class="text-emerald-700">{format!("+ {t}")}</div> }.into_any(),
                                    DiffLine::Removed(t) => view! { <div class="text-red-700">{format!("- {t}")}</div> }.into_any(),
                                    DiffLine::Same(_) => ().into_any(),
                                }).collect_view()}
                            </pre>
                        }.into_any(),
                        Ok(None) => ().into_any(),
                        Err(error) => view! { <ErrorView error /> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}
