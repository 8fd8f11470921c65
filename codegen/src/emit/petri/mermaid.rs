//! The net as a Mermaid flowchart: places as circles, transitions as black bars.

use std::fmt::Write;

use crate::petri::{Arc, Net, PlaceKind};

/// The net as a Mermaid `flowchart LR`.
pub fn to_mermaid(net: &Net) -> String {
    let mut out = String::with_capacity(256 + net.arcs.len() * 16);
    out.push_str("flowchart LR\n");
    for place in &net.places {
        let label = match place.kind {
            PlaceKind::Condition { .. } => " ".to_owned(),
            PlaceKind::Start => format!("\u{25CF} {}", place.name),
            _ => place.name.clone(),
        };
        let _ = writeln!(out, "  {}((\"{}\"))", place.id, label_text(&label));
    }
    for transition in &net.transitions {
        let _ = writeln!(out, "  {}[\" \"]", transition.id);
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
        let _ = writeln!(out, "  {from} --> {to}");
    }
    if !net.transitions.is_empty() {
        out.push_str("  classDef transition fill:#000,stroke:#000,color:#000\n");
        let ids: Vec<&str> = net.transitions.iter().map(|t| t.id.as_str()).collect();
        let _ = writeln!(out, "  class {} transition", ids.join(","));
    }
    out
}

/// Text inside a Mermaid `"..."` label: quotes, `#`, `<`, `>` and `&` as Mermaid entity codes
/// (`#quot;` ...), so no label can end the string, start markup or an entity; line breaks and
/// other control characters become spaces.
pub fn label_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => out.push_str("#quot;"),
            '#' => out.push_str("#35;"),
            '<' => out.push_str("#lt;"),
            '>' => out.push_str("#gt;"),
            '&' => out.push_str("#amp;"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}
