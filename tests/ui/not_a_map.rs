tasknet::task_registry!("./not_a_map.yaml");

fn main() {}
