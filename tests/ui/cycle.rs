tasknet::task_registry!("./cycle.yaml");

fn main() {}
