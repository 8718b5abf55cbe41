//! `/services/:name/deployments`: each deployment's rollout, replicas, images, revisions, pods and
//! events, per cluster; updated live from the server's watch caches while the page is open.

use super::live;
use super::server_fns::workloads_of;
use crate::components::ErrorView;
use console_core::k8s::model::{DeploymentView, RolloutState, ServiceWorkloads};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

#[component]
pub fn DeploymentsPage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let service = move || crate::catalog::key_from(&params.get());
    let cluster = move || query.get().get("cluster").unwrap_or_default();
    let initial = Resource::new(move || (service(), cluster()), |(s, c)| workloads_of(s, c));
    // The Logs link only for those who may read them (the logs page says why to the others).
    let access = Resource::new(service, crate::catalog::service_access);
    // Newer views from the live stream replace the server-rendered one.
    let latest = RwSignal::new(None::<ServiceWorkloads>);
    let stream = live::stream_slot();
    Effect::new(move |_| {
        let url = format!("/services/{}/deployments/live", service());
        stream.set_value(live::open(&url, &["workloads"], move |_, data| {
            if let Ok(view) = serde_json::from_str::<ServiceWorkloads>(&data) {
                latest.set(Some(view));
            }
        }));
    });
    view! {
        // Read once, not a closure: the server reads the title after the page's owner is gone.
        <Title text=format!("{} deployments", crate::catalog::key_from(&params.get_untracked())) />
        <div class="mb-3 flex items-baseline gap-4">
            <h1 class="text-2xl font-semibold">{move || format!("{} deployments", service())}</h1>
            <a class="text-sm text-blue-700 underline" href=move || format!("/services/{}", service())>"Service"</a>
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    let may_read = access.await.is_ok_and(|a| a.logs);
                    may_read.then(|| view! {
                        <a class="text-sm text-blue-700 underline" href=format!("/services/{}/logs", service()) data-testid="logs-link">"Logs"</a>
                    })
                })}
            </Suspense>
        </div>
        <Transition fallback=|| view! { <p>"Loading deployments…"</p> }>
            {move || Suspend::new(async move {
                match initial.await {
                    Err(error) => view! { <ErrorView error /> }.into_any(),
                    Ok(first) => {
                        let current = move || latest.get().unwrap_or_else(|| first.clone());
                        view! { {move || workloads_view(current())} }.into_any()
                    }
                }
            })}
        </Transition>
    }
}

fn workloads_view(w: ServiceWorkloads) -> impl IntoView {
    let empty = w.deployments.is_empty();
    let scope = if w.namespace.is_empty() {
        "no namespace".to_string()
    } else {
        format!("namespace {}", w.namespace.replace(',', ", "))
    };
    view! {
        {w.clusters.iter().map(|c| {
            let banner = match (&c.stale_since, c.synced) {
                (Some(since), _) => Some(format!("Cluster {} is unreachable: showing its state as of {since}.", c.name)),
                (None, false) => Some(format!("Cluster {} is still loading.", c.name)),
                _ => None,
            };
            let unwatched = (!c.unwatched.is_empty()).then(|| format!(
                "The console may not watch namespace {} in cluster {}: its workloads cannot show here. The platform team grants it in the console's RBAC (deploy/, docs/deploy.md).",
                c.unwatched.join(", "), c.name
            ));
            view! {
                {banner.map(|text| view! {
                    <p class="mb-3 rounded border border-amber-300 bg-amber-50 p-2 text-sm text-amber-900" role="status" data-testid="stale-banner">{text}</p>
                })}
                {unwatched.map(|text| view! {
                    <p class="mb-3 rounded border border-amber-300 bg-amber-50 p-2 text-sm text-amber-900" role="status" data-testid="unwatched-banner">{text}</p>
                })}
            }
        }).collect_view()}
        <p class="mb-3 text-sm text-slate-600">
            {format!("Workloads matching {} in {scope} on {} cluster(s).", w.selector, w.clusters.len())}
        </p>
        {empty.then(|| view! {
            <p class="rounded border border-slate-200 bg-white p-4" data-testid="no-deployments">
                {format!("No deployment matches {} in {scope}.", w.selector)}
                {w.namespace.is_empty().then_some(" Workloads are looked for only in the owning squad's namespaces: add console.dev/kubernetes-namespaces to the squad's Group, or backstage.io/kubernetes-namespace to the service's descriptor.")}
            </p>
        })}
        {w.deployments.into_iter().map(deployment_view).collect_view()}
    }
}

fn rollout_badge(state: RolloutState) -> (&'static str, &'static str) {
    match state {
        RolloutState::Complete => ("complete", "bg-green-100 text-green-800"),
        RolloutState::Progressing => ("progressing", "bg-amber-100 text-amber-900"),
        RolloutState::Failed => ("failed", "bg-red-100 text-red-800"),
    }
}

fn deployment_view(d: DeploymentView) -> impl IntoView {
    let (label, class) = rollout_badge(d.rollout.state);
    let id = format!("deployment-{}-{}", d.cluster, d.name);
    view! {
        <section class="mb-6 rounded border border-slate-200 bg-white p-4" data-testid=id>
            <div class="flex flex-wrap items-baseline gap-3">
                <h2 class="text-lg font-semibold">{d.name.clone()}</h2>
                <span class="text-sm text-slate-600">{format!("{} / {}", d.cluster, d.namespace)}</span>
                <span class=format!("rounded px-2 py-0.5 text-xs font-medium {class}") data-testid="rollout">{label}</span>
                <span class="text-sm text-slate-700" data-testid="rollout-reason">{format!("{} {}", d.rollout.reason, d.rollout.message)}</span>
            </div>
            <p class="mt-2 text-sm" data-testid="replicas">
                {format!("Replicas: {} desired · {} updated · {} ready · {} available · revision {}", d.desired, d.updated, d.ready, d.available, d.revision)}
            </p>
            <p class="text-sm text-slate-700">"Images: " <code>{d.images.join(", ")}</code></p>
            <h3 class="mt-3 font-medium">"Pods"</h3>
            <div class="overflow-x-auto" tabindex="0"><table class="mt-1 w-full text-left text-sm [&_td]:pr-3 [&_th]:pr-3" data-testid="pods">
                <thead><tr class="text-slate-500"><th>"Pod"</th><th>"Phase"</th><th>"Ready"</th><th>"Restarts"</th><th>"State"</th><th>"Last termination"</th><th>"Node"</th><th>"Rev"</th><th>"Age"</th></tr></thead>
                <tbody>
                    {d.pods.into_iter().map(|p| {
                        let trouble = !p.waiting.is_empty() || !p.all_ready;
                        view! {
                            <tr class:text-red-700=trouble>
                                <td class="font-mono">{p.name}</td><td>{p.phase}</td><td>{p.ready}</td><td>{p.restarts}</td>
                                <td>{if p.waiting.is_empty() { "Running".to_string() } else { p.waiting }}</td>
                                <td>{p.last_termination}</td><td>{p.node}</td><td>{p.revision}</td><td>{p.age}</td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table></div>
            <h3 class="mt-3 font-medium">"Revision history"</h3>
            <div class="overflow-x-auto" tabindex="0"><table class="mt-1 w-full text-left text-sm [&_td]:pr-3 [&_th]:pr-3" data-testid="revisions">
                <thead><tr class="text-slate-500"><th>"Revision"</th><th>"Replica set"</th><th>"Images"</th><th>"Pods"</th><th>"Age"</th></tr></thead>
                <tbody>
                    {d.revisions.into_iter().map(|r| view! {
                        <tr class:font-semibold=r.current>
                            <td>{r.revision}{r.current.then_some(" (current)")}</td><td class="font-mono">{r.replica_set}</td>
                            <td><code>{r.images.join(", ")}</code></td><td>{format!("{}/{}", r.ready, r.desired)}</td><td>{r.age}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table></div>
            <h3 class="mt-3 font-medium">"Events"</h3>
            <div class="overflow-x-auto" tabindex="0"><table class="mt-1 w-full text-left text-sm [&_td]:pr-3 [&_th]:pr-3" data-testid="events">
                <thead><tr class="text-slate-500"><th>"Age"</th><th>"Type"</th><th>"Reason"</th><th>"Object"</th><th>"Message"</th><th>"Count"</th></tr></thead>
                <tbody>
                    {d.events.into_iter().map(|e| view! {
                        <tr class:text-red-700=e.warning>
                            <td title=e.time>{e.age}</td><td>{if e.warning { "Warning" } else { "Normal" }}</td><td>{e.reason}</td>
                            <td class="font-mono">{e.object}</td><td>{e.message}</td><td>{e.count}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table></div>
        </section>
    }
}
