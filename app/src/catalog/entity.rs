use super::server_fns::get_entity;
use super::service::{Related, Source};
use crate::components::ErrorView;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

/// `/entities/:kind/:name` (and `/entities/:kind/:namespace/:name`): a System, Domain, API or
/// Resource with everything linked to it (a system page lists its services).
#[component]
pub fn EntityPage() -> impl IntoView {
    let params = use_params_map();
    let page = Resource::new(
        move || {
            (params.get().get("kind").unwrap_or_default(), crate::catalog::key_from(&params.get()))
        },
        |(kind, key)| get_entity(kind, key),
    );
    view! {
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match page.await {
                    Err(error) => view! { <ErrorView error /> }.into_any(),
                    Ok(page) => {
                        let e = page.entity;
                        let owner_href = e.owner.split_once(':').map(|(kind, key)| match kind {
                            "group" => format!("/squads/{key}"),
                            _ => String::new(),
                        }).filter(|h| !h.is_empty());
                        view! {
                            <Title text=e.title.clone() />
                            <header class="mb-4">
                                <p class="text-sm uppercase text-slate-500">{e.kind.as_str()} {(!e.entity_type.is_empty()).then(|| format!(" · {}", e.entity_type))}</p>
                                <h1 class="text-2xl font-semibold" data-testid="entity-title">{e.title.clone()}</h1>
                                <p class="text-slate-600">{e.description.clone()}</p>
                                <p class="text-sm text-slate-500">"Owner: "{match owner_href {
                                    Some(href) => view! { <a href=href class="text-sky-700 hover:underline">{e.owner.clone()}</a> }.into_any(),
                                    None => view! { <span>{e.owner.clone()}</span> }.into_any(),
                                }}</p>
                                <p class="text-xs font-mono text-slate-500">"Descriptor: "<Source source=e.source.clone() /></p>
                            </header>
                            <Related related=page.related />
                        }.into_any()
                    }
                }
            })}
        </Suspense>
    }
}
