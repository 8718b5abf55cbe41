use super::server_fns::sign_in_options;
use crate::components::ErrorView;
use console_core::catalog::encode_component;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

/// Fixed messages for the `?error=` codes the sign-in routes send: never reflect free text.
fn error_message(code: &str) -> &'static str {
    match code {
        "state" => "That sign-in link was already used, expired, or did not start here. Please sign in again.",
        "provider-down" => "The sign-in provider cannot be reached right now. Try again in a moment.",
        "refused" => "The sign-in provider refused the sign-in.",
        "invalid-token" => "The sign-in provider's answer could not be verified.",
        "not-member" => "Your account is not a member of the organisation this console serves. Ask an owner of the organisation to add you.",
        "missing-code" => "The sign-in provider sent no authorization code.",
        "blocked" => "Your access to this console was ended by an SRE. Ask an SRE to restore it.",
        "unknown-provider" => "That sign-in provider is not configured here.",
        _ => "Sign-in failed.",
    }
}

#[component]
pub fn LoginPage() -> impl IntoView {
    let query = use_query_map();
    let return_to = move || {
        query.get().get("return_to").filter(|p| p.starts_with('/')).unwrap_or_else(|| "/".into())
    };
    let error = move || query.get().get("error").map(|code| error_message(&code));
    let options = Resource::new(|| (), |_| sign_in_options());
    view! {
        <Title text="Sign in" />
        <section class="mx-auto max-w-md rounded border border-slate-200 bg-white p-6">
            <h1 class="text-xl font-semibold mb-4">"Sign in to the console"</h1>
            {move || error().map(|e| view! { <p role="alert" class="mb-4 rounded bg-red-50 p-2 text-sm text-red-800">{e}</p> })}
            <Suspense fallback=|| view! { <p>"…"</p> }>
                {move || Suspend::new(async move {
                    match options.await {
                        Err(error) => view! { <ErrorView error /> }.into_any(),
                        Ok(options) => {
                            let back = encode_component(&return_to());
                            view! {
                                <div class="flex flex-col gap-3">
                                    {options.oidc.map(|name| view! {
                                        <a rel="external" href=format!("/auth/oidc/start?return_to={back}") class="rounded bg-slate-900 px-4 py-2 text-center text-white">
                                            {format!("Sign in with {name}")}
                                        </a>
                                    })}
                                    {options.github.then(|| view! {
                                        <a rel="external" href=format!("/auth/github/start?return_to={back}") class="rounded bg-slate-700 px-4 py-2 text-center text-white">"Sign in with GitHub"</a>
                                    })}
                                    {options.dev_users.map(|users| view! {
                                        <form method="post" action="/auth/dev" class="flex flex-col gap-2 border-t border-slate-200 pt-3">
                                            <label for="dev-login" class="text-sm text-amber-800">"Dev sign-in: pick a demo user (no password)"</label>
                                            <select id="dev-login" name="login" class="rounded border border-slate-300 px-2 py-2">
                                                {users.into_iter().map(|(login, squads)| {
                                                    let label = if squads.is_empty() { format!("{login} (SRE)") } else { format!("{login} ({})", squads.join(", ")) };
                                                    view! { <option value=login>{label}</option> }
                                                }).collect_view()}
                                            </select>
                                            <input type="hidden" name="return_to" value=return_to() />
                                            <button type="submit" class="rounded bg-amber-600 px-4 py-2 text-white">"Sign in as this user"</button>
                                        </form>
                                    })}
                                </div>
                            }.into_any()
                        }
                    }
                })}
            </Suspense>
        </section>
    }
}
