use super::server_fns::query_audit;
use crate::components::Loaded;
use leptos::prelude::*;
use leptos_meta::Title;

/// `/audit`: every query attempt, for SREs; exported as CSV.
#[component]
pub fn AuditPage() -> impl IntoView {
    let entries = Resource::new(|| (), |_| query_audit());
    view! {
        <Title text="Query audit" />
        <h1 class="text-2xl font-semibold mb-1">"Query audit"</h1>
        <p class="mb-3 text-sm"><a rel="external" href="/admin/audit.csv" class="text-sky-700 hover:underline">"Export as CSV"</a></p>
        <Loaded resource=entries let:entries>
            <table class="w-full bg-white text-xs" data-testid="audit">
                <thead><tr class="text-left text-slate-500"><th class="p-1">"When (UTC)"</th><th>"Who"</th><th>"Service / replica"</th><th>"Outcome"</th><th>"Rows"</th><th>"ms"</th><th>"SQL"</th></tr></thead>
                <tbody>
                    {entries.into_iter().map(|e| view! {
                        <tr class="border-t border-slate-100 align-top">
                            <td class="p-1 tabular-nums">{console_core::dates::date_time(e.at)}</td>
                            <td class="p-1">{e.login}</td>
                            <td class="p-1">{format!("{} / {}", e.service, e.replica)}</td>
                            <td class="p-1">{e.outcome}<div class="text-slate-500">{e.reason}</div></td>
                            <td class="p-1">{e.rows}</td>
                            <td class="p-1">{e.duration_ms}</td>
                            <td class="p-1 font-mono">{e.sql.chars().take(300).collect::<String>()}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        </Loaded>
    }
}
