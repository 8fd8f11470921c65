tasknet::task_registry!("./missing_field.yaml");

fn main() {}
