//! `via.direct`: a TCP connection from this host, the same as leaving `via`
//! out. Written out, it takes no settings.

use serde::Deserialize;

use super::{Route, RouteContext};
use crate::config::ConfigError;

/// `[endpoints.NAME.via.direct]`: a table, which must be empty.
#[derive(Deserialize)]
#[serde(transparent)]
pub(super) struct RawDirect(toml::Table);

impl RawDirect {
    /// A direct route; any key in the table is a mistake, named.
    pub(super) fn resolve(self, cx: RouteContext<'_>) -> Result<Route, ConfigError> {
        if let Some(k) = self.0.keys().next() {
            return Err(ConfigError::key(
                format!("{}.{k}", cx.key),
                "a direct route takes no settings",
            ));
        }
        Ok(Route::Direct)
    }
}
