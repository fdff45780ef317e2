//! What the commands work on, opened in one place: the token database (every command
//! that reads or writes it comes through [`open_store`]), its clock, and a policy
//! instance configured from the database or from a world file.

use std::path::Path;

use crate::policy::{Limits, PolicyModule, WasmPolicy};
use crate::store::{Location, Store};
use crate::world::World;

/// Open the token database: every command that reads or writes it comes through here.
/// Never creates one: a missing store exits [`super::EXIT_UNAVAILABLE`] naming `init-db`.
pub fn open_store(db: &Location) -> anyhow::Result<Store> {
    Store::open(db)
}

/// Create the token database (or open an uninitialised one): `init-db` only.
pub fn create_store(db: &Location) -> anyhow::Result<Store> {
    Store::create(db)
}

/// The database's clock (its world's `now`).
pub fn store_now(store: &mut Store) -> anyhow::Result<i64> {
    Ok(store.settings()?.now())
}

/// A policy instance configured with the database's keys and options.
pub fn store_policy(path: &Path, limits: Limits, store: &mut Store) -> anyhow::Result<WasmPolicy> {
    PolicyModule::load(path, limits)?
        .authorizer(store.settings()?.config)
        .map_err(anyhow::Error::from)?
        .map_err(|e| anyhow::anyhow!("the policy refused the store's keys: {}", e.describe()))
}

/// A policy instance configured with a world's keys and options.
pub fn open_policy(path: &Path, limits: Limits, world: &World) -> anyhow::Result<WasmPolicy> {
    world_policy(path, limits, world, String::new())
}

/// [`open_policy`] with site data (`config.site`; "" = none): `decide --world --site`.
pub fn world_policy(
    path: &Path,
    limits: Limits,
    world: &World,
    site: String,
) -> anyhow::Result<WasmPolicy> {
    let module = PolicyModule::load(path, limits)?;
    let config = crate::wit::Config {
        site,
        ..crate::wit::world_config(world)?
    };
    module
        .authorizer(config)
        .map_err(anyhow::Error::from)?
        .map_err(|e| {
            anyhow::anyhow!(
                "the policy refused the world's configuration: {}",
                e.describe()
            )
        })
}
