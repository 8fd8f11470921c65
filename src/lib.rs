#![doc = include_str!("../README.md")]

pub use tasknet_runtime::*;

#[cfg(feature = "macros")]
pub use tasknet_macros::{TaskState, task_registry};

/// What the macros' expansions call back into. Not part of the public API.
#[cfg(feature = "macros")]
#[doc(hidden)]
pub mod __macros {
    pub use tasknet_macros::task_registry_with_state;
}
