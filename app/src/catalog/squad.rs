use super::api::get_squad;
use crate::components::{ErrorView, ExternalLink, LifecycleBadge, ReadinessBar, TierBadge};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

/// The squad ownership page: what we own, how ready it is, who is on call, where the runbooks are.
#[component]
pub fn SquadPage() -> impl IntoView {
    let params = use_params_map();
    let page = Resource::new(move || params.get().get("name").unwrap_or_default(), get_squad);
    view! {
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match page.await {
                    Err(error) => view! { <ErrorView error /> }.into_any(),
                    Ok(page) => view! { <SquadDetail page /> }.into_any(),
                }
            })}
        </Suspense>
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
        </header>
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
