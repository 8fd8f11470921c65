// `strict = true`: the same warning is an error.
tasknet::task_registry!(file = "./unknown_key_ignored.yaml", strict = true);

fn main() {}
