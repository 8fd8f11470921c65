// A tool the yaml names is a function of the crew's code: one it does not provide is a
// compile error that names the tool and where the yaml names it.

mod crew {
    tasknet::task_registry!(file = "./missing_tool.yaml", agents = "./missing_tool.agents.yaml");
}

struct OnlyStock;

impl crew::Tasks for OnlyStock {}

// `price_of` is missing.
impl crew::Tools for OnlyStock {
    fn check_stock(&self) -> tasknet::Tool {
        tasknet::Tool::new("Stock.", |(): ()| async { Ok::<_, String>("yes") })
    }
}

struct NoTools;

// No `Tools` at all.
impl crew::Tasks for NoTools {}

fn main() {}
