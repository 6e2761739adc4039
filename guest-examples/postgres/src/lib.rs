//! `postgres`: an airlock connector that reads PostgreSQL tables over its
//! network handle, fully on the first run and then incrementally by a cursor
//! column. The crate's README.md is the user's reference.
//!
//! It speaks the v3 wire protocol itself (framing and SCRAM from
//! `postgres-protocol`) on the byte stream the host gives it; the host routes
//! the connection and does TLS. Each table is read from one `REPEATABLE READ`
//! snapshot through a portal fetched `fetch_rows` at a time, in
//! `(cursor, primary key)` order (a table's first read in key order, see
//! [`InitialRead`]), and the state is the position of the last row
//! committed, so a resumed run continues strictly after it.

use std::collections::BTreeMap;

use airlock_sdk::{Connector, Error, Output, Result, Table, net};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

mod catalog;
mod error;
mod read;
mod sql;
mod types;
mod wire;

use catalog::{PgTable, Selection};
use error::{Context, PgError};
use wire::{Login, Session, TlsPlan};

/// The largest message accepted from the server (in practice: the largest
/// row). Bigger ones fail the sync with a clear error instead of exhausting
/// the sandbox's memory.
const MAX_MESSAGE_BYTES: usize = 64 << 20;

/// The largest `fetch_rows`.
const MAX_FETCH_ROWS: u32 = 1_000_000;

/// Reads PostgreSQL tables, fully then incrementally by a cursor column.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct Config {
    /// The network endpoint (in the connection config) that reaches the server.
    #[serde(default = "default_endpoint")]
    endpoint: String,
    /// The database to read.
    database: String,
    /// The role to log in as. It needs `SELECT` on the tables and `USAGE` on their schemas.
    user: String,
    /// The role's password (SCRAM-SHA-256, md5 or cleartext, as the server asks).
    /// A secret: reference it from the connection config (`{ env = "PGPASSWORD" }`
    /// or `{ file = "..." }`) rather than writing it there.
    #[serde(default)]
    password: Option<String>,
    /// The schemas whose tables (and partitioned tables) are synced when
    /// `tables` is not set; tables the user may not read are skipped with a warning.
    #[serde(default = "default_schemas")]
    schemas: Vec<String>,
    /// Sync exactly these tables, as `schema.table` (case-sensitive, unquoted);
    /// views, materialized views and foreign tables may be listed too.
    /// `schemas` is then not used.
    #[serde(default)]
    tables: Option<Vec<String>>,
    /// The cursor column: a table that has a column of this name is synced
    /// incrementally by it. `""` syncs every table fully each run.
    #[serde(default = "default_cursor")]
    cursor: String,
    /// Per-table cursor columns overriding `cursor`: `"schema.table" = "column"`;
    /// `""` reads that table fully each run.
    #[serde(default)]
    cursors: BTreeMap<String, String>,
    /// Commit after this many rows of a table (and at the end of each table).
    #[serde(default = "default_checkpoint_every")]
    checkpoint_every: u64,
    /// Rows per round trip to the server, 1..=1000000.
    #[serde(default = "default_fetch_rows")]
    fetch_rows: u32,
}

fn default_endpoint() -> String {
    "postgres".into()
}

fn default_schemas() -> Vec<String> {
    vec!["public".into()]
}

fn default_cursor() -> String {
    "updated_at".into()
}

fn default_checkpoint_every() -> u64 {
    10_000
}

/// Rows stream through one message at a time whatever this is, so it costs no
/// memory; fewer round trips measured faster on a 1M-row table.
fn default_fetch_rows() -> u32 {
    50_000
}

impl Config {
    fn validate(&self) -> Result<()> {
        if self.database.is_empty() || self.user.is_empty() {
            return Err(Error::config("`database` and `user` must not be empty"));
        }
        if self.tables.is_none() && self.schemas.is_empty() {
            return Err(Error::config(
                "`schemas` is empty and `tables` is not set: nothing to sync",
            ));
        }
        if let Some(tables) = &self.tables {
            if tables.is_empty() {
                return Err(Error::config(
                    "`tables` is empty: list `schema.table` names, or leave it out",
                ));
            }
            for t in tables {
                split_qualified(t)?;
            }
        }
        for t in self.cursors.keys() {
            split_qualified(t).map_err(|e| Error::config(format!("`cursors`: {}", e.message)))?;
        }
        if self.checkpoint_every == 0 {
            return Err(Error::config("`checkpoint_every` must be at least 1"));
        }
        if !(1..=MAX_FETCH_ROWS).contains(&self.fetch_rows) {
            return Err(Error::config(format!(
                "`fetch_rows` must be 1..={MAX_FETCH_ROWS}, not {}",
                self.fetch_rows
            )));
        }
        Ok(())
    }

    /// `tables` as `(schema, table)` pairs.
    fn table_list(&self) -> Option<Vec<(String, String)>> {
        self.tables.as_ref().map(|ts| {
            ts.iter()
                .filter_map(|t| split_qualified(t).ok())
                .map(|(s, t)| (s.to_owned(), t.to_owned()))
                .collect()
        })
    }
}

/// `schema.table` → `("schema", "table")`, split at the first dot.
fn split_qualified(name: &str) -> Result<(&str, &str)> {
    match name.split_once('.') {
        Some((s, t)) if !s.is_empty() && !t.is_empty() => Ok((s, t)),
        _ => Err(Error::config(format!(
            "`{name}` is not a `schema.table` name (e.g. `public.{name}`)"
        ))),
    }
}

/// Where the last committed run stopped, per table (`schema.table`).
#[derive(Serialize, Deserialize, Default, Debug, PartialEq)]
struct State {
    #[serde(default)]
    tables: BTreeMap<String, TableState>,
}

/// One table's committed position.
#[derive(Serialize, Deserialize, Default, Clone, Debug, PartialEq)]
struct TableState {
    /// The cursor column the position is in, for an incremental table.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    cursor_column: Option<String>,
    /// The last row committed: for an incremental table always kept; for a
    /// table re-read every run only while a read is under way.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    after: Option<Position>,
    /// Set while an incremental table's first read is under way: that read
    /// goes in primary-key order (`after` holds only a key), so the server
    /// sorts nothing; once it completes, `after` becomes this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    initial: Option<InitialRead>,
}

/// Where incremental reads of a table start once its first read completes.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
struct InitialRead {
    /// The table's last row in `(cursor, key)` order in the snapshot the first
    /// read began with (`None`: it was empty). A row changed after that
    /// snapshot has a later cursor value, so the incremental reads see it.
    then: Option<Position>,
}

/// A row's place in `(cursor, primary key)` order, as PostgreSQL's text.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
struct Position {
    /// The cursor column's value (`None`: NULL); absent without a cursor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    cursor: Option<String>,
    /// The primary key's values, in key order.
    key: Vec<String>,
}

/// How a table is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// By the cursor column (index), strictly after the committed position.
    Incremental(usize),
    /// Every row each run, upserted by primary key; a killed read resumes
    /// after the last committed key.
    Full,
    /// No primary key: every row each run, replacing the table's previous
    /// rows in one commit.
    Snapshot,
}

/// A table and how to sync it.
struct Plan {
    table: PgTable,
    /// `schema.table`.
    qualified: String,
    /// The destination table.
    dest: String,
    mode: Mode,
}

impl Plan {
    /// The destination schema. Columns that may hold values the destination
    /// type cannot (`infinity`, numeric `NaN`, stored as NULL) are nullable
    /// unless they are part of the key.
    fn schema(&self) -> Table {
        use airlock_sdk::ColumnType as C;
        let mut t = Table::new(&self.dest);
        for (i, c) in self.table.columns.iter().enumerate() {
            let ty = c.mapping.column;
            let may_be_unrepresentable = matches!(ty, C::Date | C::Timestamp | C::Decimal(_));
            let not_null =
                c.not_null && (!may_be_unrepresentable || self.table.primary_key.contains(&i));
            t = if not_null {
                t.column(&c.name, ty)
            } else {
                t.nullable(&c.name, ty)
            };
        }
        t.primary_key(
            self.table
                .primary_key
                .iter()
                .map(|&i| self.table.columns[i].name.clone()),
        )
    }
}

/// A logged-in session and what error messages need to know about it.
struct Source {
    session: Session<airlock_sdk::Connection>,
    host: String,
    endpoint: String,
    user: String,
}

impl Source {
    fn connect(config: &Config) -> Result<Source> {
        let ep = net::endpoint(&config.endpoint).ok_or_else(|| {
            Error::config(format!(
                "there is no endpoint `{0}` in the connection config: add `[endpoints.{0}]` \
                 there, or set `endpoint` to one that exists",
                config.endpoint
            ))
        })?;
        let ctx = Context {
            host: &ep.host,
            endpoint: &ep.name,
            user: &config.user,
            table: None,
        };
        let mut conn = net::connect(&ep.name)?;
        let plan = TlsPlan::for_endpoint(ep.tls, ep.tls_immediate);
        wire::negotiate_tls(&mut conn, plan).map_err(|e| e.into_error(ctx))?;
        match conn.tls_version() {
            Some(v) => airlock_sdk::log::debug!("PostgreSQL at {}: {v}", ep.host),
            None if plan == TlsPlan::Prefer => airlock_sdk::log::warn!(
                "PostgreSQL at {} does not offer TLS; going on in clear text as endpoint `{}` \
                 allows (`tls = \"prefer\"`)",
                ep.host,
                ep.name
            ),
            None => {}
        }
        let login = Login {
            user: &config.user,
            database: &config.database,
            password: config.password.as_deref(),
        };
        let session =
            Session::start(conn, &login, MAX_MESSAGE_BYTES).map_err(|e| e.into_error(ctx))?;
        Ok(Source {
            session,
            host: ep.host.clone(),
            endpoint: ep.name.clone(),
            user: config.user.clone(),
        })
    }

    fn ctx<'a>(&'a self, table: Option<&'a str>) -> Context<'a> {
        Context {
            host: &self.host,
            endpoint: &self.endpoint,
            user: &self.user,
            table,
        }
    }

    /// Maps a failure outside any one table.
    fn fail(&self, e: PgError) -> Error {
        e.into_error(self.ctx(None))
    }

    /// Describes the configured tables and decides how to read each.
    fn plan(&mut self, config: &Config) -> Result<Vec<Plan>> {
        let listed = config.table_list();
        let selection = match &listed {
            Some(names) => Selection::Tables(names),
            None => Selection::Schemas(&config.schemas),
        };
        let tables = catalog::tables(&mut self.session, &selection).map_err(|e| self.fail(e))?;
        let host = &self.host;
        if let Some(names) = &listed {
            let missing: Vec<String> = names
                .iter()
                .filter(|(s, t)| !tables.iter().any(|x| &x.schema == s && &x.name == t))
                .map(|(s, t)| format!("`{s}.{t}`"))
                .collect();
            if !missing.is_empty() {
                return Err(Error::config(format!(
                    "`tables`: {} not found in database \"{}\" at PostgreSQL at {host} (names \
                     are case-sensitive; the user may also lack USAGE on the schema)",
                    missing.join(", "),
                    config.database
                )));
            }
        } else if tables.is_empty() {
            airlock_sdk::log::warn!(
                "no tables in schemas {:?} of database \"{}\" that user \"{}\" can see",
                config.schemas,
                config.database,
                config.user
            );
        }
        let (tables, unreadable): (Vec<PgTable>, Vec<PgTable>) =
            tables.into_iter().partition(|t| t.readable);
        if let Some(t) = unreadable.first() {
            let grant = format!(
                "GRANT SELECT ON {}.{} TO {}",
                sql::ident(&t.schema),
                sql::ident(&t.name),
                sql::ident(&config.user)
            );
            if listed.is_some() {
                return Err(Error::auth(format!(
                    "PostgreSQL at {host}: user \"{}\" may not read table `{}`: {grant}, or \
                     leave it out of `tables`",
                    config.user,
                    t.qualified()
                )));
            }
            // Reading "every table of a schema" means every table the user may read.
            for t in &unreadable {
                airlock_sdk::log::warn!(
                    "skipping `{}`: user \"{}\" may not read it (GRANT SELECT to sync it)",
                    t.qualified(),
                    config.user
                );
            }
        }
        for name in config.cursors.keys() {
            if !tables.iter().any(|t| &t.qualified() == name) {
                return Err(Error::config(format!(
                    "`cursors` names `{name}`, which is not among the tables synced"
                )));
            }
        }
        let names: Vec<(String, String)> = tables
            .iter()
            .map(|t| (t.schema.clone(), t.name.clone()))
            .collect();
        if let Some((a, b)) = catalog::name_collision(&names) {
            return Err(Error::config(format!(
                "tables `{}` and `{}` would both be written to destination table `{}` \
                 (names compare without case there): leave one out with `tables`",
                tables[a].qualified(),
                tables[b].qualified(),
                catalog::destination_name(&names[b].0, &names[b].1)
            )));
        }
        tables.into_iter().map(|t| plan_table(config, t)).collect()
    }
}

/// Decides how `table` is read, logging what the user should know once.
fn plan_table(config: &Config, table: PgTable) -> Result<Plan> {
    let qualified = table.qualified();
    for c in table.columns.iter().filter(|c| c.mapping.fallback) {
        airlock_sdk::log::warn!(
            "column `{}` of `{qualified}` has type {}, which is synced as text",
            c.name,
            c.type_name
        );
    }
    let (cursor_name, explicit) = match config.cursors.get(&qualified) {
        Some(c) => (c.as_str(), true),
        None => (config.cursor.as_str(), false),
    };
    let cursor = match (cursor_name, table.column(cursor_name)) {
        ("", _) => None,
        (_, Some(i)) => Some(i),
        (name, None) if explicit => {
            return Err(Error::config(format!(
                "`cursors`: table `{qualified}` has no column `{name}`"
            )));
        }
        (_, None) => None,
    };
    let mode = match (cursor, table.primary_key.is_empty()) {
        (_, true) => {
            airlock_sdk::log::warn!(
                "`{qualified}` has no primary key: it is re-read in full every run and replaces \
                 its previous rows{}",
                if cursor.is_some() {
                    " (its cursor column is not used: rows sharing a cursor value cannot be told \
                     apart without a key)"
                } else {
                    ""
                }
            );
            Mode::Snapshot
        }
        (Some(i), false) => Mode::Incremental(i),
        (None, false) => Mode::Full,
    };
    Ok(Plan {
        dest: catalog::destination_name(&table.schema, &table.name),
        qualified,
        table,
        mode,
    })
}

struct Postgres;

impl Connector for Postgres {
    type Config = Config;
    type State = State;

    /// Logs in, logs the server's version, and checks that every configured
    /// table exists and is readable.
    fn check(config: &Config) -> Result<()> {
        config.validate()?;
        let mut source = Source::connect(config)?;
        let version = source
            .session
            .query("SELECT version()", &[])
            .map_err(|e| source.fail(e))?;
        if let Some(Some(v)) = version
            .into_iter()
            .next()
            .and_then(|r| r.into_iter().next())
        {
            airlock_sdk::log::info!("{v}");
        }
        let plans = source.plan(config)?;
        airlock_sdk::log::info!(
            "{} tables to sync: {} incremental, {} re-read every run",
            plans.len(),
            plans
                .iter()
                .filter(|p| matches!(p.mode, Mode::Incremental(_)))
                .count(),
            plans
                .iter()
                .filter(|p| !matches!(p.mode, Mode::Incremental(_)))
                .count(),
        );
        source.session.close();
        Ok(())
    }

    fn discover(config: &Config) -> Result<Vec<Table>> {
        config.validate()?;
        let mut source = Source::connect(config)?;
        let plans = source.plan(config)?;
        source.session.close();
        Ok(plans.iter().map(Plan::schema).collect())
    }

    fn sync(config: &Config, mut state: State, out: &mut Output<State>) -> Result<()> {
        config.validate()?;
        let mut source = Source::connect(config)?;
        let plans = source.plan(config)?;
        for plan in &plans {
            read::table(&mut source, config, plan, &mut state, out)?;
        }
        source.session.close();
        Ok(())
    }
}

airlock_sdk::export!(Postgres);

#[cfg(test)]
mod tests;
