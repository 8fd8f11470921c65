// Misspelled arguments and missing files are errors, never a proc-macro panic.
tasknet::task_registry!(fiel = "tasks.yaml");

mod missing {
    tasknet::task_registry!("./does_not_exist.yaml");
}

fn main() {}
