//! The network capability: the per-job map from endpoint name to route, and the
//! one dial path every connection goes through.

pub mod error;

pub use error::{NetError, NetErrorKind};
