//! A connector built against `airlock:connector@0.2.0` (wit/connector.wit here, a
//! copy of the real contract with only the version changed). The host speaks 0.1.0
//! and must refuse it, saying the contract version differs. The bodies are trivial:
//! they should never run.

mod bindings {
    wit_bindgen::generate!({ path: "wit", world: "connector" });
}

use bindings::airlock::connector::types::{Error, TableSchema};
use bindings::exports::airlock::connector::source::Guest;

struct WrongVersion;

impl Guest for WrongVersion {
    fn spec() -> String {
        "{}".to_owned()
    }

    fn check(_config: String) -> Result<(), Error> {
        Ok(())
    }

    fn discover(_config: String) -> Result<Vec<TableSchema>, Error> {
        Ok(Vec::new())
    }

    fn sync(_config: String, _state: Option<String>) -> Result<(), Error> {
        Ok(())
    }
}

bindings::export!(WrongVersion with_types_in bindings);
