//! The run metadata: fields every state carries besides the tasks' own, as the seed keeps them
//! in its state. The generator refuses task fields of these names and adds them to a generated
//! `State`; `#[derive(TaskState)]` requires them; the runtime fills them after every task and
//! leaves them out of a browser's kickoff inputs.

/// The log of the run's tasks so far (`Vec<LogEntry>`).
pub const EXECUTION_LOG: &str = "execution_log";
/// The task that ran last (`Option<String>`).
pub const CURRENT_TASK: &str = "current_task";
/// When it finished, RFC 3339 (`Option<String>`).
pub const TIMESTAMP: &str = "timestamp";

/// Every run metadata field, in the order the state declares them.
pub const RUN_METADATA_FIELDS: [&str; 3] = [EXECUTION_LOG, CURRENT_TASK, TIMESTAMP];

/// Whether `name` is a run metadata field.
pub fn is_run_metadata(name: &str) -> bool {
    RUN_METADATA_FIELDS.contains(&name)
}
