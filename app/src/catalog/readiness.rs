use super::server_fns::readiness_report;
use crate::components::{ErrorView, ReadinessBar, TierBadge};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

/// `/readiness`: services by tier and how many meet their tier's checks, the checks most often
/// missing, and squads (`?sort=name|ready|score`).
#[component]
pub fn ReadinessPage() -> impl IntoView {
    let query = use_query_map();
    let sort = move || query.get().get("sort").unwrap_or_else(|| "name".into());
    let report = Resource::new(|| (), |_| readiness_report());
    view! {
        <Title text="Readiness" />
        <h1 class="text-2xl font-semibold mb-4">"Production readiness"</h1>
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match report.await {
                    Err(error) => view! { <ErrorView error /> }.into_any(),
                    Ok(report) => {
                        let mut squads = report.squads.clone();
                        match sort().as_str() {
                            "ready" => squads.sort_by_key(|s| std::cmp::Reverse(s.ready * 1000 / s.services.max(1))),
                            "score" => squads.sort_by_key(|s| std::cmp::Reverse(s.score.percent())),
                            _ => squads.sort_by(|a, b| a.name.cmp(&b.name)),
                        }
                        view! {
                            <div class="grid gap-6 md:grid-cols-2 mb-6">
                                <section class="rounded border border-slate-200 bg-white p-4">
                                    <h2 class="font-semibold mb-2">"By tier"</h2>
                                    <table class="w-full text-sm" data-testid="by-tier">
                                        <thead><tr class="text-left text-slate-500"><th>"Tier"</th><th>"Services"</th><th>"Meet their tier"</th><th></th></tr></thead>
                                        <tbody>
                                            {report.tiers.iter().map(|(tier, services, ready)| view! {
                                                <tr class="border-t border-slate-100">
                                                    <td class="p-1"><TierBadge tier=*tier /></td>
                                                    <td class="p-1">{*services}</td>
                                                    <td class="p-1">{*ready}</td>
                                                    <td class="p-1"><a class="text-sky-700 hover:underline" href=format!("/catalog?tier={}&readiness=not-ready", tier.number())>"not ready →"</a></td>
                                                </tr>
                                            }).collect_view()}
                                        </tbody>
                                    </table>
                                </section>
                                <section class="rounded border border-slate-200 bg-white p-4">
                                    <h2 class="font-semibold mb-2">"Most often missing"</h2>
                                    <ol class="text-sm" data-testid="most-missing">
                                        {report.most_missing.iter().take(10).map(|(id, title, n)| view! {
                                            <li class="flex justify-between py-0.5"><span>{title.clone()} <span class="text-xs text-slate-500">{id.clone()}</span></span><span class="tabular-nums">{*n}</span></li>
                                        }).collect_view()}
                                    </ol>
                                </section>
                            </div>
                            <section class="rounded border border-slate-200 bg-white p-4">
                                <h2 class="font-semibold mb-2">"Squads"</h2>
                                <table class="w-full text-sm" data-testid="squad-readiness-table">
                                    <thead><tr class="text-left text-slate-500">
                                        <th><a href="/readiness?sort=name" class="hover:underline">"Squad"</a></th>
                                        <th>"Services"</th>
                                        <th><a href="/readiness?sort=ready" class="hover:underline">"Ready"</a></th>
                                        <th><a href="/readiness?sort=score" class="hover:underline">"Checks met"</a></th>
                                    </tr></thead>
                                    <tbody>
                                        {squads.into_iter().map(|s| view! {
                                            <tr class="border-t border-slate-100" data-testid="squad-readiness-row">
                                                <td class="p-1"><a href=format!("/squads/{}", s.name) class="text-sky-700 hover:underline">{s.display_name.clone()}</a></td>
                                                <td class="p-1">{s.services}</td>
                                                <td class="p-1">{format!("{} of {}", s.ready, s.services)}</td>
                                                <td class="p-1"><ReadinessBar score=s.score /></td>
                                            </tr>
                                        }).collect_view()}
                                    </tbody>
                                </table>
                            </section>
                        }.into_any()
                    }
                }
            })}
        </Suspense>
    }
}
