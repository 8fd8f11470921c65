//! The net as PNML (ISO/IEC 15909-2, a P/T net in the 2009 grammar). Standard elements carry
//! names, positions, the initial marking and arc inscriptions; what only tasknet reads (agent,
//! `input_data`, `delay`, `logica`, the agents) sits inside `<toolspecific tool="tasknet">`,
//! where the grammar accepts any element.

use std::fmt::Write;

use super::json::{JsOptions, input_data, logica_for};
use crate::model::Model;
use crate::petri::{Arc, Net, PlaceKind};

const PNML_NS: &str = "http://www.pnml.org/version-2009/grammar/pnml";
const PTNET_TYPE: &str = "http://www.pnml.org/version-2009/grammar/ptnet";
const TOOL: &str = "tasknet";
const TOOL_VERSION: &str = env!("CARGO_PKG_VERSION");

/// The net as a PNML document.
pub fn to_pnml(net: &Net, model: &Model, options: &JsOptions) -> String {
    let logica = logica_for(options);
    let mut out = String::with_capacity(1024 + net.places.len() * 1600);
    out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(out, "<pnml xmlns=\"{PNML_NS}\">");
    let _ = writeln!(out, "  <net id=\"net\" type=\"{PTNET_TYPE}\">");
    let _ = writeln!(out, "    <name><text>{}</text></name>", text(&net.name));
    if !model.agents.is_empty() {
        let _ = writeln!(
            out,
            "    <toolspecific tool=\"{TOOL}\" version=\"{TOOL_VERSION}\">"
        );
        for agent in &model.agents {
            let _ = writeln!(
                out,
                "      <agent id=\"{}\"><role>{}</role><goal>{}</goal><backstory>{}</backstory><tools>{}</tools></agent>",
                attribute(&agent.name),
                text(&agent.role),
                text(&agent.goal),
                text(&agent.backstory),
                code(&serde_json::to_string(&agent.tools).unwrap_or_default()),
            );
        }
        out.push_str("    </toolspecific>\n");
    }
    out.push_str("    <page id=\"page\">\n");
    for place in &net.places {
        let _ = writeln!(out, "      <place id=\"{}\">", place.id);
        let _ = writeln!(
            out,
            "        <name><text>{}</text></name>",
            text(&place.name)
        );
        position(&mut out, place.x, place.y);
        if place.tokens > 0 {
            let _ = writeln!(
                out,
                "        <initialMarking><text>{}</text></initialMarking>",
                place.tokens
            );
        }
        if let PlaceKind::Task(i) = place.kind {
            let task = &model.tasks[i];
            let _ = writeln!(
                out,
                "        <toolspecific tool=\"{TOOL}\" version=\"{TOOL_VERSION}\">"
            );
            let _ = writeln!(out, "          <task>{}</task>", text(&task.name));
            if let Some(agent) = &task.agent {
                let _ = writeln!(out, "          <agentId>{}</agentId>", text(agent));
            }
            let _ = writeln!(out, "          <delay>0</delay>");
            let _ = writeln!(
                out,
                "          <input_data>{}</input_data>",
                code(&serde_json::Value::Object(input_data(task)).to_string())
            );
            let _ = writeln!(
                out,
                "          <logica>{}</logica>",
                code(&logica(&task.name))
            );
            out.push_str("        </toolspecific>\n");
        }
        out.push_str("      </place>\n");
    }
    for transition in &net.transitions {
        let _ = writeln!(out, "      <transition id=\"{}\">", transition.id);
        let _ = writeln!(
            out,
            "        <name><text>{}</text></name>",
            text(&transition.name)
        );
        position(&mut out, transition.x, transition.y);
        out.push_str("      </transition>\n");
    }
    for (i, arc) in net.arcs.iter().enumerate() {
        let (source, target) = match *arc {
            Arc::PlaceToTransition { place, transition } => {
                (&net.places[place].id, &net.transitions[transition].id)
            }
            Arc::TransitionToPlace { transition, place } => {
                (&net.transitions[transition].id, &net.places[place].id)
            }
        };
        let _ = writeln!(
            out,
            "      <arc id=\"A{i}\" source=\"{source}\" target=\"{target}\"><inscription><text>1</text></inscription></arc>"
        );
    }
    out.push_str("    </page>\n  </net>\n</pnml>\n");
    out
}

fn position(out: &mut String, x: f64, y: f64) {
    let _ = writeln!(
        out,
        "        <graphics><position x=\"{x}\" y=\"{y}\"/></graphics>"
    );
}

/// Element text: XML-escaped; characters XML 1.0 cannot carry at all (most C0 controls,
/// U+FFFE, U+FFFF) become U+FFFD.
fn text(s: &str) -> String {
    escape(s, false, |_, out| out.push('\u{FFFD}'))
}

/// A double-quoted attribute value, escaped as [`text`] and its quotes too.
fn attribute(s: &str) -> String {
    escape(s, true, |_, out| out.push('\u{FFFD}'))
}

/// JSON or JavaScript text: XML-escaped. Its control characters are already `\u` escapes
/// (serde_json and `js_string` write them so); U+FFFE and U+FFFF, legal in JSON and JavaScript
/// strings but not in XML, become `\ufffe` / `\uffff` escapes, so nothing is lost.
fn code(s: &str) -> String {
    escape(s, false, |c, out| {
        let _ = write!(out, "\\u{:04x}", c as u32);
    })
}

/// XML-escapes `s` (and `"` when `in_attribute`); `invalid` writes a replacement for a
/// character XML 1.0 cannot carry.
fn escape(s: &str, in_attribute: bool, invalid: impl Fn(char, &mut String)) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' if in_attribute => out.push_str("&quot;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {
                invalid(c, &mut out);
            }
            c => out.push(c),
        }
    }
    out
}
