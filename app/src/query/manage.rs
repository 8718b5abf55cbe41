//! SREs manage a service's replicas on its query page: designate (checked before it is saved, or
//! saved disabled with a reason), edit, disable or enable, re-check and remove. Every change is
//! audited on the server; the page updates without a reload.

use super::server_fns::*;
use crate::components::{Loaded, Refusal};
use console_core::query::{Engine, ManagedReplica, Replica};
use leptos::prelude::*;

fn engine_value(engine: Engine) -> &'static str {
    match engine {
        Engine::Postgres => "postgres",
        Engine::Mysql => "mysql",
        Engine::Sqlite => "sqlite",
    }
}

fn engine_label(engine: Engine) -> &'static str {
    match engine {
        Engine::Postgres => "PostgreSQL",
        Engine::Mysql => "MySQL / MariaDB",
        Engine::Sqlite => "SQLite",
    }
}

/// The designation form's fields, filled from a replica when editing one.
#[derive(Clone, Copy)]
struct Fields {
    /// The replica being edited; `None`: a new one.
    editing: RwSignal<Option<String>>,
    id: RwSignal<String>,
    name: RwSignal<String>,
    engine: RwSignal<String>,
    url: RwSignal<String>,
    credential_env: RwSignal<String>,
    credential_file: RwSignal<String>,
    extra_functions: RwSignal<String>,
    override_note: RwSignal<String>,
    disabled: RwSignal<String>,
}

impl Fields {
    fn new() -> Fields {
        Fields {
            editing: RwSignal::new(None),
            id: RwSignal::new(String::new()),
            name: RwSignal::new(String::new()),
            engine: RwSignal::new("postgres".into()),
            url: RwSignal::new(String::new()),
            credential_env: RwSignal::new(String::new()),
            credential_file: RwSignal::new(String::new()),
            extra_functions: RwSignal::new(String::new()),
            override_note: RwSignal::new(String::new()),
            disabled: RwSignal::new(String::new()),
        }
    }

    fn load(&self, r: &Replica) {
        self.editing.set(Some(r.id.clone()));
        self.id.set(r.id.clone());
        self.name.set(r.name.clone());
        self.engine.set(engine_value(r.engine).into());
        self.url.set(r.url.clone());
        self.credential_env.set(r.credential_env.clone());
        self.credential_file.set(r.credential_file.clone());
        self.extra_functions.set(r.extra_functions.join(", "));
        self.override_note.set(String::new());
        self.disabled.set(r.disabled.clone());
    }

    fn clear(&self) {
        self.load(&Replica::new("", "", "", Engine::Postgres, ""));
        self.editing.set(None);
    }

    /// The replica as typed; what editing cannot change (id, service, limits) comes from `base`.
    fn replica(&self, service: &str, base: Option<&Replica>) -> Replica {
        let engine = match self.engine.get_untracked().as_str() {
            "mysql" => Engine::Mysql,
            "sqlite" => Engine::Sqlite,
            _ => Engine::Postgres,
        };
        let mut replica = base
            .cloned()
            .unwrap_or_else(|| Replica::new(&self.id.get_untracked(), service, "", engine, ""));
        replica.name = self.name.get_untracked();
        replica.engine = engine;
        replica.url = self.url.get_untracked();
        replica.credential_env = self.credential_env.get_untracked();
        replica.credential_file = self.credential_file.get_untracked();
        replica.extra_functions = self
            .extra_functions
            .get_untracked()
            .split(',')
            .map(|f| f.trim().to_string())
            .filter(|f| !f.is_empty())
            .collect();
        replica.disabled = self.disabled.get_untracked().trim().to_string();
        replica
    }
}

/// The SRE's replica list and designation form. `changed` is bumped after every change that
/// succeeded, so the REPL above offers what is in use now.
#[component]
pub fn ManageReplicas(service: String, changed: RwSignal<u32>) -> impl IntoView {
    let register = ServerAction::<RegisterReplica>::new();
    let update = ServerAction::<UpdateReplica>::new();
    let set_disabled = ServerAction::<SetReplicaDisabled>::new();
    let remove = ServerAction::<RemoveReplica>::new();
    let check = ServerAction::<CheckReplica>::new();
    let fields = Fields::new();
    let bump = move |ok: bool| {
        if ok {
            changed.update(|n| *n += 1);
        }
    };
    Effect::watch(
        move || register.version().get(),
        move |_, _, _| {
            let ok = register.value().get_untracked().is_some_and(|r| r.is_ok());
            if ok {
                fields.clear();
            }
            bump(ok)
        },
        false,
    );
    Effect::watch(
        move || update.version().get(),
        move |_, _, _| {
            let ok = update.value().get_untracked().is_some_and(|r| r.is_ok());
            if ok {
                fields.clear();
            }
            bump(ok)
        },
        false,
    );
    Effect::watch(
        move || set_disabled.version().get(),
        move |_, _, _| bump(set_disabled.value().get_untracked().is_some_and(|r| r.is_ok())),
        false,
    );
    Effect::watch(
        move || remove.version().get(),
        move |_, _, _| bump(remove.value().get_untracked().is_some_and(|r| r.is_ok())),
        false,
    );
    let list = Resource::new(
        {
            let service = service.clone();
            move || (service.clone(), changed.get())
        },
        |(service, _)| managed_replicas(service),
    );
    // The replicas as loaded, so an edit keeps what the form does not show (limits, masks).
    let loaded = StoredValue::new(Vec::<ManagedReplica>::new());
    let save = {
        let service = service.clone();
        move |ev: leptos::ev::SubmitEvent| {
            ev.prevent_default();
            let note = Some(fields.override_note.get_untracked()).filter(|n| !n.trim().is_empty());
            match fields.editing.get_untracked() {
                Some(id) => {
                    let base = loaded.with_value(|l| {
                        l.iter().find(|m| m.replica.id == id).map(|m| m.replica.clone())
                    });
                    let replica = fields.replica(&service, base.as_ref());
                    update.dispatch(UpdateReplica { replica, override_note: note });
                }
                None => {
                    let replica = fields.replica(&service, None);
                    register.dispatch(RegisterReplica { replica, override_note: note });
                }
            }
        }
    };
    let outcome = move |result: Result<Option<String>, crate::error::AppError>,
                        done: &'static str| {
        match result {
        Ok(None) => view! { <p class="mt-2 text-emerald-700" role="status">{format!("{done}; the credential is read-only.")}</p> }.into_any(),
        Ok(Some(warning)) => view! { <p class="mt-2 text-amber-800" role="status">{format!("{done}. Warning: {warning}")}</p> }.into_any(),
        Err(error) => view! { <Refusal error /> }.into_any(),
    }
    };
    let field = "rounded border border-slate-300 px-2 py-1 text-sm";
    let label = "grid gap-1 text-sm";
    let service_for_rows = service.clone();
    view! {
        <section class="mt-6 rounded border border-slate-200 bg-white p-3 text-sm" data-testid="manage-replicas">
            <h2 class="font-semibold">"Replicas of this service (SRE)"</h2>
            <Loaded resource=list let:replicas>
                {
                    loaded.set_value(replicas.clone());
                    let service = service_for_rows.clone();
                    if replicas.is_empty() {
                        view! { <p class="text-slate-600">"None designated yet."</p> }.into_any()
                    } else {
                        view! {
                            <div class="overflow-x-auto" tabindex="0">
                            <table class="mt-1 w-full">
                                <thead><tr class="text-left text-slate-600"><th>"Replica"</th><th>"Engine"</th><th>"URL"</th><th>"State"</th><th><span class="sr-only">"Actions"</span></th></tr></thead>
                                <tbody>
                                    {replicas.into_iter().map(|m| view! {
                                        <ReplicaRow managed=m service=service.clone() fields check set_disabled remove />
                                    }).collect_view()}
                                </tbody>
                            </table>
                            </div>
                        }.into_any()
                    }
                }
            </Loaded>
            {move || check.value().get().map(|r| match r {
                Ok(message) => view! { <p class="mt-2" role="status" data-testid="check-result">{message}</p> }.into_any(),
                Err(error) => view! { <Refusal error /> }.into_any(),
            })}
            {move || set_disabled.value().get().and_then(Result::err).map(|error| view! { <Refusal error /> })}
            {move || remove.value().get().and_then(Result::err).map(|error| view! { <Refusal error /> })}

            <h3 class="mt-4 font-semibold">{move || match fields.editing.get() {
                Some(id) => format!("Edit replica {id}"),
                None => "Designate a replica".to_string(),
            }}</h3>
            <p class="text-xs text-slate-600">"The connection is checked before it is saved. The password is never stored: name the environment variable or file that holds it."</p>
            <form class="mt-2 grid gap-2 md:grid-cols-2" on:submit=save>
                <label class=label>"Replica id (lower-case letters, digits, -)"
                    <input class=field bind:value=fields.id prop:disabled=move || fields.editing.get().is_some() /></label>
                <label class=label>"Replica name"<input class=field bind:value=fields.name /></label>
                <label class=label>"Engine"
                    <select class=field bind:value=fields.engine>
                        {[Engine::Postgres, Engine::Mysql, Engine::Sqlite].into_iter().map(|e| view! {
                            <option value=engine_value(e)>{engine_label(e)}</option>
                        }).collect_view()}
                    </select>
                </label>
                <label class=label>"Replica URL (no password), e.g. postgres://reader@host/db"<input class=field bind:value=fields.url /></label>
                <label class=label>"Credential environment variable (CONSOLE_REPLICA_…)"<input class=field bind:value=fields.credential_env /></label>
                <label class=label>"Credential file (under the credentials directory)"<input class=field bind:value=fields.credential_file /></label>
                <label class=label>"Extra allowed functions, comma-separated"<input class=field bind:value=fields.extra_functions /></label>
                <label class=label>"Override note (only for a credential that can do more than read)"<input class=field bind:value=fields.override_note /></label>
                <label class=label>"Save disabled, because… (leave empty to use it now)"<input class=field bind:value=fields.disabled /></label>
                <div class="flex items-end gap-3">
                    <button type="submit" class="rounded bg-slate-900 px-3 py-1 text-white">
                        {move || if fields.editing.get().is_some() { "Save changes" } else { "Designate" }}
                    </button>
                    {move || fields.editing.get().is_some().then(|| view! {
                        <button type="button" class="rounded border border-slate-300 px-3 py-1" on:click=move |_| fields.clear()>"Cancel editing"</button>
                    })}
                </div>
            </form>
            {move || register.value().get().map(|r| outcome(r, "Designated"))}
            {move || update.value().get().map(|r| outcome(r, "Saved"))}
        </section>
    }
}

#[component]
fn ReplicaRow(
    managed: ManagedReplica,
    service: String,
    fields: Fields,
    check: ServerAction<CheckReplica>,
    set_disabled: ServerAction<SetReplicaDisabled>,
    remove: ServerAction<RemoveReplica>,
) -> impl IntoView {
    let replica = managed.replica;
    let id = replica.id.clone();
    let asking = RwSignal::new(None::<&'static str>);
    let reason = RwSignal::new(String::new());
    let disabled = !replica.disabled.is_empty();
    let state =
        if disabled { format!("disabled: {}", replica.disabled) } else { "in use".to_string() };
    let button = "min-h-6 rounded border border-slate-300 px-2 text-xs";
    let (service2, id2, id3, id4) = (service.clone(), id.clone(), id.clone(), id.clone());
    let for_edit = replica.clone();
    view! {
        <tr class="border-t border-slate-100" data-testid=format!("replica-{id}")>
            <td class="p-1"><span class="font-mono">{id.clone()}</span><br /><span class="text-slate-600">{replica.name.clone()}</span></td>
            <td class="p-1">{engine_label(replica.engine)}</td>
            <td class="p-1 font-mono text-xs break-all">{replica.url.clone()}</td>
            <td class=if disabled { "p-1 text-amber-800" } else { "p-1 text-emerald-700" }>{state}</td>
            <td class="p-1">
                <div class="flex flex-wrap gap-1">
                    <button class=button aria-label=format!("Check replica {id}") on:click=move |_| { check.dispatch(CheckReplica { replica: id2.clone() }); }>"Check"</button>
                    <button class=button aria-label=format!("Edit replica {id}") on:click=move |_| fields.load(&for_edit)>"Edit"</button>
                    {if disabled {
                        let (service, id) = (service.clone(), id.clone());
                        view! {
                            <button class=button aria-label=format!("Enable replica {id}") on:click=move |_| {
                                set_disabled.dispatch(SetReplicaDisabled { service: service.clone(), replica: id.clone(), reason: String::new() });
                            }>"Enable"</button>
                        }.into_any()
                    } else {
                        view! { <button class=button aria-label=format!("Disable replica {id}") on:click=move |_| asking.set(Some("disable"))>"Disable"</button> }.into_any()
                    }}
                    <button class=format!("{button} text-red-700") aria-label=format!("Remove replica {id}") on:click=move |_| asking.set(Some("remove"))>"Remove"</button>
                </div>
                {move || (asking.get() == Some("disable")).then(|| {
                    let (service, id) = (service2.clone(), id3.clone());
                    view! {
                        <form class="mt-1 flex flex-wrap items-end gap-2" on:submit=move |ev| {
                            ev.prevent_default();
                            asking.set(None);
                            set_disabled.dispatch(SetReplicaDisabled { service: service.clone(), replica: id.clone(), reason: reason.get_untracked() });
                        }>
                            <label class="grid text-xs">"Why it is disabled"<input class="rounded border border-slate-300 px-1" required bind:value=reason /></label>
                            <button type="submit" class=button>"Disable"</button>
                            <button type="button" class=button on:click=move |_| asking.set(None)>"Keep it in use"</button>
                        </form>
                    }
                })}
                {move || (asking.get() == Some("remove")).then(|| {
                    let (service, id) = (service.clone(), id4.clone());
                    view! {
                        <div class="mt-1 rounded border border-red-200 bg-red-50 p-2 text-xs" role="alertdialog" aria-label=format!("Remove replica {id}")>
                            <p>{format!("Remove replica {id}? Queries can no longer run on it; its queries stay in the audit log.")}</p>
                            <div class="mt-1 flex gap-2">
                                <button class="rounded bg-red-700 px-2 py-1 text-white" on:click={
                                    let (service, id) = (service.clone(), id.clone());
                                    move |_| {
                                        asking.set(None);
                                        remove.dispatch(RemoveReplica { service: service.clone(), replica: id.clone() });
                                    }
                                }>{format!("Remove {id}")}</button>
                                <button class="rounded border border-slate-300 px-2 py-1" on:click=move |_| asking.set(None)>"Keep it"</button>
                            </div>
                        </div>
                    }
                })}
            </td>
        </tr>
    }
}
