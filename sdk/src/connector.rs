//! The trait a connector implements.

use schemars::JsonSchema;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::{Output, Result, Table};

/// A data connector. Implement it on a unit struct and hand that to
/// [`export!`](crate::export); the sdk does the rest of the contract (the config's
/// JSON Schema for `spec`, parsing config and state JSON, batching output).
///
/// All three functions get the config already parsed into [`Config`](Connector::Config).
pub trait Connector {
    /// The connector's config, parsed from the `[config]` table the user wrote.
    /// Its JSON Schema (doc comments become descriptions) is the connector's `spec`.
    /// A config that does not parse is reported as a `config` error naming the field.
    type Config: DeserializeOwned + JsonSchema;

    /// What a run needs to resume where the last one stopped (e.g. a cursor),
    /// committed with [`Output::checkpoint`]. The first run gets `Default::default()`.
    type State: Serialize + DeserializeOwned + Default;

    /// Validates `config` beyond what parsing checks and, where it can, reaches the
    /// source. The default accepts any config that parses.
    fn check(config: &Self::Config) -> Result<()> {
        let _ = config;
        Ok(())
    }

    /// The tables this connector writes, with their schemas. `sync` may write only
    /// to these, with rows matching them.
    fn discover(config: &Self::Config) -> Result<Vec<Table>>;

    /// Emits records starting from `state` (the last committed checkpoint, or the
    /// default on a first run) into `out`, checkpointing as it goes. Rows still
    /// buffered when it returns `Ok` are sent and committed by the host; on `Err`
    /// everything after the last checkpoint is discarded.
    fn sync(config: &Self::Config, state: Self::State, out: &mut Output<Self::State>)
    -> Result<()>;
}
