//! What every connection attempt shares, below the transports that make them:
//! the error it ends with ([`NetError`]), the deadline passed down each of its
//! steps ([`Deadline`]), and the byte stream it yields ([`BoxStream`]).
//!
//! It sits under both [`crate::net`] (the dial path) and [`crate::ssh`] (the SSH
//! pieces the client transport and the relay share), so neither has to reach
//! into the other for them. `crate::net` re-exports all of it.

pub mod deadline;
pub mod error;
pub mod stream;

pub use deadline::Deadline;
pub use error::{NetError, NetErrorKind, SshRefusal};
pub use stream::{BoxStream, Stream};
