fn main() {
    // Writes $OUT_DIR/tasks.rs (only when it changes) and asks cargo to rerun when the yaml
    // changes. Errors are printed as `cargo::error=tasks.yaml:LINE:COL: ...` lines.
    if let Err(e) = tasknet_codegen::Builder::new()
        .tasks("tasks.yaml")
        .compile()
    {
        eprintln!("{e}");
        std::process::exit(1);
    }
}
