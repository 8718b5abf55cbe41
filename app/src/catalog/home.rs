use super::server_fns::{list_squads, ImportCatalog};
use crate::app::use_session;
use crate::components::{ErrorView, ReadinessBar};
use leptos::prelude::*;
use leptos_meta::Title;

/// Home: search, and every squad with what it owns and how ready that is.
#[component]
pub fn HomePage() -> impl IntoView {
    let import = ServerAction::<ImportCatalog>::new();
    let squads = Resource::new(move || import.version().get(), |_| list_squads());
    let session = use_session();
    view! {
        <Title text="" />
        <section class="mb-8">
            <h1 class="text-2xl font-semibold mb-3">"Services and the squads that own them"</h1>
            <form method="get" action="/catalog" class="flex gap-2">
                <input
                    type="search"
                    name="q"
                    placeholder="Find a service by name, description, tag or squad"
                    aria-label="Find a service"
                    class="flex-1 rounded border border-slate-300 px-3 py-2"
                />
                <button type="submit" class="rounded bg-slate-900 px-4 py-2 text-white">"Search"</button>
            </form>
        </section>
        <Suspense fallback=|| view! { <p>"Loading squads…"</p> }>
            {move || Suspend::new(async move {
                match squads.await {
                    Err(error) => view! { <ErrorView error /> }.into_any(),
                    Ok(squads) => {
                        let user = session.await.ok().and_then(|s| s.user);
                        let mine: Vec<_> = squads.iter().filter(|s| user.as_ref().is_some_and(|u| u.member_of(&s.name))).cloned().collect();
                        let is_sre = user.as_ref().is_some_and(|u| u.sre);
                        view! {
                        {(!mine.is_empty()).then(|| view! {
                            <h2 class="text-lg font-semibold mb-2">"My squads"</h2>
                            <ul class="mb-6 flex flex-wrap gap-3" data-testid="my-squads">
                                {mine.into_iter().map(|s| view! {
                                    <li class="rounded border border-sky-200 bg-sky-50 p-3">
                                        <a href=format!("/squads/{}", s.name) class="font-medium text-sky-700 hover:underline">{s.display_name.clone()}</a>
                                        <p class="mt-1 flex items-center gap-3 text-sm">{format!("{} services", s.services)} <ReadinessBar score=s.readiness /></p>
                                    </li>
                                }).collect_view()}
                            </ul>
                        })}
                        {is_sre.then(|| view! {
                            <div class="mb-4 flex items-center gap-3 text-sm">
                                <ActionForm action=import>
                                    <button type="submit" class="rounded border border-slate-300 bg-white px-3 py-1">"Re-import catalog descriptors"</button>
                                </ActionForm>
                                {move || import.value().get().map(|r| match r {
                                    Ok(message) => view! { <span class="text-emerald-700">{message}</span> }.into_any(),
                                    Err(error) => view! { <ErrorView error /> }.into_any(),
                                })}
                            </div>
                        })}
                        <h2 class="text-lg font-semibold mb-2">"Squads"</h2>
                        <ul class="grid gap-3 sm:grid-cols-2 lg:grid-cols-3">
                            {squads.into_iter().map(|s| view! {
                                <li class="rounded border border-slate-200 bg-white p-3">
                                    <a href=format!("/squads/{}", s.name) class="font-medium text-sky-700 hover:underline">
                                        {s.display_name.clone()}
                                    </a>
                                    <p class="text-sm text-slate-600">{s.description.clone()}</p>
                                    <p class="mt-2 flex items-center justify-between text-sm">
                                        <span>{format!("{} services", s.services)}</span>
                                        <ReadinessBar score=s.readiness />
                                    </p>
                                </li>
                            }).collect_view()}
                        </ul>
                    }.into_any()
                    }
                }
            })}
        </Suspense>
    }
}
