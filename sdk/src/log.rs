//! Leveled messages for the host's log, tagged there with the job.
//!
//! ```ignore
//! airlock_sdk::log::info!("starting at cursor {}", state.next_id);
//! ```
//!
//! Never log secrets.

use crate::bindings::airlock::connector::log as wit;

/// How important a message is: `Trace`, `Debug`, `Info`, `Warn` or `Error`.
pub use wit::Level;

/// Sends one message to the host's log. The macros of this module call it.
pub fn write(level: Level, message: &str) {
    wit::log(level, message);
}

#[doc(hidden)]
#[macro_export]
macro_rules! __airlock_log {
    ($level:ident, $($arg:tt)+) => {
        $crate::log::write($crate::log::Level::$level, &::std::format!($($arg)+))
    };
}

/// Logs a `format!`-style message at trace level.
#[doc(hidden)]
#[macro_export]
macro_rules! __airlock_log_trace { ($($arg:tt)+) => { $crate::__airlock_log!(Trace, $($arg)+) }; }
/// Logs a `format!`-style message at debug level.
#[doc(hidden)]
#[macro_export]
macro_rules! __airlock_log_debug { ($($arg:tt)+) => { $crate::__airlock_log!(Debug, $($arg)+) }; }
/// Logs a `format!`-style message at info level.
#[doc(hidden)]
#[macro_export]
macro_rules! __airlock_log_info { ($($arg:tt)+) => { $crate::__airlock_log!(Info, $($arg)+) }; }
/// Logs a `format!`-style message at warn level.
#[doc(hidden)]
#[macro_export]
macro_rules! __airlock_log_warn { ($($arg:tt)+) => { $crate::__airlock_log!(Warn, $($arg)+) }; }
/// Logs a `format!`-style message at error level.
#[doc(hidden)]
#[macro_export]
macro_rules! __airlock_log_error { ($($arg:tt)+) => { $crate::__airlock_log!(Error, $($arg)+) }; }

#[doc(inline)]
pub use crate::__airlock_log_debug as debug;
#[doc(inline)]
pub use crate::__airlock_log_error as error;
#[doc(inline)]
pub use crate::__airlock_log_info as info;
#[doc(inline)]
pub use crate::__airlock_log_trace as trace;
#[doc(inline)]
pub use crate::__airlock_log_warn as warn;
