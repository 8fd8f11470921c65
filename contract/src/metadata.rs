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

/// Where a state keeps its run metadata on the wire: the seed's names, except one a task field
/// of that state already has (a kickoff input `{timestamp}`, say), which the generated `State`
/// moves aside (`run_timestamp`) so that the user's name is never refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunMetadataKeys {
    /// The key of the execution log.
    pub execution_log: &'static str,
    /// The key of the task that ran last.
    pub current_task: &'static str,
    /// The key of when it finished.
    pub timestamp: &'static str,
}

impl RunMetadataKeys {
    /// The seed's keys.
    pub const SEED: RunMetadataKeys = RunMetadataKeys {
        execution_log: EXECUTION_LOG,
        current_task: CURRENT_TASK,
        timestamp: TIMESTAMP,
    };

    /// The three keys, in the order the state declares them.
    pub const fn all(&self) -> [&'static str; 3] {
        [self.execution_log, self.current_task, self.timestamp]
    }

    /// Whether `name` is one of them.
    pub fn contains(&self, name: &str) -> bool {
        self.all().contains(&name)
    }
}
