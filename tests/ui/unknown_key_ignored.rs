// A key CrewAI ignores is a warning, which `cargo build` shows; denied here, so that the UI
// suite sees it.
#![deny(deprecated)]

tasknet::task_registry!("./unknown_key_ignored.yaml");

fn main() {}
