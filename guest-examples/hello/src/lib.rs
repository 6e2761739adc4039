//! `hello`: an airlock connector that needs no network. It makes up users and one
//! event per user, every value a deterministic function of the user's id, so two
//! runs produce identical tables. It demonstrates the sdk (every column type,
//! deletes, an incremental cursor, checkpoints, resume after a failure) and is the
//! host's throughput benchmark (`users = 1000000`).
//!
//! The made-up source holds users `1..=users`. Each run emits the users from the
//! cursor on (`next_id`, starting at 1) and advances it, so a run after a
//! completed one emits nothing, and raising `users` makes the next run emit just
//! the new ones — an incremental sync. Every user whose `id % 10 == 3` is deleted
//! right after being emitted.

use airlock_sdk::{ColumnType, Connector, Error, Output, Result, Table};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

mod rows;

/// Makes up users and their events, deterministically (no network, no clock).
#[derive(Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
struct Config {
    /// Users the made-up source holds (ids 1..=users), each with one row in `events`.
    /// Raise it to simulate new rows arriving: the next run emits only those.
    users: u64,
    /// Checkpoint (commit with the cursor) after every this many users; at least 1.
    checkpoint_every: u64,
    /// Fault injection, for demonstrating and testing resume: panic right after this
    /// many checkpoints have been taken in this run. The next run resumes from the
    /// last of them. Leave unset in real use.
    fail_after_checkpoints: Option<u64>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            users: 1000,
            checkpoint_every: 100,
            fail_after_checkpoints: None,
        }
    }
}

/// The cursor: the id of the next user to emit.
#[derive(Serialize, Deserialize)]
struct State {
    next_id: u64,
}

impl Default for State {
    fn default() -> Self {
        State { next_id: 1 }
    }
}

struct Hello;

impl Connector for Hello {
    type Config = Config;
    type State = State;

    fn check(config: &Config) -> Result<()> {
        if config.checkpoint_every == 0 {
            return Err(Error::config("`checkpoint_every` must be at least 1"));
        }
        Ok(())
    }

    fn discover(_config: &Config) -> Result<Vec<Table>> {
        Ok(vec![
            Table::new("users")
                .column("id", ColumnType::Int)
                .column("name", ColumnType::Text)
                .nullable("email", ColumnType::Text)
                .column("score", ColumnType::Float)
                .column("active", ColumnType::Boolean)
                .column("created_at", ColumnType::Timestamp)
                .column("birthday", ColumnType::Date)
                .column("balance", ColumnType::decimal(12, 2))
                .column("profile", ColumnType::Json)
                .column("avatar", ColumnType::Bytes)
                .primary_key(["id"]),
            Table::new("events")
                .column("id", ColumnType::Int)
                .column("user_id", ColumnType::Int)
                .column("kind", ColumnType::Text)
                .column("at", ColumnType::Timestamp)
                .primary_key(["id"]),
        ])
    }

    fn sync(config: &Config, mut state: State, out: &mut Output<State>) -> Result<()> {
        Self::check(config)?;
        airlock_sdk::log::info!(
            "hello: starting at cursor next_id={}, source holds {} users",
            state.next_id,
            config.users
        );
        let mut checkpoints = 0u64;
        let mut checkpoint = |out: &mut Output<State>, state: &State| -> Result<()> {
            out.checkpoint(state)?;
            checkpoints += 1;
            if config.fail_after_checkpoints == Some(checkpoints) {
                panic!(
                    "hello: fault injected after {checkpoints} checkpoints (fail_after_checkpoints)"
                );
            }
            Ok(())
        };

        let first = state.next_id;
        let end = config
            .users
            .checked_add(1)
            .filter(|&end| end <= i64::MAX as u64)
            .ok_or_else(|| Error::config("`users` is too large for the cursor"))?;
        for id in first..end {
            let id = id as i64;
            out.upsert("users", rows::user(id))?;
            out.upsert("events", rows::event(id))?;
            if id % 10 == 3 {
                out.delete("users", rows::key(id))?;
            }
            state.next_id = id as u64 + 1;
            if (state.next_id - first).is_multiple_of(config.checkpoint_every) {
                checkpoint(out, &state)?;
            }
        }
        checkpoint(out, &state)?;
        airlock_sdk::log::info!(
            "hello: emitted {} rows, cursor now next_id={}",
            out.rows_emitted(),
            state.next_id
        );
        Ok(())
    }
}

airlock_sdk::export!(Hello);
