//! What `airlock demo` and the tests run against: sample sources that need
//! nothing installed.

pub mod api;
pub mod bastion;
pub mod run;
