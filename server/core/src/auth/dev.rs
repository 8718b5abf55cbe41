//! Dev sign-in's demo users: everyone the catalog lists as a squad member, plus one SRE.

use crate::catalog::repo;
use crate::store::{Store, StoreError};

/// Every member listed in the catalog with their squads, plus one SRE called `sre`.
pub async fn users(store: &Store) -> Result<Vec<(String, Vec<String>)>, StoreError> {
    let mut users: Vec<(String, Vec<String>)> = Vec::new();
    for squad in repo::squads(store).await? {
        if let Some(found) = repo::squad(store, &squad.name).await? {
            for member in found.members {
                match users.iter_mut().find(|(login, _)| *login == member) {
                    Some((_, squads)) => squads.push(squad.name.clone()),
                    None => users.push((member, vec![squad.name.clone()])),
                }
            }
        }
    }
    users.sort();
    users.insert(0, ("sre".to_string(), vec![]));
    Ok(users)
}
