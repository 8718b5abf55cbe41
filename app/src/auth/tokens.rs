use super::api::{list_tokens, CreateToken, RevokeToken};
use crate::components::ErrorView;
use leptos::prelude::*;
use leptos_meta::Title;

/// Personal API tokens for the JSON API: create (shown once), list, revoke.
#[component]
pub fn TokensPage() -> impl IntoView {
    let create = ServerAction::<CreateToken>::new();
    let revoke = ServerAction::<RevokeToken>::new();
    let tokens = Resource::new(move || (create.version().get(), revoke.version().get()), |_| list_tokens());
    view! {
        <Title text="API tokens" />
        <h1 class="text-2xl font-semibold mb-2">"API tokens"</h1>
        <p class="mb-4 text-sm text-slate-600">"Send as " <code>"Authorization: Bearer <token>"</code> " to " <code>"/api/v1/…"</code> ". A token acts as you; revoke it when it is no longer needed."</p>
        <ActionForm action=create attr:class="mb-4 flex gap-2">
            <input name="name" required placeholder="What is it for?" aria-label="Token name" class="flex-1 rounded border border-slate-300 px-3 py-2" />
            <button type="submit" class="rounded bg-slate-900 px-4 py-2 text-white">"Create token"</button>
        </ActionForm>
        {move || create.value().get().map(|result| match result {
            Ok(token) => view! {
                <div class="mb-4 rounded border border-emerald-300 bg-emerald-50 p-3 text-sm" data-testid="new-token">
                    <p>"Copy it now: it will not be shown again."</p>
                    <code class="break-all">{token}</code>
                </div>
            }.into_any(),
            Err(error) => view! { <ErrorView error /> }.into_any(),
        })}
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match tokens.await {
                    Err(error) => view! { <ErrorView error /> }.into_any(),
                    Ok(list) => view! {
                        <table class="w-full bg-white text-sm">
                            <thead><tr class="text-left text-slate-500"><th class="p-2">"Name"</th><th class="p-2">"Id"</th><th class="p-2">"State"</th><th></th></tr></thead>
                            <tbody>
                                {list.into_iter().map(|t| view! {
                                    <tr class="border-t border-slate-100" data-testid="token-row">
                                        <td class="p-2">{t.name.clone()}</td>
                                        <td class="p-2 font-mono">{t.id.clone()}</td>
                                        <td class="p-2">{if t.revoked { "revoked" } else if t.last_used_at.is_some() { "used" } else { "never used" }}</td>
                                        <td class="p-2">{(!t.revoked).then(|| view! {
                                            <ActionForm action=revoke>
                                                <input type="hidden" name="id" value=t.id.clone() />
                                                <button type="submit" class="text-red-700 hover:underline">"Revoke"</button>
                                            </ActionForm>
                                        })}</td>
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
