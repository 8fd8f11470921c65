//! The Petri net of a registry as a typed value: the seed's JSON format (`nome`, `lugares`,
//! `transicoes`, `arcos`, `agentes`) with English field names. The generated code carries the
//! net as `PETRI_NET_JSON` and as `PETRI_NET` (this type, parsed on first use); the server
//! serves it to the browser.
//!
//! Parsing is tolerant of fields it does not know, so a net edited in the seed's editor still
//! loads; serializing writes the seed's names back.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A whole net.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PetriNet {
    #[serde(rename = "nome")]
    pub name: String,
    pub version: String,
    #[serde(rename = "lugares")]
    pub places: Vec<Place>,
    #[serde(rename = "transicoes")]
    pub transitions: Vec<Transition>,
    #[serde(rename = "arcos")]
    pub arcs: Vec<Arc>,
    #[serde(rename = "agentes", default)]
    pub agents: Vec<Agent>,
}

/// Drawing coordinates.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Position {
    pub x: f64,
    pub y: f64,
}

/// A place: the start, the end, a task (with `logica`) or a condition between tasks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Place {
    pub id: String,
    #[serde(rename = "nome")]
    pub name: String,
    pub tokens: u32,
    #[serde(rename = "coordenadas")]
    pub position: Position,
    #[serde(default)]
    pub delay: u64,
    #[serde(default)]
    pub subnet: Option<Value>,
    #[serde(rename = "agentId", default)]
    pub agent_id: Option<String>,
    #[serde(default)]
    pub input_data: Map<String, Value>,
    #[serde(default)]
    pub output_data: Map<String, Value>,
    /// The JavaScript the browser runs when a token arrives (empty for non-task places).
    #[serde(default)]
    pub logica: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Transition {
    pub id: String,
    #[serde(rename = "nome")]
    pub name: String,
    #[serde(rename = "coordenadas")]
    pub position: Position,
}

/// An arc from a place to a transition or from a transition to a place.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Arc {
    pub id: String,
    #[serde(rename = "origem")]
    pub source: String,
    #[serde(rename = "destino")]
    pub target: String,
    #[serde(rename = "peso")]
    pub weight: u32,
}

/// An agent from agents.yaml.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Agent {
    pub id: String,
    pub role: String,
    pub goal: String,
    pub backstory: String,
    #[serde(default)]
    pub tools: Vec<String>,
}

impl PetriNet {
    /// Parses a net in the seed's JSON format.
    pub fn from_json(text: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// The net in the seed's JSON format.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a PetriNet always serializes")
    }

    /// The place of a task, by the task's name.
    pub fn task_place(&self, task: &str) -> Option<&Place> {
        self.places
            .iter()
            .find(|p| !p.logica.is_empty() && p.name == task)
    }

    /// The places holding tokens at the start.
    pub fn initial_marking(&self) -> impl Iterator<Item = (&Place, u32)> {
        self.places
            .iter()
            .filter(|p| p.tokens > 0)
            .map(|p| (p, p.tokens))
    }
}
