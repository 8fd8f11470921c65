// An agent that agents.yaml does not define may be supplied by the crew's code, as in CrewAI:
// a warning, which `cargo build` shows; denied here, so that the UI suite sees it.
#![deny(deprecated)]

tasknet::task_registry!(file = "./unknown_agent.yaml", agents = "./unknown_agent.agents.yaml");

fn main() {}
