//! `/services/:name/logs`: the pods of a service's deployments merged into one timeline, with
//! container, since, tail, previous, a server-side filter, live follow and download. The browser
//! keeps the newest lines only, so a fast stream cannot swamp the tab.

use super::live;
use super::server_fns::workloads_of;
use crate::components::{ErrorView, Loaded};
use console_core::k8s::model::{LogLine, LogOptions};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

/// Lines the page keeps; older ones scroll away (the download has them all).
const LINES_SHOWN: usize = 5_000;

/// The logs page for those who may read them; for anyone else, why not and who can open them,
/// with no control that would only be refused.
#[component]
pub fn LogsPage() -> impl IntoView {
    let params = use_params_map();
    let service = move || crate::catalog::key_from(&params.get());
    let access = Resource::new(service, crate::catalog::service_access);
    view! {
        // Read once, not a closure: the server reads the title after the page's owner is gone.
        <Title text=format!("{} logs", crate::catalog::key_from(&params.get_untracked())) />
        <Loaded resource=access let:access>
            {if access.logs {
                view! { <LogViewer /> }.into_any()
            } else {
                view! {
                    <h1 class="mb-3 text-2xl font-semibold">{format!("{} logs", access.service)}</h1>
                    <p class="max-w-2xl rounded border border-slate-200 bg-white p-4 text-sm" data-testid="how-to-get-access">
                        {access.how_to_get_access.clone()}
                    </p>
                }.into_any()
            }}
        </Loaded>
    }
}

#[component]
fn LogViewer() -> impl IntoView {
    let params = use_params_map();
    let service = move || crate::catalog::key_from(&params.get());
    let workloads = Resource::new(service, |s| workloads_of(s, String::new()));
    let deployment = RwSignal::new(String::new());
    let container = RwSignal::new(String::new());
    let since = RwSignal::new("15m".to_string());
    let tail = RwSignal::new("500".to_string());
    let previous = RwSignal::new(false);
    let filter = RwSignal::new(String::new());
    let regex = RwSignal::new(false);
    // (pod/container, text): the prefix can be hidden on a narrow screen.
    let lines = RwSignal::new(Vec::<(String, String)>::new());
    let wrap = RwSignal::new(false);
    let pod_names = RwSignal::new(true);
    let status = RwSignal::new(String::new());
    let following = RwSignal::new(false);
    let stream = live::stream_slot();

    let options = move || LogOptions {
        cluster: String::new(),
        deployment: deployment.get(),
        container: container.get(),
        since: since.get(),
        tail: tail.get().trim().parse().unwrap_or(0),
        previous: previous.get(),
        filter: filter.get(),
        regex: regex.get(),
    };
    let start =
        move |follow: bool| {
            lines.set(Vec::new());
            status.set(if follow { "Following…".into() } else { "Loading…".into() });
            following.set(follow);
            let query = options().query_string();
            let separator = if query.is_empty() { "?" } else { "&" };
            let url = format!(
                "/services/{}/logs/stream{query}{}",
                service(),
                if follow { format!("{separator}follow=true") } else { String::new() }
            );
            stream.set_value(None);
            stream.set_value(live::open(
                &url,
                &["lines", "note", "problem", "end"],
                move |event, data| match event {
                    "lines" => {
                        if let Ok(batch) = serde_json::from_str::<Vec<LogLine>>(&data) {
                            lines.update(|all| {
                                all.extend(batch.iter().map(|l| {
                                    (format!("{}/{}", l.pod, l.container), l.text.clone())
                                }));
                                let excess = all.len().saturating_sub(LINES_SHOWN);
                                all.drain(..excess);
                            });
                        }
                    }
                    "note" => status.update(|s| {
                        s.push_str(" · ");
                        s.push_str(&data);
                    }),
                    "problem" => {
                        status.set(data);
                        following.set(false);
                        stream.set_value(None);
                    }
                    "failed" => {
                        status.set(
                            "The logs could not be read: the console refused or could not be \
                         reached. Reload the page to try again."
                                .into(),
                        );
                        following.set(false);
                        stream.set_value(None);
                    }
                    _ => {
                        status.update(|s| *s = s.replace("Loading…", "Done."));
                        stream.set_value(None);
                    }
                },
            ));
        };
    let stop = move || {
        stream.set_value(None);
        following.set(false);
        status.set("Stopped.".into());
    };
    let download = move || format!("/services/{}/logs.txt{}", service(), options().query_string());
    let field = "rounded border border-slate-300 px-2 py-1";

    view! {
        <div class="mb-3 flex items-baseline gap-4">
            <h1 class="text-2xl font-semibold">{move || format!("{} logs", service())}</h1>
            <a class="text-sm text-blue-700 underline" href=move || format!("/services/{}/deployments", service())>"Deployments"</a>
        </div>
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match workloads.await {
                    Err(error) => view! { <ErrorView error /> }.into_any(),
                    Ok(w) => {
                        let mut containers: Vec<String> = w.deployments.iter().flat_map(|d| d.pods.iter().flat_map(|p| p.containers.clone())).collect();
                        containers.sort();
                        containers.dedup();
                        view! {
                            <div class="mb-3 flex flex-wrap items-end gap-3 text-sm">
                                <label class="flex flex-col">"Deployment"
                                    <select class=field bind:value=deployment aria-label="Deployment">
                                        <option value="">"all"</option>
                                        {w.deployments.iter().map(|d| view! { <option value=d.name.clone()>{format!("{} ({})", d.name, d.cluster)}</option> }).collect_view()}
                                    </select>
                                </label>
                                <label class="flex flex-col">"Container"
                                    <select class=field bind:value=container aria-label="Container">
                                        <option value="">"all"</option>
                                        {containers.into_iter().map(|c| view! { <option value=c.clone()>{c.clone()}</option> }).collect_view()}
                                    </select>
                                </label>
                            </div>
                        }.into_any()
                    }
                }
            })}
        </Transition>
        <form class="mb-3 flex flex-wrap items-end gap-3 text-sm" on:submit=move |ev| { ev.prevent_default(); start(false); }>
            <label class="flex flex-col">"Since" <input class=field size="6" bind:value=since aria-label="Since" placeholder="15m" /></label>
            <label class="flex flex-col">"Tail lines" <input class=field size="6" bind:value=tail aria-label="Tail lines" /></label>
            <label class="flex flex-col">"Filter" <input class=field bind:value=filter aria-label="Filter" placeholder="text or regex" /></label>
            <label class="flex items-center gap-1"><input type="checkbox" bind:checked=regex aria-label="Regex" />"regex"</label>
            <label class="flex items-center gap-1"><input type="checkbox" bind:checked=previous aria-label="Previous container" />"previous container"</label>
            <button type="submit" class="rounded bg-slate-800 px-3 py-1 text-white" data-testid="show-logs">"Show"</button>
            {move || if following.get() {
                view! { <button type="button" class="rounded border border-slate-400 px-3 py-1" on:click=move |_| stop() data-testid="stop-follow">"Stop"</button> }.into_any()
            } else {
                view! { <button type="button" class="rounded border border-slate-400 px-3 py-1" on:click=move |_| start(true) data-testid="follow-logs">"Follow"</button> }.into_any()
            }}
            <a class="text-blue-700 underline" rel="external" href=download data-testid="download-logs">"Download"</a>
        </form>
        <p class="mb-2 text-sm text-slate-600" role="status" data-testid="log-status">{move || status.get()}</p>
        <div class="mb-1 flex gap-4 text-sm">
            <label class="flex min-h-6 items-center gap-1"><input type="checkbox" bind:checked=wrap />"Wrap lines"</label>
            <label class="flex min-h-6 items-center gap-1"><input type="checkbox" bind:checked=pod_names />"Pod names"</label>
        </div>
        <pre
            class="h-[32rem] overflow-auto rounded bg-slate-900 p-2 text-xs leading-5 text-slate-100"
            class:whitespace-pre-wrap=move || wrap.get()
            class:break-all=move || wrap.get()
            data-testid="log-lines"
        >
            {move || {
                let names = pod_names.get();
                lines.with(|l| {
                    l.iter()
                        .map(|(prefix, text)| if names { format!("{prefix} {text}") } else { text.clone() })
                        .collect::<Vec<_>>()
                        .join("\n")
                })
            }}
        </pre>
    }
}
