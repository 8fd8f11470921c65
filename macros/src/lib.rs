//! `task_registry!` and `#[derive(TaskState)]`. All the work happens in
//! `tasknet_codegen::macro_support`, shared with the build.rs builder and the CLI; this crate
//! only finds where it was called from.

use std::path::PathBuf;

use proc_macro::TokenStream;
use tasknet_codegen::macro_support::{self, MacroEnv};

fn env() -> MacroEnv {
    MacroEnv {
        manifest_dir: std::env::var_os("CARGO_MANIFEST_DIR")
            .map(PathBuf::from)
            .unwrap_or_default(),
        caller_file: proc_macro::Span::call_site().local_file(),
    }
}

/// Generates the typed State, per-task Input/Output and functions, the `Tasks` trait, the
/// `Crew` binding and `TASK_REGISTRY` from a CrewAI-style tasks.yaml, checked at compile time.
///
/// ```ignore
/// tasknet::task_registry!("tasks.yaml");
/// tasknet::task_registry!(file = "config/tasks.yaml", agents = "config/agents.yaml");
/// tasknet::task_registry!(file = "tasks.yaml", state = MyState); // #[derive(TaskState)]
/// tasknet::task_registry!(state = MyState, yaml = "classify: {requires: [email], produces: [label]}");
/// ```
///
/// Paths are relative to the crate root; a path starting with `./` is relative to the calling
/// file's folder.
#[proc_macro]
pub fn task_registry(input: TokenStream) -> TokenStream {
    macro_support::task_registry(input.into(), &env()).into()
}

#[doc(hidden)]
#[proc_macro]
pub fn task_registry_with_state(input: TokenStream) -> TokenStream {
    macro_support::task_registry_with_state(input.into(), &env()).into()
}

/// Makes a hand-written struct usable as the state of a registry: field access by name as
/// JSON, merge, and the run metadata. Pair it with `task_registry!(..., state = ThisStruct)`.
///
/// The struct needs `execution_log: Vec<tasknet::LogEntry>`, `current_task: Option<String>`
/// and `timestamp: Option<String>` besides its task fields, and must implement `Default`,
/// `Clone`, `Send` and `Sync`. Use `#[tasknet(crate = "path")]` when tasknet is re-exported.
#[proc_macro_derive(TaskState, attributes(tasknet))]
pub fn derive_task_state(input: TokenStream) -> TokenStream {
    macro_support::derive_task_state(input.into()).into()
}
