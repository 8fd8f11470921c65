// A hand-written state must have every field the yaml names.
#[derive(Debug, Default, Clone, tasknet::TaskState)]
pub struct SalesState {
    pub email: Option<String>,
    pub label: Option<String>,
    pub execution_log: Vec<tasknet::LogEntry>,
    pub current_task: Option<String>,
    pub timestamp: Option<String>,
}

tasknet::task_registry!(file = "./state_missing_field.yaml", state = SalesState);

fn main() {}
