//! Writes the chain registries the comparison runs (10, 100 and 1,000 no-op tasks, with a small
//! state and with 1,000 kickoff fields) through the build.rs route, with their no-op agents.

use std::fmt::Write as _;
use std::path::Path;

/// Chain lengths: the same as LangGraph's side.
const LENGTHS: [usize; 3] = [10, 100, 1_000];
/// Kickoff fields of the wide state (filled with 1 KB each at run time).
const WIDE_FIELDS: usize = 1_000;

fn chain_yaml(n: usize, wide: bool) -> String {
    let mut out = String::from("inputs:\n  start: u64\n");
    if wide {
        for f in 0..WIDE_FIELDS {
            let _ = writeln!(out, "  f{f}: String");
        }
    }
    for i in 0..n {
        let previous = if i == 0 {
            "start".to_owned()
        } else {
            format!("v{}", i - 1)
        };
        let _ = writeln!(
            out,
            "t{i}:\n  requires: [{previous}]\n  produces: {{v{i}: u64}}"
        );
    }
    out
}

/// Each task returns one new field: its input plus one (what LangGraph's nodes do).
fn chain_impl(n: usize) -> String {
    let mut out = String::from("impl Tasks for NoOp {\n");
    for i in 0..n {
        let previous = if i == 0 {
            "start".to_owned()
        } else {
            format!("v{}", i - 1)
        };
        let upper = format!("T{i}");
        let _ = writeln!(
            out,
            "    async fn t{i}(&self, _: &tasknet::TaskContext, i: {upper}Input) -> Result<{upper}Output, tasknet::TaskError> {{ Ok({upper}Output {{ v{i}: i.{previous} + 1 }}) }}"
        );
    }
    out.push_str("}\n");
    out
}

/// The WebSocket pair's registry: one task that does nothing.
const NOOP_SERVER: &str =
    "noop:\n  description: Does nothing.\n  expected_output: n.\n  produces: {n: u64}\n";

fn compile(out: &Path, module: &str, yaml: &str) {
    let path = out.join(format!("{module}.yaml"));
    tasknet_codegen::builder::write_if_changed(&path, yaml.as_bytes()).unwrap();
    if let Err(e) = tasknet_codegen::Builder::new()
        .tasks(&path)
        .module_name(module)
        .cargo_directives(false)
        .compile()
    {
        panic!("{e}");
    }
}

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    let out = std::env::var("OUT_DIR").expect("OUT_DIR");
    let out = Path::new(&out);
    compile(out, "noop_server", NOOP_SERVER);
    for n in LENGTHS {
        for wide in [false, true] {
            let module = format!("{}_{n}", if wide { "wide" } else { "chain" });
            compile(out, &module, &chain_yaml(n, wide));
        }
        tasknet_codegen::builder::write_if_changed(
            &out.join(format!("noop_{n}.rs")),
            chain_impl(n).as_bytes(),
        )
        .unwrap();
    }
}
