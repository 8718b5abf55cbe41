//! A synthetic organisation of any size, for tests and benchmarks.

use super::import::Batch;
use super::model::*;

const WORDS: &[&str] = &[
    "payments",
    "checkout",
    "search",
    "ledger",
    "identity",
    "catalog",
    "shipping",
    "pricing",
    "reviews",
    "inventory",
    "notifications",
    "billing",
    "fraud",
    "recommendations",
    "media",
    "messaging",
];

/// `squads` squads of three members and `services` services spread over them, every tier and
/// lifecycle represented, names unique and predictable (`svc-00042-ledger`).
pub fn synthetic_org(squads: usize, services: usize) -> Batch {
    let squads_list: Vec<Squad> = (0..squads)
        .map(|i| Squad {
            name: format!("squad-{i:03}"),
            display_name: format!("Squad {i}"),
            description: format!("Owns the {} area", WORDS[i % WORDS.len()]),
            chat_channel: format!("#squad-{i:03}"),
            oncall: OnCall {
                rotation: if i % 5 == 0 { String::new() } else { format!("squad-{i:03}-primary") },
                url: format!("https://oncall.example.com/schedules/squad-{i:03}"),
            },
            members: (0..3).map(|m| format!("dev-{i:03}-{m}")).collect(),
            links: vec![],
            parent: String::new(),
            group_type: "team".into(),
        })
        .collect();
    let services_list = (0..services)
        .map(|i| {
            let word = WORDS[i % WORDS.len()];
            let name = format!("svc-{i:05}-{word}");
            Service {
                squad: squads_list[i % squads].name.clone(),
                owner_person: String::new(),
                component_type: "service".into(),
                source: format!("services/{name}.yaml:1"),
                tier: Tier::ALL[i % 4],
                lifecycle: Lifecycle::ALL[i % 3],
                lifecycle_label: String::new(),
                dangling_owner: String::new(),
                description: format!("Handles {word} for region {}", i % 7),
                system: word.to_string(),
                repository: format!("https://git.example.com/{name}"),
                runbook: if i % 2 == 0 {
                    format!("https://runbooks.example.com/{name}")
                } else {
                    String::new()
                },
                slo: if i % 3 == 0 { "99.9% under 300 ms".into() } else { String::new() },
                tags: vec![word.to_string(), format!("region-{}", i % 7)],
                links: vec![],
                // In its squad's namespace, as an import of Groups declaring theirs would put it.
                workloads: Workloads {
                    namespace: squads_list[i % squads].name.clone(),
                    ..Workloads::default_for(&name)
                },
                attestations: vec![],
                name,
            }
        })
        .collect();
    // A person per member, as the import makes one for a member no User describes.
    let people = squads_list
        .iter()
        .flat_map(|s| s.members.iter())
        .map(|m| crate::auth::people::Person { name: m.clone(), ..Default::default() })
        .collect();
    Batch { squads: squads_list, services: services_list, people, ..Default::default() }
}
