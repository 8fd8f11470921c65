tasknet::task_registry!("./all_errors_at_once.yaml");

fn main() {}
