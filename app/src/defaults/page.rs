use super::server_fns::*;
use crate::components::{Loaded, Refusal};
use crate::error::AppError;
use console_core::defaults::links::{LinkTemplate, Scope};
use console_core::defaults::{problem_line, DiffLine};
use leptos::prelude::*;
use leptos_meta::Title;

/// `/admin`: SREs edit the paved road. Everyone else gets a 403 page from the server.
///
/// The stored document is loaded again only after a save that succeeded: a refused save keeps
/// what the SRE typed, and marks what is at fault.
#[component]
pub fn DefaultsPage() -> impl IntoView {
    let save_links = ServerAction::<SaveLinks>::new();
    let save_doc = ServerAction::<SaveDocument>::new();
    let rollback = ServerAction::<RollbackDefaults>::new();
    // Counts the saves that succeeded: the only thing that reloads the stored document.
    let saves = RwSignal::new(0u32);
    let count = move |ok: bool| {
        if ok {
            saves.update(|n| *n += 1)
        }
    };
    Effect::watch(
        move || save_links.version().get(),
        move |_, _, _| count(save_links.value().get_untracked().is_some_and(|r| r.is_ok())),
        false,
    );
    Effect::watch(
        move || save_doc.version().get(),
        move |_, _, _| count(save_doc.value().get_untracked().is_some_and(|r| r.is_ok())),
        false,
    );
    Effect::watch(
        move || rollback.version().get(),
        move |_, _, _| count(rollback.value().get_untracked().is_some_and(|r| r.is_ok())),
        false,
    );
    let defaults = Resource::new(move || saves.get(), |_| load_defaults());
    view! {
        <Title text="Platform defaults" />
        <h1 class="text-2xl font-semibold mb-1">"Platform defaults"</h1>
        <p class="mb-4 text-sm text-slate-600">
            "Every change is a new version. " <a rel="external" href="/admin/defaults.toml" class="text-sky-700 underline">"Export as TOML"</a>
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
fn saved(result: Result<i64, AppError>) -> AnyView {
    match result {
        Ok(v) => view! { <p class="mt-2 text-sm text-emerald-700" role="status">{format!("Saved as version {v}.")}</p> }.into_any(),
        Err(error) => view! { <Refusal error /> }.into_any(),
    }
}

/// The link template a refusal names (`links[i]…`), to mark its row.
fn problem_link(message: &str) -> Option<usize> {
    let rest = message.split("links[").nth(1)?;
    rest.split(']').next()?.parse().ok()
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
    let faulty = Memo::new(move |_| match action.value().get() {
        Some(Err(error)) => problem_link(&error.to_string()),
        _ => None,
    });
    let field = "rounded border border-slate-300 px-2 py-1 text-sm";
    view! {
        <section class="mb-6 rounded border border-slate-200 bg-white p-4">
            <h2 class="font-semibold mb-2">"Metrics link templates"</h2>
            <p class="mb-2 text-xs text-slate-600">"Placeholders: {service} {squad} {cluster} {namespace} {tier}. Scope: everyone, one tier, or one service (overrides a link of the same name)."</p>
            <form on:submit=save>
                <div class="overflow-x-auto" tabindex="0">
                <table class="w-full text-sm">
                    <thead><tr class="text-left text-slate-600"><th>"Name"</th><th>"Icon"</th><th>"URL template"</th><th>"Scope"</th><th>"Tier or service"</th><th><span class="sr-only">"Remove"</span></th></tr></thead>
                    <tbody>
                        {move || rows.get().into_iter().enumerate().map(|(i, row)| {
                            let at_fault = move || faulty.get() == Some(i);
                            view! {
                                <tr data-testid="link-template" class=move || if at_fault() { "bg-red-50" } else { "" } aria-invalid=move || at_fault().then_some("true")>
                                    <td><input class=field aria-label=format!("Link {} name", i + 1) bind:value=row.name /></td>
                                    <td><input class=field size="8" aria-label=format!("Link {} icon", i + 1) bind:value=row.icon /></td>
                                    <td class="w-1/2"><input class=move || format!("{field} w-full font-mono {}", if at_fault() { "border-red-600" } else { "" }) aria-invalid=move || at_fault().then_some("true") aria-label=format!("Link {} URL", i + 1) bind:value=row.url /></td>
                                    <td>
                                        <select class=field aria-label=format!("Link {} scope", i + 1) bind:value=row.kind>
                                            <option value="everyone">"everyone"</option>
                                            <option value="tier">"tier"</option>
                                            <option value="service">"service"</option>
                                        </select>
                                    </td>
                                    <td><input class=field size="10" aria-label=format!("Link {} tier or service", i + 1) bind:value=row.value /></td>
                                    <td><button type="button" class="min-h-6 px-1 text-red-700 text-xs" aria-label=format!("Remove link {}", i + 1) on:click=move |_| rows.update(|r| { r.remove(i); })>"remove"</button></td>
                                </tr>
                            }
                        }).collect_view()}
                    </tbody>
                </table>
                </div>
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
    let editor = NodeRef::<leptos::html::Textarea>::new();
    let scrolled = RwSignal::new(0i32);
    let save = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        action.dispatch(SaveDocument { based_on: version, document: text.get(), note: note.get() });
    };
    let faulty = Memo::new(move |_| match action.value().get() {
        Some(Err(error)) => problem_line(&error.to_string()),
        _ => None,
    });
    // Selects the line at fault and scrolls to it, so the SRE's next keystroke fixes it.
    let show_line = move |line: usize| {
        let Some(area) = editor.get() else { return };
        let value = text.get_untracked();
        let start: usize = value.split('\n').take(line - 1).map(|l| l.len() + 1).sum();
        let end = start + value.split('\n').nth(line - 1).map_or(0, str::len);
        let (start, end) =
            (value[..start].encode_utf16().count(), value[..end].encode_utf16().count());
        let _ = area.focus();
        let _ = area.set_selection_range(start as u32, end as u32);
        area.set_scroll_top(16 * (line as i32 - 4).max(0));
    };
    Effect::new(move |_| {
        if let Some(line) = faulty.get() {
            show_line(line);
        }
    });
    let lines = move || text.with(|t| t.split('\n').count());
    view! {
        <section class="mb-6 rounded border border-slate-200 bg-white p-4">
            <h2 class="font-semibold mb-2">{format!("The whole document (version {version})")}</h2>
            <p class="mb-2 text-xs text-slate-600">"Readiness requirements per tier, query limits per tier (statement timeout, row cap, masked columns), log limits, links."</p>
            <form on:submit=save class="grid gap-2">
                <label for="defaults-document" class="text-sm font-medium">"Document (TOML)"</label>
                <div class="flex h-96 overflow-hidden rounded border border-slate-300 font-mono text-xs leading-4">
                    // Line numbers, kept in step with the editor's scroll; the line at fault in red.
                    <div aria-hidden="true" class="select-none overflow-hidden bg-slate-50 py-2 text-right text-slate-500">
                        <div style=move || format!("transform: translateY(-{}px)", scrolled.get())>
                            {move || (1..=lines()).map(|n| {
                                let bad = faulty.get() == Some(n);
                                view! {
                                    <div class=if bad { "bg-red-600 px-2 text-white" } else { "px-2" } data-testid=bad.then_some("fault-line")>{n}</div>
                                }
                            }).collect_view()}
                        </div>
                    </div>
                    <textarea id="defaults-document" node_ref=editor wrap="off" spellcheck="false"
                        class="h-full w-full resize-none p-2 leading-4 outline-none"
                        aria-invalid=move || faulty.get().map(|_| "true")
                        aria-describedby="defaults-document-problem"
                        on:scroll=move |ev| scrolled.set(event_target::<leptos::web_sys::HtmlTextAreaElement>(&ev).scroll_top())
                        bind:value=text></textarea>
                </div>
                <label for="defaults-note" class="text-sm font-medium">"What changed and why"</label>
                <input id="defaults-note" class="rounded border border-slate-300 px-2 py-1 text-sm" bind:value=note />
                <button type="submit" class="justify-self-start rounded bg-slate-900 px-3 py-1 text-sm text-white">"Save document"</button>
            </form>
            <div id="defaults-document-problem">
                {move || faulty.get().map(|line| view! {
                    <button type="button" class="mt-2 text-sm text-sky-700 underline" on:click=move |_| show_line(line)>{format!("Go to line {line}")}</button>
                })}
                {move || action.value().get().map(saved)}
            </div>
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
    let confirming = RwSignal::new(None::<i64>);
    let diff = Resource::new(
        move || shown.get(),
        |v| async move {
            match v {
                Some(v) => defaults_diff(v).await.map(|lines| Some((v, lines))),
                None => Ok(None),
            }
        },
    );
    view! {
        <section class="rounded border border-slate-200 bg-white p-4">
            <h2 class="font-semibold mb-2">"History"</h2>
            {move || rollback.value().get().map(|r| match r {
                Ok(v) => view! { <p class="mb-2 text-sm text-emerald-700" role="status">{format!("Rolled back: the document is now version {v}.")}</p> }.into_any(),
                Err(error) => view! { <Refusal error /> }.into_any(),
            })}
            <div class="overflow-x-auto" tabindex="0">
            <table class="w-full text-sm">
                <thead><tr class="text-left text-slate-600"><th>"Version"</th><th>"By"</th><th>"When (UTC)"</th><th>"Note"</th><th><span class="sr-only">"Actions"</span></th></tr></thead>
                <tbody>
                    {history.into_iter().map(|v| {
                        let version = v.version;
                        view! {
                            <tr class="border-t border-slate-100" data-testid="defaults-version">
                                <td class="p-1">{version}</td>
                                <td class="p-1">{v.author.clone()}</td>
                                <td class="p-1 tabular-nums">{console_core::dates::date_time(v.created_at)}</td>
                                <td class="p-1">{v.note.clone()}</td>
                                <td class="p-1 flex flex-wrap gap-3">
                                    {(version > 0).then(|| view! {
                                        <button class="min-h-6 text-sky-700 text-xs" aria-label=format!("What version {version} changed") on:click=move |_| shown.set(Some(version))>"diff"</button>
                                    })}
                                    {(version != current).then(|| view! {
                                        <button class="min-h-6 text-red-700 text-xs" data-testid=format!("rollback-{version}")
                                            on:click=move |_| confirming.set(Some(version))>
                                            {format!("roll back to {version}")}
                                        </button>
                                    })}
                                </td>
                            </tr>
                            {move || (confirming.get() == Some(version)).then(|| view! {
                                <tr><td colspan="5" class="p-2">
                                    <div class="rounded border border-amber-300 bg-amber-50 p-2 text-sm" role="alertdialog" aria-label=format!("Roll back to version {version}")>
                                        <p>{format!("Make version {version}'s document the one in force? It is saved as a new version; nothing is deleted.")}</p>
                                        <div class="mt-2 flex gap-3">
                                            <button class="rounded bg-red-700 px-3 py-1 text-white" on:click=move |_| {
                                                confirming.set(None);
                                                rollback.dispatch(RollbackDefaults { version });
                                            }>{format!("Roll back to {version}")}</button>
                                            <button class="rounded border border-slate-300 px-3 py-1" on:click=move |_| confirming.set(None)>"Keep the current version"</button>
                                        </div>
                                    </div>
                                </td></tr>
                            })}
                        }
                    }).collect_view()}
                </tbody>
            </table>
            </div>
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    match diff.await {
                        Ok(Some((version, lines))) => view! { <Diff version lines /> }.into_any(),
                        Ok(None) => ().into_any(),
                        Err(error) => view! { <Refusal error /> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}

/// What a version changed: a heading, the changed lines and three lines of context.
#[component]
fn Diff(version: i64, lines: Vec<DiffLine>) -> impl IntoView {
    let heading = format!("What version {version} changed (compared with version {})", version - 1);
    view! {
        <div class="mt-3" data-testid="diff">
            <h3 class="text-sm font-semibold">{heading}</h3>
            {if lines.is_empty() {
                view! { <p class="text-sm text-slate-600">"Nothing: the two documents say the same."</p> }.into_any()
            } else {
                view! {
                    <pre class="mt-1 overflow-x-auto rounded bg-slate-50 p-2 text-xs">
                        {lines.into_iter().map(|l| match l {
                            DiffLine::Added(t) => view! { <div class="bg-emerald-50 text-emerald-800"><span aria-label="added">"+ "</span>{t}</div> }.into_any(),
                            DiffLine::Removed(t) => view! { <div class="bg-red-50 text-red-800"><span aria-label="removed">"- "</span>{t}</div> }.into_any(),
                            DiffLine::Same(t) => view! { <div class="text-slate-600">{format!("  {t}")}</div> }.into_any(),
                            DiffLine::Skipped(n) => view! { <div class="text-slate-500 italic">{format!("  … {n} unchanged lines")}</div> }.into_any(),
                        }).collect_view()}
                    </pre>
                }.into_any()
            }}
        </div>
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_refusal_names_the_link_at_fault() {
        let message =
            "the defaults are not valid: links[2] (Grafana): only http(s) links are allowed";
        assert_eq!(super::problem_link(message), Some(2));
        assert_eq!(super::problem_link("nothing changed"), None);
    }
}
