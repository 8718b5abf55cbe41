use super::server_fns::{
    get_service, service_access, service_for_edit, AttestCheck, UpdateService,
};
use crate::components::{
    ErrorView, ExternalLink, LifecycleBadge, Loaded, ReadinessBar, Refusal, TierBadge,
};
use console_core::catalog::readiness::Evidence;
use console_core::catalog::ServiceAccess;
use console_core::catalog::{Lifecycle, Tier};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

/// One service: ownership, links, where its workloads run, and its readiness report.
#[component]
pub fn ServicePage() -> impl IntoView {
    let params = use_params_map();
    let attest = ServerAction::<AttestCheck>::new();
    let page = Resource::new(
        move || (crate::catalog::key_from(&params.get()), attest.version().get()),
        |(name, _)| get_service(name),
    );
    let access = Resource::new(move || crate::catalog::key_from(&params.get()), service_access);
    view! {
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match (page.await, access.await) {
                    (Err(error), _) | (_, Err(error)) => view! { <ErrorView error /> }.into_any(),
                    (Ok(page), Ok(access)) => view! { <ServiceDetail page access attest /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// `/services/:name/edit`: the owning squad's form. The server refuses anyone else (403 page).
#[component]
pub fn EditServicePage() -> impl IntoView {
    let params = use_params_map();
    let update = ServerAction::<UpdateService>::new();
    let service = Resource::new(
        move || crate::catalog::key_from(&params.get()),
        |name| async move {
            // The tier picks the REPL's limits and masks: owners see it, SREs set it.
            let access = service_access(name.clone()).await?;
            Ok((service_for_edit(name).await?, access.set_tier))
        },
    );
    view! {
        <Loaded resource=service let:loaded>
            <EditService service=loaded.0 update can_set_tier=loaded.1 />
        </Loaded>
    }
}

/// The edit form: description, tier, lifecycle, runbook, SLO.
#[component]
fn EditService(
    service: console_core::catalog::Service,
    update: ServerAction<UpdateService>,
    can_set_tier: bool,
) -> impl IntoView {
    let description = RwSignal::new(service.description.clone());
    let tier = RwSignal::new(service.tier.number().to_string());
    let lifecycle = RwSignal::new(service.lifecycle.as_str().to_string());
    let runbook = RwSignal::new(service.runbook.clone());
    let slo = RwSignal::new(service.slo.clone());
    let name = service.name.clone();
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let (Some(tier), Some(lifecycle)) = (
            tier.get().parse::<i64>().ok().and_then(|t| Tier::new(t).ok()),
            Lifecycle::parse(&lifecycle.get()),
        ) else {
            return;
        };
        update.dispatch(UpdateService {
            name: name.clone(),
            description: description.get(),
            tier,
            lifecycle,
            runbook: runbook.get(),
            slo: slo.get(),
        });
    };
    let field = "rounded border border-slate-300 px-2 py-1 text-sm";
    let back = format!("/services/{}", service.name);
    view! {
        <Title text=format!("Edit {}", service.name) />
        <section class="max-w-2xl rounded border border-slate-200 bg-white p-4" data-testid="edit-service">
            <h1 class="text-xl font-semibold">{format!("Edit {}", service.name)}</h1>
            <form class="mt-3 grid gap-2" on:submit=on_submit>
                <label class="grid gap-1 text-sm">"Description"<textarea class=field bind:value=description></textarea></label>
                {if can_set_tier {
                    view! {
                        <label class="grid gap-1 text-sm">"Tier"
                            <select class=field bind:value=tier>
                                {Tier::ALL.into_iter().map(|t| view! { <option value=t.number().to_string()>{t.to_string()}</option> }).collect_view()}
                            </select>
                        </label>
                    }.into_any()
                } else {
                    view! {
                        <div class="grid gap-1 text-sm" data-testid="tier-fixed">
                            <span>"Tier"</span>
                            <p class="text-slate-700">
                                <TierBadge tier=service.tier />
                                " is set in the service's descriptor in Git or by an SRE: it picks the query limits and masks, so it is not changed here."
                            </p>
                        </div>
                    }.into_any()
                }}
                <label class="grid gap-1 text-sm">"Lifecycle"
                    <select class=field bind:value=lifecycle>
                        {Lifecycle::ALL.into_iter().map(|l| view! { <option value=l.as_str()>{l.as_str()}</option> }).collect_view()}
                    </select>
                </label>
                <label class="grid gap-1 text-sm">"Runbook URL"<input class=field bind:value=runbook /></label>
                <label class="grid gap-1 text-sm">"SLO"<input class=field bind:value=slo /></label>
                <div class="flex items-center gap-3">
                    <button type="submit" class="rounded bg-slate-900 px-4 py-1 text-white">"Save"</button>
                    <a href=back class="text-sm text-sky-700 hover:underline">"Back to the service"</a>
                </div>
                {move || update.value().get().map(|r| match r {
                    Ok(()) => view! { <p class="text-sm text-emerald-700" role="status">"Saved."</p> }.into_any(),
                    Err(error) => view! { <Refusal error /> }.into_any(),
                })}
            </form>
        </section>
    }
}

#[component]
fn ServiceDetail(
    page: console_core::catalog::ServicePage,
    access: ServiceAccess,
    attest: ServerAction<AttestCheck>,
) -> impl IntoView {
    let s = page.service;
    let (can_edit, can_attest) = (access.edit, access.attest);
    let button = "rounded border border-slate-300 px-3 py-1 text-sm font-normal";
    // Only what the viewer may use, and the REPL only where a replica is designated.
    let query = (access.query && access.replicas > 0).then(|| view! {
        <a href=format!("/services/{}/query", s.name) class=button data-testid="query-link">"Query"</a>
    });
    let logs = access.logs.then(|| view! {
        <a href=format!("/services/{}/logs", s.name) class=button data-testid="logs-link">"Logs"</a>
    });
    let reads = access.service_audit.then(|| view! {
        <a href=format!("/services/{}/reads", s.name) class=button data-testid="reads-link">"Who read"</a>
    });
    let closed = (!access.how_to_get_access.is_empty()).then(|| view! {
        <p class="mt-1 text-sm text-slate-600" data-testid="how-to-get-access">{access.how_to_get_access.clone()}</p>
    });
    let deployments = view! {
        <a href=format!("/services/{}/deployments", s.name) class=button data-testid="deployments-link">"Deployments"</a>
    };
    let edit = can_edit.then(|| view! {
        <a href=format!("/services/{}/edit", s.name) class="ml-auto rounded border border-slate-300 px-3 py-1 text-sm font-normal" data-testid="edit-link">"Edit"</a>
    });
    let service_name = s.name.clone();
    let readiness = page.readiness;
    // Long values (paths, selectors, URLs) wrap inside their cell rather than widen the page.
    let row = "grid grid-cols-3 gap-2 py-1 [&>dd]:min-w-0 [&>dd]:[overflow-wrap:anywhere]";
    view! {
        <Title text=s.name.clone() />
        <header class="mb-4">
            <h1 class="text-2xl font-semibold flex flex-wrap items-center gap-3">
                {s.name.clone()} <TierBadge tier=s.tier />
                {if s.lifecycle_label.is_empty() {
                    view! { <LifecycleBadge lifecycle=s.lifecycle /> }.into_any()
                } else {
                    let title = format!("not a lifecycle the console knows: treated as {}", s.lifecycle.as_str());
                    view! { <span class="rounded bg-slate-100 px-2 py-0.5 text-xs text-slate-700" title=title data-testid="lifecycle-label">{s.lifecycle_label.clone()}</span> }.into_any()
                }}
                {deployments} {query} {logs} {reads} {edit}
            </h1>
            <p class="text-slate-600">{s.description.clone()}</p>
            {closed}
        </header>
        <div class="grid gap-6 md:grid-cols-2">
            <section class="rounded border border-slate-200 bg-white p-4">
                <h2 class="font-semibold mb-2">"Ownership"</h2>
                <dl class="text-sm">
                    {if !s.dangling_owner.is_empty() {
                        view! { <div class=row data-testid="dangling-owner"><dt class="text-slate-500">"Owner"</dt>
                            <dd class="col-span-2">{format!("{} names no squad or person of the catalog: nobody owns this service", s.dangling_owner)}</dd></div> }.into_any()
                    } else if s.owner_person.is_empty() {
                        view! { <div class=row><dt class="text-slate-500">"Squad"</dt>
                            <dd class="col-span-2"><a href=format!("/squads/{}", page.squad.name) class="text-sky-700 hover:underline">{page.squad.display_name.clone()}</a></dd></div> }.into_any()
                    } else {
                        view! { <div class=row data-testid="person-owner"><dt class="text-slate-500">"Owner"</dt>
                            <dd class="col-span-2">{format!("{} (a person, not a squad)", s.owner_person)}</dd></div> }.into_any()
                    }}
                    <div class=row><dt class="text-slate-500">"Type"</dt><dd class="col-span-2">{s.component_type.clone()}</dd></div>
                    <div class=row><dt class="text-slate-500">"Descriptor"</dt><dd class="col-span-2 font-mono text-xs" data-testid="descriptor-source"><Source source=s.source.clone() /></dd></div>
                    <div class=row><dt class="text-slate-500">"On call"</dt>
                        <dd class="col-span-2">{if page.squad.oncall.rotation.is_empty() { view! { <span class="text-slate-500">"none"</span> }.into_any() } else { view! { <ExternalLink url=page.squad.oncall.url.clone() label=page.squad.oncall.rotation.clone() /> }.into_any() }}</dd></div>
                    <div class=row><dt class="text-slate-500">"Chat"</dt><dd class="col-span-2">{page.squad.chat_channel.clone()}</dd></div>
                    <div class=row><dt class="text-slate-500">"System"</dt><dd class="col-span-2">{s.system.clone()}</dd></div>
                    <div class=row><dt class="text-slate-500">"Repository"</dt><dd class="col-span-2"><ExternalLink url=s.repository.clone() /></dd></div>
                    <div class=row><dt class="text-slate-500">"Runbook"</dt><dd class="col-span-2"><ExternalLink url=s.runbook.clone() /></dd></div>
                    <div class=row><dt class="text-slate-500">"SLO"</dt><dd class="col-span-2">{s.slo.clone()}</dd></div>
                    <div class=row><dt class="text-slate-500">"Tags"</dt><dd class="col-span-2">{s.tags.join(", ")}</dd></div>
                    <div class=row><dt class="text-slate-500">"Kubernetes"</dt>
                        <dd class="col-span-2 font-mono text-xs">
                            {format!("{} {} {}",
                                if s.workloads.cluster.is_empty() { "all clusters" } else { &s.workloads.cluster },
                                if s.workloads.namespace.is_empty() { "all namespaces" } else { &s.workloads.namespace },
                                s.workloads.label_selector)}
                        </dd></div>
                </dl>
                <ul class="mt-2 text-sm">
                    {s.links.iter().map(|l| view! { <li><ExternalLink url=l.url.clone() label=l.title.clone() /></li> }).collect_view()}
                </ul>
                <h3 class="mt-3 text-sm font-semibold">"Metrics"</h3>
                <ul class="flex flex-wrap gap-3 text-sm" data-testid="metrics-links">
                    {page.links.iter().map(|l| view! {
                        <li><ExternalLink url=l.url.clone() label=l.name.clone() /></li>
                    }).collect_view()}
                </ul>
            </section>
            <section class="rounded border border-slate-200 bg-white p-4" data-testid="readiness">
                <h2 class="font-semibold mb-2 flex items-center justify-between">
                    {format!("Readiness for {}", readiness.tier)} <ReadinessBar score=readiness.score />
                </h2>
                <ul class="text-sm">
                    {readiness.checks.into_iter().map(|c| {
                        let toggle = (can_attest && c.check.evidence == Evidence::Attested).then(|| {
                            let (service, check, attested) = (service_name.clone(), c.check.id.clone(), !c.met);
                            let title = c.check.title.clone();
                            // Withdrawing asks first: the service's readiness drops at once.
                            let confirming = RwSignal::new(false);
                            let (service2, check2) = (service.clone(), check.clone());
                            view! {
                                <button
                                    class="min-h-6 px-1 text-xs text-sky-700 hover:underline"
                                    aria-label=format!("{} {}", if attested { "Attest" } else { "Withdraw" }, title)
                                    data-testid=format!("attest-{check}")
                                    on:click=move |_| {
                                        if attested {
                                            attest.dispatch(AttestCheck { service: service.clone(), check: check.clone(), attested });
                                        } else {
                                            confirming.set(true);
                                        }
                                    }
                                >
                                    {if attested { "attest" } else { "withdraw" }}
                                </button>
                                {move || confirming.get().then(|| view! {
                                    <span class="flex flex-wrap items-center gap-1 text-xs" role="alertdialog" aria-label=format!("Withdraw {}?", title) data-testid="confirm-withdraw">
                                        "Withdraw? Readiness drops until someone attests again."
                                        <button class="min-h-6 rounded bg-red-700 px-1 text-white" on:click={
                                            let (service, check) = (service2.clone(), check2.clone());
                                            move |_| { confirming.set(false); attest.dispatch(AttestCheck { service: service.clone(), check: check.clone(), attested: false }); }
                                        }>"Withdraw"</button>
                                        <button class="min-h-6 rounded border border-slate-300 px-1" on:click=move |_| confirming.set(false)>"Keep"</button>
                                    </span>
                                })}
                            }
                        });
                        view! {
                            <li class="flex gap-2 py-0.5" data-testid=format!("check-{}", c.check.id)>
                                <span class=if c.met { "text-emerald-700" } else { "text-red-700" } aria-label=if c.met { "met" } else { "not met" }>{if c.met { "✓" } else { "✗" }}</span>
                                <span class="flex-1">{c.check.title.clone()} <span class="text-xs text-slate-500">{format!(" T{}", c.check.tier)}</span></span>
                                <span class="text-xs text-slate-500">{c.because.clone()}</span>
                                {toggle}
                            </li>
                        }
                    }).collect_view()}
                </ul>
                {move || attest.value().get().and_then(|r| r.err()).map(|error| view! { <Refusal error /> })}
            </section>
        </div>
        {(!page.overrides.is_empty()).then(|| view! {
            <section class="mt-6 rounded border border-sky-200 bg-sky-50 p-4 text-sm" data-testid="overrides">
                <h2 class="font-semibold mb-1">"Edited in the console: overrides Git"</h2>
                <p class="mb-1 text-slate-600">"Kept across imports until the descriptor in Git changes the field (then Git's value counts). To make an edit permanent, change the descriptor: "<Source source=s.source.clone() /></p>
                <ul>
                    {page.overrides.iter().map(|o| view! {
                        <li>{format!("{} = {:?} by {} (Git says {:?})", o.field, o.value, o.by, o.git_value)}</li>
                    }).collect_view()}
                </ul>
            </section>
        })}
        <Related related=page.related />
        <ServiceGrants service=service_name.clone() />
    }
}

/// Where a descriptor lives: a link when it is a URL, else its path and line in the catalog.
#[component]
pub fn Source(source: String) -> impl IntoView {
    if console_core::catalog::safe_href(&source).is_some() {
        view! { <ExternalLink url=source.clone() label=source /> }.into_any()
    } else {
        view! { <span>{format!("catalog/{source}")}</span> }.into_any()
    }
}

/// What an entity depends on, provides, consumes and belongs to, and what depends on it; a
/// tier 1 service leaning on a tier 3 or 4 one is flagged.
#[component]
pub fn Related(related: Vec<console_core::catalog::Linked>) -> impl IntoView {
    (!related.is_empty()).then(|| view! {
        <section class="mt-6 rounded border border-slate-200 bg-white p-4 text-sm" data-testid="related">
            <h2 class="font-semibold mb-2">"Dependencies and relations"</h2>
            <div class="overflow-x-auto" tabindex="0"><table class="w-full border-collapse">
                <tbody>
                    {related.into_iter().map(|l| {
                        let link = l.known.then(|| l.kind.path(&l.key));
                        view! {
                            <tr class="border-b border-slate-100" data-testid="related-row">
                                <td class="p-1 text-slate-500">{l.relation.clone()}</td>
                                <td class="p-1 text-slate-500">{l.kind.as_str()}</td>
                                <td class="p-1">{match link {
                                    Some(href) => view! { <a href=href class="text-sky-700 hover:underline">{l.key.clone()}</a> }.into_any(),
                                    None => view! { <span class="text-slate-500">{format!("{} (not in the catalog)", l.key)}</span> }.into_any(),
                                }}</td>
                                <td class="p-1">{l.tier.map(|tier| view! { <TierBadge tier /> })}</td>
                                <td class="p-1">{l.readiness.map(|score| view! { <ReadinessBar score /> })}</td>
                                <td class="p-1">{l.weak.then(|| view! {
                                    <span class="text-red-700" data-testid="weak-dependency">"tier 1 depending on a less critical service"</span>
                                })}</td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table></div>
        </section>
    })
}

/// Time-bound access granted to people outside the owning squad, while in force.
#[component]
fn ServiceGrants(service: String) -> impl IntoView {
    let grants = Resource::new(move || service.clone(), crate::auth::service_grants);
    view! {
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                let grants = grants.await.unwrap_or_default();
                (!grants.is_empty()).then(|| view! {
                    <section class="mt-6 rounded border border-amber-300 bg-amber-50 p-4 text-sm" data-testid="grants">
                        <h2 class="font-semibold mb-1">"Temporary access"</h2>
                        <ul>
                            {grants.into_iter().map(|g| view! {
                                <li>{format!("{} may use the {} until {} (granted by {}): {}", g.grantee,
                                    if g.access == console_core::auth::GrantAccess::Query { "REPL" } else { "logs" },
                                    console_core::dates::date_time(g.expires_at), g.granted_by, g.reason)}</li>
                            }).collect_view()}
                        </ul>
                    </section>
                })
            })}
        </Suspense>
    }
}
