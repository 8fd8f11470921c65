tasknet::task_registry!("./unresolved_placeholder.yaml");

fn main() {}
