use super::server_fns::{
    all_tokens, blocked_access, identities, GrantServiceAccess, Offboard, RestoreAccess,
    RevokeAnyToken,
};
use crate::components::{ErrorView, Loaded, Refusal};
use leptos::prelude::*;
use leptos_meta::Title;

/// `/admin/access`, for SREs: everyone who signed in and how their roles were last confirmed,
/// everyone's live tokens (revocable), offboarding (sticky until restored), and time-bound grants.
#[component]
pub fn AccessPage() -> impl IntoView {
    let offboard = ServerAction::<Offboard>::new();
    let revoke = ServerAction::<RevokeAnyToken>::new();
    let grant = ServerAction::<GrantServiceAccess>::new();
    let restore = ServerAction::<RestoreAccess>::new();
    let blocked = Resource::new(
        move || (offboard.version().get(), restore.version().get()),
        |_| blocked_access(),
    );
    let people = Resource::new(move || offboard.version().get(), |_| identities());
    let tokens =
        Resource::new(move || (offboard.version().get(), revoke.version().get()), |_| all_tokens());
    let cell = "p-1";
    view! {
        <Title text="Access" />
        <h1 class="text-2xl font-semibold mb-3">"Access"</h1>
        <h2 class="text-lg font-semibold mb-1">"Sign-ins"</h2>
        <Loaded resource=people let:list>
            <table class="mb-2 w-full bg-white text-sm" data-testid="identities">
                <thead><tr class="text-left text-slate-500"><th class=cell>"Acts as"</th><th>"Provider / login"</th><th>"Roles confirmed (UTC)"</th><th></th></tr></thead>
                <tbody>
                    {list.into_iter().map(|i| view! {
                        <tr class="border-t border-slate-100">
                            <td class=cell>{i.actor.clone()} {i.person.is_none().then(|| view! { <span class="text-xs text-amber-700">" (no catalog person)"</span> })}</td>
                            <td class=cell>{format!("{} / {}", i.provider, i.login)}</td>
                            <td class="p-1 tabular-nums">{console_core::dates::date_time(i.checked_at)}
                                {i.check_failed_at.map(|at| view! { <span class="text-xs text-red-700">{format!(" re-check failing since {}", console_core::dates::date_time(at))}</span> })}</td>
                            <td class=cell>
                                <ActionForm action=offboard>
                                    <input type="hidden" name="actor" value=i.actor.clone() />
                                    <button type="submit" class="text-red-700 hover:underline">"Offboard"</button>
                                </ActionForm>
                            </td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        </Loaded>
        {move || offboard.value().get().map(|r| match r {
            Ok((sessions, tokens)) => view! { <p class="text-sm text-emerald-700" data-testid="offboarded">{format!("Ended {sessions} sessions and revoked {tokens} tokens.")}</p> }.into_any(),
            Err(error) => view! { <Refusal error /> }.into_any(),
        })}
        <h2 class="mt-6 text-lg font-semibold mb-1">"Blocked from signing in"</h2>
        <p class="text-sm text-slate-600 mb-1">"Offboarding blocks the person, every account they signed in with, and any account that links to them later, until access is restored."</p>
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match blocked.await {
                    Err(error) => view! { <ErrorView error /> }.into_any(),
                    Ok(list) if list.is_empty() => view! { <p class="text-sm text-slate-500" data-testid="blocked">"Nobody."</p> }.into_any(),
                    Ok(list) => view! {
                        <table class="w-full bg-white text-sm" data-testid="blocked">
                            <thead><tr class="text-left text-slate-500"><th class=cell>"Name"</th><th>"Blocked by"</th><th>"Since (UTC)"</th><th></th></tr></thead>
                            <tbody>
                                {list.into_iter().map(|(name, by, at)| view! {
                                    <tr class="border-t border-slate-100">
                                        <td class=cell>{name.clone()}</td>
                                        <td class=cell>{by}</td>
                                        <td class="p-1 tabular-nums">{console_core::dates::date_time(at)}</td>
                                        <td class=cell>
                                            <ActionForm action=restore>
                                                <input type="hidden" name="actor" value=name />
                                                <button type="submit" class="text-emerald-700 hover:underline">"Restore access"</button>
                                            </ActionForm>
                                        </td>
                                    </tr>
                                }).collect_view()}
                            </tbody>
                        </table>
                    }.into_any(),
                }
            })}
        </Suspense>
        {move || restore.value().get().and_then(|r| r.err()).map(|error| view! { <ErrorView error /> })}
        <h2 class="mt-6 text-lg font-semibold mb-1">"Live API tokens"</h2>
        <Loaded resource=tokens let:list>
            <table class="w-full bg-white text-sm" data-testid="all-tokens">
                <thead><tr class="text-left text-slate-500"><th class=cell>"Owner"</th><th>"Name"</th><th>"Scope"</th><th>"Expires (UTC)"</th><th>"Last used"</th><th></th></tr></thead>
                <tbody>
                    {list.into_iter().map(|t| view! {
                        <tr class="border-t border-slate-100">
                            <td class=cell>{t.owner.clone()}</td>
                            <td class=cell>{t.name.clone()}</td>
                            <td class=cell>{t.scope.clone()}</td>
                            <td class="p-1 tabular-nums">{console_core::dates::date_time(t.expires_at)}</td>
                            <td class="p-1 tabular-nums">{t.last_used_at.map(console_core::dates::date_time).unwrap_or_else(|| "never".into())}</td>
                            <td class=cell>
                                <ActionForm action=revoke>
                                    <input type="hidden" name="id" value=t.id.clone() />
                                    <button type="submit" class="text-red-700 hover:underline">"Revoke"</button>
                                </ActionForm>
                            </td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        </Loaded>
        <h2 class="mt-6 text-lg font-semibold mb-1">"Grant temporary access"</h2>
        <p class="mb-2 text-sm text-slate-600">"The REPL or the logs of one service, for someone outside its squad (an incident responder), for a few hours. Shown on the service; audited."</p>
        <ActionForm action=grant attr:class="flex flex-wrap gap-2 text-sm">
            <input name="grantee" required placeholder="Who (as shown above)" aria-label="Grantee" class="rounded border border-slate-300 px-2 py-1" />
            <input name="service" required placeholder="Service" aria-label="Service" class="rounded border border-slate-300 px-2 py-1" />
            <select name="access" aria-label="Access" class="rounded border border-slate-300 px-2 py-1">
                <option value="logs">"logs"</option>
                <option value="query">"REPL"</option>
            </select>
            <input name="hours" type="number" min="1" max="72" value="4" aria-label="Hours" class="w-20 rounded border border-slate-300 px-2 py-1" />
            <input name="reason" required placeholder="Reason (incident, ticket)" aria-label="Reason" class="flex-1 rounded border border-slate-300 px-2 py-1" />
            <button type="submit" class="rounded bg-slate-900 px-3 py-1 text-white">"Grant"</button>
        </ActionForm>
        {move || grant.value().get().map(|r| match r {
            Ok(g) => view! { <p class="text-sm text-emerald-700">{format!("{} has the {} of {} until {}.", g.grantee, g.access.as_str(), g.service, console_core::dates::date_time(g.expires_at))}</p> }.into_any(),
            Err(error) => view! { <ErrorView error /> }.into_any(),
        })}
    }
}
