tasknet::task_registry!("./invalid_type.yaml");

fn main() {}
