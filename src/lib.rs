//! tasknet: a CrewAI-style `tasks.yaml` turned into typed Rust at compile time.
//!
//! ```ignore
//! tasknet::task_registry!("tasks.yaml");
//! // generates: State, <Task>Input / <Task>Output, <task>_input / <task>_output,
//! // trait Tasks (one async fn per task), Crew, TASK_REGISTRY, PETRI_NET_JSON
//!
//! struct Team;
//! impl Tasks for Team { /* one method per task */ }
//!
//! let run = tasknet::Runner::new(Crew(Team))
//!     .storage(tasknet::SqliteStorage::open("runs.db")?)
//!     .run(State { topic: Some("mangoes".into()), ..State::default() })
//!     .await?;
//! ```
//!
//! What to look at first:
//! - [`task_registry!`] and [`TaskState`] (derive it on a hand-written state): the generated
//!   API, documented in `docs/generated-api.md`;
//! - [`TaskContext`] and [`TaskError`]: what each task method gets and returns;
//! - [`Runner`]: runs the registry, logs every task, [`Runner::replay`]s stored runs;
//! - [`App`]: `run`, `replay`, `log` and `serve` subcommands for your binary;
//! - [`Storage`], [`SqliteStorage`]: the execution log;
//! - [`serve`]: the WebSocket task server and runner page (feature `server`).
//!
//! Without the default `macros` feature, use the build.rs route (`tasknet_codegen::Builder`
//! and [`include_generated!`]).

// What a task implementation writes against.
pub use tasknet_runtime::{
    LogEntry, MissingField, StateError, TaskContext, TaskError, TaskErrorKind, TaskState,
};

// Running a registry.
#[cfg(feature = "app")]
pub use tasknet_runtime::App;
pub use tasknet_runtime::{Replay, RetryPolicy, Run, RunError, Runner, TaskFailure};

// The execution log.
pub use tasknet_runtime::storage;
pub use tasknet_runtime::{
    JsonText, LlmUsage, MemoryStorage, ReplayMode, RunRecord, RunStatus, Storage, StorageError,
    TaskRecord, TaskStatus,
};
#[cfg(feature = "sqlite")]
pub use tasknet_runtime::{SqliteStorage, Synchronous};
// The log and the work queue in PostgreSQL, shared by workers on several machines.
#[cfg(feature = "postgres")]
pub use tasknet_runtime::{PostgresOptions, PostgresStorage, WorkerOptions, WorkerReport};

// Agents through an LLM, and the tools they call.
#[cfg(feature = "llm")]
pub use tasknet_runtime::llm;
pub use tasknet_runtime::{Tool, ToolFuture, schemars};

// The WebSocket task server.
#[cfg(feature = "server")]
pub use tasknet_runtime::server::{self, Server, ServerConfig, serve};

// What the generated registry is made of, for code that inspects it.
pub use tasknet_runtime::petri::{self, PetriNet};
pub use tasknet_runtime::{
    AgentSpec, FieldInfo, FieldSpec, RUN_METADATA_FIELDS, Registry, RetrySpec, RunMetadataKeys,
    SourceLocation, TaskCall, TaskOutput, TaskSet, TaskSpec, field_info,
};

// Smaller pieces: log reports, timestamps.
pub use tasknet_runtime::{Timestamp, now_rfc3339, report};

// The seed's own API (ExecutionLog, TaskOutputStorageHandler), for code ported from it.
pub use tasknet_runtime::seed;

pub use tasknet_runtime::include_generated;

#[cfg(feature = "macros")]
pub use tasknet_macros::{TaskState, task_registry};

/// Items the generated code needs but users should not name. Not part of the public API.
#[doc(hidden)]
pub use tasknet_runtime::__private;

/// What the macros' expansions call back into. Not part of the public API.
#[cfg(feature = "macros")]
#[doc(hidden)]
pub mod __macros {
    pub use tasknet_macros::task_registry_with_state;
}
