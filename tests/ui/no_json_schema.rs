// An agent is asked for its task's output by the output's JSON Schema: a user's type in
// `produces` without a `JsonSchema` impl is a compile error.

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Order {
    pub kg: f64,
}

tasknet::task_registry!(file = "./no_json_schema.yaml", agents = "./no_json_schema.agents.yaml");

fn main() {}
