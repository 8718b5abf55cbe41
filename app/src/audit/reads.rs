use super::server_fns::service_reads;
use crate::components::ErrorView;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

/// `/services/:name/reads`: who read this service's logs and data, newest first.
#[component]
pub fn ServiceReadsPage() -> impl IntoView {
    let params = use_params_map();
    let name = move || crate::catalog::key_from(&params.get());
    let reads = Resource::new(name, service_reads);
    view! {
        // Read once, not a closure: the server reads the title after the page's owner is gone.
        <Title text=format!("Reads of {}", crate::catalog::key_from(&params.get_untracked())) />
        <h1 class="text-2xl font-semibold mb-1">"Who read " {name}</h1>
        <p class="mb-3 text-sm text-slate-600">"Log views, follows and downloads, and queries on its replicas: for the owning squad and SREs."</p>
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match reads.await {
                    Err(error) => view! { <ErrorView error /> }.into_any(),
                    Ok(reads) if reads.is_empty() => view! { <p class="text-slate-500">"Nobody has read this service's logs or data yet."</p> }.into_any(),
                    Ok(reads) => view! {
                        <table class="w-full bg-white text-xs" data-testid="reads">
                            <thead><tr class="text-left text-slate-500"><th class="p-1">"When (UTC)"</th><th>"Who"</th><th>"What"</th><th>"Lines / rows"</th><th>"Window, filter or SQL"</th></tr></thead>
                            <tbody>
                                {reads.into_iter().map(|r| view! {
                                    <tr class="border-t border-slate-100 align-top" data-testid="read-row">
                                        <td class="p-1 tabular-nums">{console_core::dates::date_time(r.at)}</td>
                                        <td class="p-1">{r.actor}</td>
                                        <td class="p-1">{r.kind}</td>
                                        <td class="p-1 tabular-nums">{r.rows}</td>
                                        <td class="p-1 font-mono break-all">{r.detail.chars().take(300).collect::<String>()}</td>
                                    </tr>
                                }).collect_view()}
                            </tbody>
                        </table>
                    }.into_any(),
                }
            })}
        </Suspense>
    }
}
