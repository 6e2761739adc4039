//! SSH client side of the tunnels: key loading and generation ([`keys`]), host key
//! checks ([`host_key`]), the process-wide session pool ([`pool`]) whose
//! connections are `direct-tcpip` channels ([`SshStream`]), jump chains, and
//! fetching a server's fingerprint ([`fingerprint`]).
//!
//! Everything runs on russh; `tuning` explains the algorithm choices and how a
//! connection whose reader stops is kept from stalling its session.

pub mod fingerprint;
mod handler;
pub mod host_key;
pub mod keys;
pub mod pool;
pub mod session;
pub(crate) mod stream;
pub mod tuning;

pub use fingerprint::fetch_host_key;
pub use keys::{generate_ed25519, load_client_key, write_private_key};
pub use pool::{FirstHopDialer, SshPool};
pub use session::{HopInfo, RouteInfo};
pub use stream::SshStream;
