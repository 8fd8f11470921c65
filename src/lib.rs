//! tasknet: a CrewAI-style `tasks.yaml` turned into typed Rust at compile time.
//!
//! ```ignore
//! tasknet::task_registry!("tasks.yaml");
//! // State, <Task>Input/<Task>Output, <task>_input/<task>_output, trait Tasks, Crew,
//! // TASK_REGISTRY: see the README for the yaml dialect and the generated API.
//! ```
//!
//! This facade re-exports the runtime types (`tasknet-runtime`) and, with the default `macros`
//! feature, the `task_registry!` and `#[derive(TaskState)]` macros. Without the feature, use
//! the build.rs route (`tasknet_codegen::Builder` and [`include_generated!`]).

pub use tasknet_runtime::*;

#[cfg(feature = "macros")]
pub use tasknet_macros::{TaskState, task_registry};

/// What the macros' expansions call back into. Not part of the public API.
#[cfg(feature = "macros")]
#[doc(hidden)]
pub mod __macros {
    pub use tasknet_macros::task_registry_with_state;
}
