//! Runtime side of tasknet: what the generated code refers to.
//!
//! The code generated from a `tasks.yaml` (by `task_registry!`, the build.rs `Builder` or the
//! `tasknet generate` CLI) names the items of this crate through the facade path `::tasknet`.
//! This crate never depends on the generator.
//!
//! Besides those types: the [`Runner`] (executor), the execution log ([`Storage`], SQLite by
//! default) and replay.

#[cfg(feature = "app")]
mod app;
mod error;
pub mod executor;
mod json;
#[cfg(feature = "llm")]
pub mod llm;
pub mod log;
pub mod petri;
mod progress;
mod registry;
pub mod report;
#[cfg(feature = "server")]
pub mod server;
mod state;
pub mod storage;
mod task;
mod time;
mod tool;

pub use error::{MissingField, StateError, TaskError, TaskErrorKind};
pub use registry::{AgentSpec, FieldSpec, Registry, RetrySpec, SourceLocation, TaskSpec};
/// The `JsonSchema` derive for a tool's arguments and for types in `produces`: write
/// `#[derive(tasknet::schemars::JsonSchema)]` with `#[schemars(crate = "tasknet::schemars")]`,
/// or depend on schemars 1 directly.
pub use schemars;
pub use state::{FieldInfo, LogEntry, RUN_METADATA_FIELDS, RunMetadataKeys, TaskState, field_info};
pub use task::{TaskCall, TaskContext, TaskOutput, TaskSet};
pub use time::{Timestamp, now_rfc3339};
pub use tool::{Tool, ToolFuture};

#[cfg(feature = "app")]
pub use app::App;
pub use executor::{Replay, RetryPolicy, Run, RunError, Runner, TaskFailure};
#[cfg(feature = "postgres")]
pub use executor::{WorkerOptions, WorkerReport};
pub use json::JsonText;
pub use log::{LlmUsage, ReplayMode, RunRecord, RunStatus, TaskRecord, TaskStatus};
pub use petri::PetriNet;
#[cfg(feature = "server")]
pub use server::{Server, ServerConfig, serve};
pub use storage::{MemoryStorage, Storage, StorageError};
#[cfg(feature = "postgres")]
pub use storage::{PostgresOptions, PostgresStorage};
#[cfg(feature = "sqlite")]
pub use storage::{SqliteStorage, Synchronous};

/// The seed's own API, for code ported from it: its `ExecutionLog` entry and its
/// `TaskOutputStorageHandler` (add, update at an index, load, reset), bound to one run of a
/// [`Storage`]. New code uses [`Runner`] and [`Storage`] directly.
pub mod seed {
    pub use crate::log::ExecutionLog;
    pub use crate::storage::TaskOutputStorageHandler;
}

/// Items the generated code needs but users should not name. Not part of the public API.
#[doc(hidden)]
pub mod __private;

/// Includes the code that `tasknet_codegen::Builder` wrote into `OUT_DIR` from build.rs.
///
/// `tasknet::include_generated!("tasks")` includes `$OUT_DIR/tasks.rs`, the file the builder
/// names after the yaml file's stem (see `Builder::module_name` to choose another name).
#[macro_export]
macro_rules! include_generated {
    ($name:literal) => {
        include!(concat!(env!("OUT_DIR"), "/", $name, ".rs"));
    };
}
