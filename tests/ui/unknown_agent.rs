// `agent` must name an agent of agents.yaml.
tasknet::task_registry!(file = "./unknown_agent.yaml", agents = "./unknown_agent.agents.yaml");

fn main() {}
