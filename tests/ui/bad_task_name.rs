tasknet::task_registry!("./bad_task_name.yaml");

fn main() {}
