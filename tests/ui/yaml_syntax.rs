tasknet::task_registry!("./yaml_syntax.yaml");

fn main() {}
