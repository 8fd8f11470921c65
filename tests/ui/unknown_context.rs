tasknet::task_registry!("./unknown_context.yaml");

fn main() {}
