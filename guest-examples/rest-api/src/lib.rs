//! `rest-api`: an airlock connector that pages through a JSON HTTP API of
//! customers over its network handle and writes them to `customers`,
//! incrementally. The API it expects is described in the crate's README.md.
//!
//! The cursor is the `(updated_at, id)` of the newest row committed. A run asks
//! for `updated_since=<that updated_at>` — inclusive, because rows can share a
//! timestamp — and skips the rows at or before the cursor that it already has,
//! so rows updated at the same microsecond as the cursor are neither lost nor
//! written twice. The API must return rows in `(updated_at, id)` order.
//! It checkpoints after every page, so a failed run resumes at the last page.

use airlock_sdk::{Connector, Error, Output, Result, Table};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

mod api;
mod http;
mod rows;
mod time;

use api::{Api, PageRequest};

/// The largest `page_size`.
const MAX_PAGE_SIZE: u32 = 1000;

/// Reads customers from a JSON HTTP API.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct Config {
    /// The network endpoint (in the connection config) the API is reached through.
    #[serde(default = "default_endpoint")]
    endpoint: String,
    /// The path of the customers collection, e.g. `/v1/customers`.
    path: String,
    /// Customers per request, 1..=1000.
    #[serde(default = "default_page_size")]
    page_size: u32,
    /// Bearer token, if the API needs one. A secret: reference it from the
    /// connection config (e.g. `{ env = "API_TOKEN" }`) rather than writing it there.
    #[serde(default)]
    token: Option<String>,
}

fn default_endpoint() -> String {
    "api".into()
}

fn default_page_size() -> u32 {
    100
}

/// Where the last committed run stopped.
#[derive(Serialize, Deserialize, Default)]
struct State {
    /// The `(updated_at, id)` of the newest row committed; none before the first.
    cursor: Option<Cursor>,
}

impl State {
    /// Moves the cursor to `position` if that is past it; returns whether it
    /// was, i.e. whether the row at `position` is not committed yet. The
    /// inclusive `updated_since` repeats rows at the cursor's own timestamp;
    /// this is what drops the ones already written.
    fn advance(&mut self, position: Cursor) -> bool {
        if self.cursor.is_some_and(|c| position <= c) {
            return false;
        }
        self.cursor = Some(position);
        true
    }
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Cursor {
    /// Microseconds since the Unix epoch.
    updated_at: i64,
    id: i64,
}

struct RestApi;

impl RestApi {
    fn validate(config: &Config) -> Result<()> {
        if !config.path.starts_with('/') || config.path.contains(char::is_whitespace) {
            return Err(Error::config(format!(
                "`path` must be an absolute path without spaces like `/v1/customers`, not `{}`",
                config.path
            )));
        }
        if !(1..=MAX_PAGE_SIZE).contains(&config.page_size) {
            return Err(Error::config(format!(
                "`page_size` must be 1..={MAX_PAGE_SIZE}, not {}",
                config.page_size
            )));
        }
        if config.token.as_deref().is_some_and(|t| {
            t.is_empty() || t.contains(|c: char| c.is_control() || c.is_whitespace())
        }) {
            // Not echoed: it is a secret.
            return Err(Error::config(
                "`token` must be non-empty and hold no spaces or control characters",
            ));
        }
        Ok(())
    }

    fn api(config: &Config) -> Result<Api> {
        Api::new(&config.endpoint, &config.path, config.token.as_deref())
    }
}

impl Connector for RestApi {
    type Config = Config;
    type State = State;

    /// Validates the config, then fetches one customer to prove the endpoint,
    /// the path and the token work.
    fn check(config: &Config) -> Result<()> {
        Self::validate(config)?;
        let mut api = Self::api(config)?;
        api.page(&PageRequest {
            updated_since: None,
            limit: 1,
            cursor: None,
        })?;
        Ok(())
    }

    fn discover(config: &Config) -> Result<Vec<Table>> {
        Self::validate(config)?;
        Ok(vec![rows::table()])
    }

    fn sync(config: &Config, mut state: State, out: &mut Output<State>) -> Result<()> {
        Self::validate(config)?;
        let mut api = Self::api(config)?;
        let since = state.cursor.map(|c| c.updated_at);
        match since {
            Some(at) => airlock_sdk::log::info!("fetching customers updated since {at} µs"),
            None => airlock_sdk::log::info!("first run: fetching every customer"),
        }
        let (mut pages, mut emitted) = (0u64, 0u64);
        let mut page_cursor: Option<String> = None;
        loop {
            let page = api.page(&PageRequest {
                updated_since: since,
                limit: config.page_size,
                cursor: page_cursor.as_deref(),
            })?;
            pages += 1;
            for customer in page.data {
                let record = rows::record(customer)?;
                let position = Cursor {
                    updated_at: record.updated_at,
                    id: record.id,
                };
                if state.advance(position) {
                    out.upsert(rows::TABLE, record.row)?;
                    emitted += 1;
                }
            }
            out.checkpoint(&state)?;
            match page.next_cursor {
                None => break,
                Some(next) if page_cursor.as_deref() == Some(next.as_str()) => {
                    return Err(Error::source(format!(
                        "the API on endpoint `{}` returned the same `next_cursor` twice; \
                         it would page forever",
                        config.endpoint
                    )));
                }
                Some(next) => page_cursor = Some(next),
            }
        }
        airlock_sdk::log::info!("{emitted} customers new or updated, in {pages} pages");
        Ok(())
    }
}

airlock_sdk::export!(RestApi);

#[cfg(test)]
mod tests {
    use super::*;

    fn config(json: &str) -> Config {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn defaults_and_validation() {
        let c = config(r#"{"path": "/v1/customers"}"#);
        assert_eq!((c.endpoint.as_str(), c.page_size), ("api", 100));
        assert!(RestApi::validate(&c).is_ok());
        for bad in [
            r#"{"path": "v1/customers"}"#,
            r#"{"path": "/v1/customers", "page_size": 0}"#,
            r#"{"path": "/v1/customers", "page_size": 1001}"#,
            r#"{"path": "/v1/customers", "token": "a b"}"#,
        ] {
            let e = RestApi::validate(&config(bad)).unwrap_err();
            assert_eq!(e.kind, airlock_sdk::ErrorKind::Config, "{bad}");
        }
        let e = RestApi::validate(&config(r#"{"path": "/x", "token": "se cret"}"#)).unwrap_err();
        assert!(!e.message.contains("se cret"));
    }

    #[test]
    fn ties_at_the_cursor_are_neither_lost_nor_repeated() {
        let c = |updated_at, id| Cursor { updated_at, id };
        // The last run committed up to id 4 of the rows sharing timestamp 10.
        let mut state = State {
            cursor: Some(c(10, 4)),
        };
        // `updated_since=10` returns the whole tie group again, then newer rows.
        let fetched = [c(10, 2), c(10, 4), c(10, 6), c(11, 1), c(11, 1)];
        let new: Vec<_> = fetched.into_iter().filter(|&p| state.advance(p)).collect();
        assert_eq!(new, [c(10, 6), c(11, 1)]);
        assert_eq!(state.cursor, Some(c(11, 1)));
        let mut first_run = State::default();
        assert!(first_run.advance(c(i64::MIN, 0)));
    }

    #[test]
    fn cursors_order_by_time_then_id() {
        let c = |updated_at, id| Cursor { updated_at, id };
        assert!(c(1, 9) < c(2, 1));
        assert!(c(2, 1) < c(2, 2));
        let state: State = serde_json::from_str(r#"{"cursor":{"updated_at":5,"id":3}}"#).unwrap();
        assert_eq!(state.cursor, Some(c(5, 3)));
    }
}
