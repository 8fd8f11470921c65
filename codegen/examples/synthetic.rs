fn main() {
    print!(
        "{}",
        tasknet_codegen::synthetic::tasks_yaml(std::env::args().nth(1).unwrap().parse().unwrap())
    );
}
