use super::server_fns::{
    list_tokens, my_sessions, token_limits, CreateToken, RevokeToken, SignOutEverywhere,
};
use crate::components::{CopyButton, Loaded, Refusal};
use leptos::prelude::*;
use leptos_meta::Title;

/// Personal API tokens for the JSON API: create (shown once), list, revoke; and the person's
/// signed-in sessions, with a way to end them all.
#[component]
pub fn TokensPage() -> impl IntoView {
    let create = ServerAction::<CreateToken>::new();
    let revoke = ServerAction::<RevokeToken>::new();
    let tokens =
        Resource::new(move || (create.version().get(), revoke.version().get()), |_| list_tokens());
    let limits = Resource::new(|| (), |_| token_limits());
    view! {
        <Title text="API tokens and sessions" />
        <h1 class="text-2xl font-semibold mb-2">"API tokens"</h1>
        <p class="mb-4 text-sm text-slate-600">"Send as " <code>"Authorization: Bearer <token>"</code> " to " <code>"/api/v1/…"</code> " (and nowhere else). A token acts as you, with your roles as they are when it is used; it expires, and you can revoke it."</p>
        <ActionForm action=create attr:class="mb-4 flex flex-wrap gap-2">
            <input name="name" required placeholder="What is it for?" aria-label="Token name" class="flex-1 rounded border border-slate-300 px-3 py-2" />
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    limits.await.ok().map(|l| view! {
                        <label class="text-sm flex items-center gap-1">"Days"
                            <input name="days" type="number" min="1" max=l.max_days value=l.default_days aria-label="Days until it expires" class="w-20 rounded border border-slate-300 px-2 py-2" />
                        </label>
                        <select name="scope" aria-label="Scope" class="rounded border border-slate-300 px-2 py-2">
                            <option value="read">"read"</option>
                            {l.allow_query_scope.then(|| view! { <option value="query">"query"</option> })}
                        </select>
                    })
                })}
            </Suspense>
            <button type="submit" class="rounded bg-slate-900 px-4 py-2 text-white">"Create token"</button>
        </ActionForm>
        {move || create.value().get().map(|result| match result {
            Ok(token) => {
                let curl = format!("curl -H 'Authorization: Bearer {token}' '{}/api/v1/services?q=payments'", origin());
                view! {
                    <div class="mb-4 rounded border border-emerald-300 bg-emerald-50 p-3 text-sm dark:bg-emerald-950 dark:border-emerald-800" data-testid="new-token">
                        <p>"Copy it now: it will not be shown again."</p>
                        <p class="flex flex-wrap items-center gap-2"><code class="break-all" data-testid="token-value">{token.clone()}</code>
                            <CopyButton text=token label="Copy the token" /></p>
                        <p class="mt-2">"Try it:"</p>
                        <p class="flex flex-wrap items-center gap-2"><code class="break-all" data-testid="token-curl">{curl.clone()}</code>
                            <CopyButton text=curl label="Copy the curl command" /></p>
                    </div>
                }.into_any()
            }
            Err(error) => view! { <Refusal error /> }.into_any(),
        })}
        <Loaded resource=tokens let:list>
            <table class="w-full bg-white text-sm">
                <thead><tr class="text-left text-slate-500"><th class="p-2">"Name"</th><th class="p-2">"Id"</th><th class="p-2">"Scope"</th><th class="p-2">"Expires (UTC)"</th><th class="p-2">"State"</th><th></th></tr></thead>
                <tbody>
                    {list.into_iter().map(|t| view! {
                        <tr class="border-t border-slate-100" data-testid="token-row">
                            <td class="p-2">{t.name.clone()}</td>
                            <td class="p-2 font-mono">{t.id.clone()}</td>
                            <td class="p-2">{t.scope.clone()}</td>
                            <td class="p-2 tabular-nums">{console_core::dates::date_time(t.expires_at)}</td>
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
        </Loaded>
        <Sessions />
    }
}

/// This console's address as the browser sees it, for the `curl` example (a token is only
/// ever shown after the browser created it, so this runs in the browser).
fn origin() -> String {
    #[cfg(feature = "hydrate")]
    if let Some(origin) = web_sys::window().and_then(|w| w.location().origin().ok()) {
        return origin;
    }
    String::new()
}

/// The person's sessions on every device; "sign out everywhere" ends them all.
#[component]
fn Sessions() -> impl IntoView {
    let end_all = ServerAction::<SignOutEverywhere>::new();
    let sessions = Resource::new(move || end_all.version().get(), |_| my_sessions());
    // This session ended with the others: off to the sign-in page rather than an error.
    let navigate = leptos_router::hooks::use_navigate();
    Effect::new(move || {
        if let Some(Ok(_)) = end_all.value().get() {
            navigate("/login", Default::default());
        }
    });
    view! {
        <h2 class="mt-8 mb-2 text-xl font-semibold">"Your sessions"</h2>
        <Loaded resource=sessions let:list>
            <ul class="mb-3 text-sm" data-testid="sessions">
                {list.into_iter().map(|s| view! {
                    <li class="font-mono">{format!("{} via {} until {}{}", s.handle, s.provider, console_core::dates::date_time(s.expires_at), if s.current { " (this one)" } else { "" })}</li>
                }).collect_view()}
            </ul>
        </Loaded>
        <ActionForm action=end_all>
            <button type="submit" class="rounded border border-red-300 px-3 py-1 text-sm text-red-700" data-testid="sign-out-everywhere">"Sign out everywhere"</button>
        </ActionForm>
    }
}
