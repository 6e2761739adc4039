//! What `airlock demo` and the tests run against: sample sources that need
//! nothing installed. Behind the `demo` cargo feature (on by default): the
//! runtime itself needs none of it, and a build without the feature has no
//! `airlock demo` and no rcgen or httparse.

pub mod api;
pub mod bastion;
pub mod run;
