//! Generates the registry from tasks.yaml and agents.yaml into OUT_DIR (src/main.rs includes
//! it). Cargo reruns this when either file changes; an error in them fails the build with
//! `tasks.yaml:LINE:COL`.

fn main() {
    let result = tasknet_codegen::Builder::new()
        .tasks("tasks.yaml")
        .agents("agents.yaml")
        .compile();
    if let Err(e) = result {
        eprintln!("{e}");
        std::process::exit(1);
    }
}
