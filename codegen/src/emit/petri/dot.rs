//! The net as Graphviz DOT, drawn as Petri nets usually are: places as circles (tasks named,
//! conditions small and blank), transitions as black bars, the start place holding its token.
//! Graphviz lays it out (`dot -Tsvg`); the names of blank nodes are in their tooltips.

use std::fmt::Write;

use crate::petri::{Arc, Net, PlaceKind};

/// Nodes above which the drawing trades a little straightness for speed.
const LARGE: usize = 200;

/// The net as a DOT digraph.
pub fn to_dot(net: &Net) -> String {
    let mut out = String::with_capacity(256 + net.arcs.len() * 24);
    let _ = writeln!(out, "digraph {} {{", quoted(&net.name));
    out.push_str("  rankdir=LR;\n");
    if net.places.len() + net.transitions.len() > LARGE {
        // Graphviz's network-simplex passes take ~17 s on a 200-task net and under 1 s with
        // these limits, for a drawing that differs only in small horizontal shifts.
        out.push_str("  nslimit=2;\n  nslimit1=2;\n");
    }
    out.push_str("  node [fontname=\"Helvetica\", fontsize=11];\n");
    out.push_str("  edge [arrowsize=0.6];\n");
    for place in &net.places {
        let name = quoted(&place.name);
        let attrs = match place.kind {
            PlaceKind::Start => format!(
                "shape=circle, label=\"\u{25CF}\", xlabel={name}, width=0.35, fixedsize=true"
            ),
            PlaceKind::End => {
                format!("shape=doublecircle, label=\"\", xlabel={name}, width=0.25, fixedsize=true")
            }
            PlaceKind::Task(_) => format!(
                "shape=ellipse, label={name}, style=filled, fillcolor=\"#e8f0fe\", color=\"#3c6fd8\""
            ),
            PlaceKind::Condition { .. } => {
                format!("shape=circle, label=\"\", tooltip={name}, width=0.2, fixedsize=true")
            }
        };
        let _ = writeln!(out, "  {} [{attrs}];", place.id);
    }
    for transition in &net.transitions {
        let _ = writeln!(
            out,
            "  {} [shape=box, label=\"\", tooltip={}, style=filled, fillcolor=black, width=0.06, height=0.35, fixedsize=true];",
            transition.id,
            quoted(&transition.name)
        );
    }
    for arc in &net.arcs {
        let (from, to) = match *arc {
            Arc::PlaceToTransition { place, transition } => {
                (&net.places[place].id, &net.transitions[transition].id)
            }
            Arc::TransitionToPlace { transition, place } => {
                (&net.transitions[transition].id, &net.places[place].id)
            }
        };
        let _ = writeln!(out, "  {from} -> {to};");
    }
    out.push_str("}\n");
    out
}

/// A DOT double-quoted string. Backslashes are doubled (Graphviz reads `\n`, `\l`, `\N` in
/// labels as escapes), line breaks become `\n`, other control characters a space.
pub fn quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
