tasknet::task_registry!("./two_producers.yaml");

fn main() {}
