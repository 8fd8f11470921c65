// An agent name no code could define (a `>` block scalar ends it with a newline) is an error,
// with its "did you mean".
tasknet::task_registry!(file = "./agent_not_a_name.yaml", agents = "./unknown_agent.agents.yaml");

fn main() {}
