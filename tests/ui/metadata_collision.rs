tasknet::task_registry!("./metadata_collision.yaml");

fn main() {}
