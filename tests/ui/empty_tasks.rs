// An empty tasks.yaml is no tasks, as CrewAI loads it: a warning and an empty registry; denied
// here, so that the UI suite sees it.
#![deny(deprecated)]

tasknet::task_registry!("./empty_tasks.yaml");

fn main() {}
