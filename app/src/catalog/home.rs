use super::server_fns::{list_squads, ImportCatalog};
use crate::app::use_session;
use crate::components::{ErrorView, ReadinessBar};
use leptos::prelude::*;
use leptos_meta::Title;

/// Home: search, and every squad with what it owns and how ready that is.
#[component]
pub fn HomePage() -> impl IntoView {
    let import = ServerAction::<ImportCatalog>::new();
    let preview = ServerAction::<ImportCatalog>::new();
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
                        {is_sre.then(|| view! { <ReImport preview import /> })}
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

/// Re-import for SREs, in two steps: a dry run lists what would change, then the import is
/// confirmed (or not): an import can remove services, their replicas and grants.
#[component]
fn ReImport(
    preview: ServerAction<ImportCatalog>,
    import: ServerAction<ImportCatalog>,
) -> impl IntoView {
    // The dry run on screen, until the SRE imports or cancels.
    let asked = RwSignal::new(false);
    view! {
        <div class="mb-4 text-sm">
            <button type="button" class="min-h-6 rounded border border-slate-300 bg-white px-3 py-1" data-testid="import-preview"
                on:click=move |_| { asked.set(true); preview.dispatch(ImportCatalog { preview: true }); }>
                "Re-import catalog descriptors…"
            </button>
            {move || (asked.get() && preview.pending().get()).then(|| view! { <span class="ml-2">"Reading the descriptors…"</span> })}
            {move || asked.get().then(|| preview.value().get()).flatten().map(|result| match result {
                Err(error) => view! { <ErrorView error /> }.into_any(),
                Ok(lines) => view! {
                    <div class="mt-2 rounded border border-amber-300 bg-amber-50 p-3 text-amber-950" role="alertdialog" aria-labelledby="import-preview-heading" data-testid="import-confirm">
                        <p id="import-preview-heading" class="font-semibold">"A dry run: nothing has changed yet. Importing would do this:"</p>
                        <pre class="my-2 whitespace-pre-wrap text-xs">{lines}</pre>
                        <button type="button" class="min-h-6 rounded bg-slate-900 px-3 py-1 text-white"
                            on:click=move |_| { asked.set(false); import.dispatch(ImportCatalog { preview: false }); }>"Import now"</button>
                        <button type="button" class="ml-2 min-h-6 rounded border border-slate-300 bg-white px-3 py-1"
                            on:click=move |_| asked.set(false)>"Cancel"</button>
                    </div>
                }.into_any(),
            })}
            {move || (!asked.get()).then(|| import.value().get()).flatten().map(|result| match result {
                Ok(message) => view! { <pre class="mt-2 whitespace-pre-wrap text-xs text-emerald-700" role="status" data-testid="import-done">{format!("Imported.\n{message}")}</pre> }.into_any(),
                Err(error) => view! { <ErrorView error /> }.into_any(),
            })}
        </div>
    }
}
