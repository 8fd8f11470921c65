tasknet::task_registry!("./unknown_key.yaml");

fn main() {}
