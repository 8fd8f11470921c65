//! The task dependency graph alone (no Petri-net machinery), as Mermaid or DOT: one node per
//! task, one edge per dependency, labelled with the fields that flow along it (a CrewAI
//! `context` that carries no field gives an unlabelled edge).

use std::fmt::Write;

use super::petri::{dot, mermaid};
use crate::model::{Model, Producer, TaskId};

/// Each dependency edge `(from, to)` with the names of the fields `to` reads from `from`.
fn edges(model: &Model) -> Vec<(TaskId, TaskId, Vec<&str>)> {
    let mut edges = Vec::new();
    for (to, task) in model.tasks.iter().enumerate() {
        for &from in &task.depends_on {
            let fields = task
                .requires
                .iter()
                .map(|&f| &model.fields[f])
                .filter(|f| f.producer == Producer::Task(from))
                .map(|f| f.name.as_str())
                .collect();
            edges.push((from, to, fields));
        }
    }
    edges
}

/// The task graph as a Mermaid `flowchart LR` (node ids `t0`, `t1`, ... so that no task name
/// can clash with a Mermaid keyword such as `end`).
pub fn to_mermaid(model: &Model) -> String {
    let mut out = String::from("flowchart LR\n");
    for (i, task) in model.tasks.iter().enumerate() {
        let _ = writeln!(out, "  t{i}[\"{}\"]", mermaid::label_text(&task.name));
    }
    for (from, to, fields) in edges(model) {
        if fields.is_empty() {
            let _ = writeln!(out, "  t{from} --> t{to}");
        } else {
            let label = mermaid::label_text(&fields.join(", "));
            let _ = writeln!(out, "  t{from} -->|\"{label}\"| t{to}");
        }
    }
    out
}

/// The task graph as a DOT digraph.
pub fn to_dot(model: &Model) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "digraph {} {{", dot::quoted(&model.name));
    out.push_str("  rankdir=LR;\n");
    out.push_str(
        "  node [shape=box, style=\"rounded,filled\", fillcolor=\"#e8f0fe\", color=\"#3c6fd8\", fontname=\"Helvetica\", fontsize=11];\n",
    );
    out.push_str("  edge [fontname=\"Helvetica\", fontsize=9];\n");
    for (i, task) in model.tasks.iter().enumerate() {
        let _ = writeln!(out, "  t{i} [label={}];", dot::quoted(&task.name));
    }
    for (from, to, fields) in edges(model) {
        if fields.is_empty() {
            let _ = writeln!(out, "  t{from} -> t{to};");
        } else {
            let _ = writeln!(
                out,
                "  t{from} -> t{to} [label={}];",
                dot::quoted(&fields.join(", "))
            );
        }
    }
    out.push_str("}\n");
    out
}
