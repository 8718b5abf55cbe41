use super::api::get_service;
use crate::components::{ErrorView, ExternalLink, LifecycleBadge, ReadinessBar, TierBadge};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

/// One service: ownership, links, where its workloads run, and its readiness report.
#[component]
pub fn ServicePage() -> impl IntoView {
    let params = use_params_map();
    let page = Resource::new(move || params.get().get("name").unwrap_or_default(), get_service);
    view! {
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match page.await {
                    Err(error) => view! { <ErrorView error /> }.into_any(),
                    Ok(page) => view! { <ServiceDetail page /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn ServiceDetail(page: console_core::catalog::ServicePage) -> impl IntoView {
    let s = page.service;
    let readiness = page.readiness;
    let row = "grid grid-cols-3 gap-2 py-1";
    view! {
        <Title text=s.name.clone() />
        <header class="mb-4">
            <h1 class="text-2xl font-semibold flex items-center gap-3">
                {s.name.clone()} <TierBadge tier=s.tier /> <LifecycleBadge lifecycle=s.lifecycle />
            </h1>
            <p class="text-slate-600">{s.description.clone()}</p>
        </header>
        <div class="grid gap-6 md:grid-cols-2">
            <section class="rounded border border-slate-200 bg-white p-4">
                <h2 class="font-semibold mb-2">"Ownership"</h2>
                <dl class="text-sm">
                    <div class=row><dt class="text-slate-500">"Squad"</dt>
                        <dd class="col-span-2"><a href=format!("/squads/{}", page.squad.name) class="text-sky-700 hover:underline">{page.squad.display_name.clone()}</a></dd></div>
                    <div class=row><dt class="text-slate-500">"On call"</dt>
                        <dd class="col-span-2">{if page.squad.oncall.rotation.is_empty() { view! { <span class="text-slate-400">"none"</span> }.into_any() } else { view! { <ExternalLink url=page.squad.oncall.url.clone() label=page.squad.oncall.rotation.clone() /> }.into_any() }}</dd></div>
                    <div class=row><dt class="text-slate-500">"Chat"</dt><dd class="col-span-2">{page.squad.chat_channel.clone()}</dd></div>
                    <div class=row><dt class="text-slate-500">"System"</dt><dd class="col-span-2">{s.system.clone()}</dd></div>
                    <div class=row><dt class="text-slate-500">"Repository"</dt><dd class="col-span-2"><ExternalLink url=s.repository.clone() /></dd></div>
                    <div class=row><dt class="text-slate-500">"Runbook"</dt><dd class="col-span-2"><ExternalLink url=s.runbook.clone() /></dd></div>
                    <div class=row><dt class="text-slate-500">"SLO"</dt><dd class="col-span-2">{s.slo.clone()}</dd></div>
                    <div class=row><dt class="text-slate-500">"Tags"</dt><dd class="col-span-2">{s.tags.join(", ")}</dd></div>
                    <div class=row><dt class="text-slate-500">"Kubernetes"</dt>
                        <dd class="col-span-2 font-mono text-xs">
                            {format!("{} {} {}",
                                if s.workloads.cluster.is_empty() { "all clusters" } else { &s.workloads.cluster },
                                if s.workloads.namespace.is_empty() { "all namespaces" } else { &s.workloads.namespace },
                                s.workloads.label_selector)}
                        </dd></div>
                </dl>
                <ul class="mt-2 text-sm">
                    {s.links.iter().map(|l| view! { <li><ExternalLink url=l.url.clone() label=l.title.clone() /></li> }).collect_view()}
                </ul>
            </section>
            <section class="rounded border border-slate-200 bg-white p-4" data-testid="readiness">
                <h2 class="font-semibold mb-2 flex items-center justify-between">
                    {format!("Readiness for {}", readiness.tier)} <ReadinessBar score=readiness.score />
                </h2>
                <ul class="text-sm">
                    {readiness.checks.into_iter().map(|c| view! {
                        <li class="flex gap-2 py-0.5">
                            <span class=if c.met { "text-emerald-600" } else { "text-red-600" }>{if c.met { "✓" } else { "✗" }}</span>
                            <span class="flex-1">{c.check.title.clone()} <span class="text-xs text-slate-400">{format!(" T{}", c.check.tier)}</span></span>
                            <span class="text-xs text-slate-500">{c.because.clone()}</span>
                        </li>
                    }).collect_view()}
                </ul>
            </section>
        </div>
    }
}
