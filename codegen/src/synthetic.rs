//! Generated task files for benchmarks and tests: `n` tasks in a layered DAG, each reading one
//! or two earlier fields, producing typed fields, with a placeholder and input_data.

use std::fmt::Write as _;

/// A valid tasks.yaml with `n` tasks (`n >= 1`).
pub fn tasks_yaml(n: usize) -> String {
    let mut out = String::with_capacity(n * 220);
    out.push_str("inputs:\n  seed: String\n\n");
    for i in 0..n {
        let _ = writeln!(out, "task_{i}:");
        let _ = writeln!(
            out,
            "  description: >\n    Step {i} of the pipeline, working on {{seed}}.\n  expected_output: The value of field_{i}."
        );
        let _ = writeln!(out, "  agent: agent_{}", i % 7);
        // Layered: read the previous task's field and one further back (forks and joins).
        let mut requires = vec!["seed".to_owned()];
        if i >= 1 {
            requires.push(format!("field_{}", i - 1));
        }
        if i >= 10 {
            requires.push(format!("extra_{}", i - 10));
        }
        let _ = writeln!(out, "  requires: [{}]", requires.join(", "));
        let _ = writeln!(
            out,
            "  produces:\n    field_{i}: String\n    extra_{i}: Vec<u64>"
        );
        let _ = writeln!(
            out,
            "  input_data:\n    threshold: {}\n    label: step {i}\n",
            i % 13
        );
    }
    out
}
