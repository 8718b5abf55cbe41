use super::server_fns::get_squad;
use crate::components::{ExternalLink, LifecycleBadge, Loaded, ReadinessBar, TierBadge};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

/// The squad ownership page: what we own, how ready it is, who is on call, where the runbooks are.
#[component]
pub fn SquadPage() -> impl IntoView {
    let params = use_params_map();
    let page = Resource::new(move || crate::catalog::key_from(&params.get()), get_squad);
    view! {
        <Loaded resource=page let:page>
            <SquadDetail page />
        </Loaded>
    }
}

#[component]
fn SquadDetail(page: console_core::catalog::SquadPage) -> impl IntoView {
    let squad = page.squad;
    view! {
        <Title text=squad.display_name.clone() />
        <header class="mb-4">
            <h1 class="text-2xl font-semibold">{squad.display_name.clone()}</h1>
            <p class="text-slate-600">{squad.description.clone()}</p>
            {(!squad.parent.is_empty()).then(|| view! {
                <p class="text-sm text-slate-500" data-testid="squad-parent">
                    {format!("{} under ", if squad.group_type.is_empty() { "group" } else { &squad.group_type })}
                    <a href=format!("/squads/{}", squad.parent) class="text-sky-700 hover:underline">{squad.parent.clone()}</a>
                </p>
            })}
        </header>
        {(!page.children.is_empty()).then(|| view! {
            // Display and roll-up only: a parent's members get nothing of what its groups own.
            <section class="mb-6 rounded border border-slate-200 bg-white p-4 text-sm" data-testid="squad-children">
                <h2 class="font-semibold mb-2 flex items-center gap-3">
                    {format!("Groups under {}: {} services in all", squad.display_name, page.subtree_services)}
                    <ReadinessBar score=page.subtree />
                </h2>
                <ul class="flex flex-wrap gap-4">
                    {page.children.iter().map(|c| view! {
                        <li><a href=format!("/squads/{}", c.name) class="text-sky-700 hover:underline">{c.display_name.clone()}</a>
                            <span class="text-slate-500">{format!(" ({} services)", c.services)}</span></li>
                    }).collect_view()}
                </ul>
            </section>
        })}
        <div class="grid gap-6 md:grid-cols-3 mb-6">
            <section class="rounded border border-slate-200 bg-white p-4" data-testid="squad-readiness">
                <h2 class="font-semibold mb-2">"Readiness"</h2>
                <ReadinessBar score=page.readiness />
                <p class="text-sm text-slate-600 mt-1">{format!("{} services", page.services.len())}</p>
            </section>
            <section class="rounded border border-slate-200 bg-white p-4">
                <h2 class="font-semibold mb-2">"On call"</h2>
                {if squad.oncall.rotation.is_empty() {
                    view! { <p class="text-sm text-red-700">"No on-call rotation"</p> }.into_any()
                } else {
                    view! { <p class="text-sm"><ExternalLink url=squad.oncall.url.clone() label=squad.oncall.rotation.clone() /></p> }.into_any()
                }}
                <p class="text-sm text-slate-600 mt-1">{squad.chat_channel.clone()}</p>
                <ul class="mt-2 text-sm">
                    {squad.links.iter().map(|l| view! { <li><ExternalLink url=l.url.clone() label=l.title.clone() /></li> }).collect_view()}
                </ul>
            </section>
            <section class="rounded border border-slate-200 bg-white p-4">
                <h2 class="font-semibold mb-2">"Members"</h2>
                <ul class="text-sm">{squad.members.iter().map(|m| view! { <li>{m.clone()}</li> }).collect_view()}</ul>
            </section>
        </div>
        <h2 class="text-lg font-semibold mb-2">"What we own"</h2>
        <table class="w-full border-collapse bg-white text-sm">
            <thead>
                <tr class="border-b border-slate-200 text-left text-slate-500">
                    <th class="p-2">"Service"</th><th class="p-2">"Tier"</th><th class="p-2">"Lifecycle"</th>
                    <th class="p-2">"Readiness"</th><th class="p-2">"Runbook"</th><th class="p-2">"Metrics"</th>
                </tr>
            </thead>
            <tbody>
                {page.services.into_iter().zip(page.links).map(|(s, links)| view! {
                    <tr class="border-b border-slate-100" data-testid="owned-service">
                        <td class="p-2"><a href=format!("/services/{}", s.name) class="text-sky-700 hover:underline">{s.name.clone()}</a></td>
                        <td class="p-2"><TierBadge tier=s.tier /></td>
                        <td class="p-2"><LifecycleBadge lifecycle=s.lifecycle /></td>
                        <td class="p-2"><ReadinessBar score=s.readiness /></td>
                        <td class="p-2">{if s.runbook.is_empty() { view! { <span class="text-red-700">"missing"</span> }.into_any() } else { view! { <ExternalLink url=s.runbook.clone() label="runbook".to_string() /> }.into_any() }}</td>
                        <td class="p-2 flex gap-2">{links.into_iter().map(|l| view! { <ExternalLink url=l.url label=l.name /> }).collect_view()}</td>
                    </tr>
                }).collect_view()}
            </tbody>
        </table>
    }
}
