// An entry none of whose keys is a task's (prompt snippets) is data, not a task: a warning,
// which `cargo build` shows; denied here, so that the UI suite sees it.
#![deny(deprecated)]

tasknet::task_registry!("./not_a_task.yaml");

fn main() {}
