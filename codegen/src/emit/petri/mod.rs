//! The Petri net's writers: the seed's JSON (with each task place's `logica`), PNML, DOT and
//! Mermaid. They read a built [`Net`] and the [`Model`]; the net itself (construction,
//! soundness, the token game) is `crate::petri`'s, which never calls back here.

pub mod dot;
pub mod json;
pub mod mermaid;
pub mod pnml;

use crate::model::Model;
use crate::petri::Net;
use json::JsOptions;

/// The files a net is written as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// The seed's JSON (`lugares`, `transicoes`, `arcos`, `agentes`), pretty-printed.
    Json,
    /// ISO/IEC 15909-2 PNML, a P/T net.
    Pnml,
    /// Graphviz DOT.
    Dot,
    /// A Mermaid flowchart.
    Mermaid,
}

impl Format {
    /// Every format, in the order files are written.
    pub const ALL: [Format; 4] = [Format::Json, Format::Pnml, Format::Dot, Format::Mermaid];

    /// The file name ending for a net called `name`: `name.<extension>`.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Json => "petri.json",
            Format::Pnml => "pnml",
            Format::Dot => "petri.dot",
            Format::Mermaid => "petri.mmd",
        }
    }

    /// The net in this format.
    pub fn render(self, net: &Net, model: &Model, options: &JsOptions) -> String {
        match self {
            Format::Json => json::to_json_pretty(net, model, options),
            Format::Pnml => pnml::to_pnml(net, model, options),
            Format::Dot => dot::to_dot(net),
            Format::Mermaid => mermaid::to_mermaid(net),
        }
    }
}
