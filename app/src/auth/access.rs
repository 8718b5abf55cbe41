use super::server_fns::{
    all_grants, all_tokens, blocked_access, identities, GrantServiceAccess, Offboard,
    RestoreAccess, RevokeAnyToken, RevokeGrant,
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
    let end_grant = ServerAction::<RevokeGrant>::new();
    // Offboarding cannot be undone by the person: it asks first, naming who.
    let confirming = RwSignal::new(None::<String>);
    let grants =
        Resource::new(move || (grant.version().get(), end_grant.version().get()), |_| all_grants());
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
                                {
                                    let actor = i.actor.clone();
                                    view! {
                                        <button type="button" class="min-h-6 text-red-700 hover:underline"
                                            aria-label=format!("Offboard {actor}")
                                            on:click={
                                                let actor = actor.clone();
                                                move |_| confirming.set(Some(actor.clone()))
                                            }>"Offboard"</button>
                                    }
                                }
                            </td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        </Loaded>
        {move || confirming.get().map(|actor| view! {
            <div role="alertdialog" aria-labelledby="offboard-question" class="my-2 rounded border border-red-300 bg-red-50 p-3 text-sm dark:bg-red-950 dark:border-red-800" data-testid="confirm-offboard">
                <p id="offboard-question" class="mb-2">{format!(
                    "Offboard {actor}? Every session of theirs ends and every token is revoked now, and they cannot sign in with any account until an SRE restores access."
                )}</p>
                <ActionForm action=offboard on:submit=move |_| confirming.set(None) attr:class="inline">
                    <input type="hidden" name="actor" value=actor.clone() />
                    <button type="submit" class="rounded bg-red-700 px-3 py-1 text-white">{format!("Offboard {actor}")}</button>
                </ActionForm>
                <button type="button" class="ml-2 rounded border border-slate-300 px-3 py-1" on:click=move |_| confirming.set(None)>"Cancel"</button>
            </div>
        })}
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
        <h2 class="mt-6 text-lg font-semibold mb-1">"Grants in force"</h2>
        <Loaded resource=grants let:list>
            {if list.is_empty() {
                view! { <p class="text-sm text-slate-500" data-testid="grants">"None."</p> }.into_any()
            } else {
                view! {
                    <div class="overflow-x-auto" tabindex="0">
                    <table class="w-full bg-white text-sm dark:bg-slate-900" data-testid="grants">
                        <thead><tr class="text-left text-slate-500"><th class=cell>"Who"</th><th>"Service"</th><th>"Access"</th><th>"Until (UTC)"</th><th>"Granted by"</th><th>"Reason"</th><th></th></tr></thead>
                        <tbody>
                            {list.into_iter().map(|g| view! {
                                <tr class="border-t border-slate-100 dark:border-slate-700">
                                    <td class=cell>{g.grantee.clone()}</td>
                                    <td class=cell><a class="text-sky-700 dark:text-sky-300 hover:underline" href=format!("/services/{}", g.service)>{g.service.clone()}</a></td>
                                    <td class=cell>{g.access.as_str()}</td>
                                    <td class="p-1 tabular-nums">{console_core::dates::date_time(g.expires_at)}</td>
                                    <td class=cell>{g.granted_by.clone()}</td>
                                    <td class=cell>{g.reason.clone()}</td>
                                    <td class=cell>
                                        <ActionForm action=end_grant>
                                            <input type="hidden" name="id" value=g.id.clone() />
                                            <button type="submit" class="min-h-6 text-red-700 hover:underline"
                                                aria-label=format!("End the grant of {} on {}", g.grantee, g.service)>"End now"</button>
                                        </ActionForm>
                                    </td>
                                </tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                    </div>
                }.into_any()
            }}
        </Loaded>
        {move || end_grant.value().get().and_then(|r| r.err()).map(|error| view! { <Refusal error /> })}
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
            Ok(g) => view! { <p class="text-sm text-emerald-700" role="status">{format!("{} has the {} of {} until {}.", g.grantee, g.access.as_str(), g.service, console_core::dates::date_time(g.expires_at))}</p> }.into_any(),
            Err(error) => view! { <Refusal error /> }.into_any(),
        })}
    }
}
