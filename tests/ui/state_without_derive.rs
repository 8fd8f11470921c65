// The state named by `state = ...` must derive TaskState.
#[derive(Debug, Default, Clone)]
pub struct Plain {
    pub email: Option<String>,
}

tasknet::task_registry!(file = "./state_missing_field.yaml", state = Plain);

fn main() {}
