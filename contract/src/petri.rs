//! The Petri net in the seed's JSON format (`nome`, `lugares`, `transicoes`, `arcos`,
//! `agentes`), with English field names in Rust and the seed's names on the wire.
//!
//! One set of types for both sides: the generator writes a net borrowing from its model (and
//! each place's `logica` as an already escaped JSON string, `L = Box<RawValue>`: the template
//! is escaped once per net, not once per place); the runtime reads it into owned values
//! ([`PetriNet`] with its defaults). Reading is tolerant of fields it does not know, so a net
//! edited in the seed's editor still loads. `contract/schema/petri-net.schema.json` describes the same
//! format for other tools; a test holds the two together.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A string on the wire: borrowed when written, owned when read.
pub type Text<'a> = Cow<'a, str>;

/// A whole net. `L` is how a place's `logica` is held (text, or an escaped JSON literal).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(bound(deserialize = "L: Deserialize<'de> + Default"))]
pub struct PetriNet<'a, L = Text<'a>> {
    /// The registry's name.
    #[serde(rename = "nome")]
    pub name: Text<'a>,
    /// The format's version (`1.0`).
    pub version: Text<'a>,
    /// The places: the start, the end, one per task, and the conditions between tasks.
    #[serde(rename = "lugares")]
    pub places: Vec<Place<'a, L>>,
    /// The transitions.
    #[serde(rename = "transicoes")]
    pub transitions: Vec<Transition<'a>>,
    /// The arcs, each between a place and a transition.
    #[serde(rename = "arcos")]
    pub arcs: Vec<Arc<'a>>,
    /// The agents of agents.yaml.
    #[serde(rename = "agentes", default)]
    pub agents: Vec<Agent<'a>>,
}

/// Drawing coordinates.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Position {
    /// Left to right: the longest path from the start.
    pub x: f64,
    /// Top to bottom.
    pub y: f64,
}

/// A place: the start, the end, a task (with `logica`) or a condition between tasks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(bound(deserialize = "L: Deserialize<'de> + Default"))]
pub struct Place<'a, L = Text<'a>> {
    /// Unique in the net.
    pub id: Text<'a>,
    /// The task's name, for a task place.
    #[serde(rename = "nome")]
    pub name: Text<'a>,
    /// Tokens at the start (one, on the start place).
    pub tokens: u32,
    /// Where it is drawn.
    #[serde(rename = "coordenadas")]
    pub position: Position,
    /// The seed's delay, in milliseconds (0).
    #[serde(default)]
    pub delay: u64,
    /// The seed's sub-net (none).
    #[serde(default)]
    pub subnet: Option<Value>,
    /// The task's agent.
    #[serde(rename = "agentId", default)]
    pub agent_id: Option<Text<'a>>,
    /// The task's static configuration (its yaml `input_data`).
    #[serde(default)]
    pub input_data: Map<String, Value>,
    /// The seed's output data (empty).
    #[serde(default)]
    pub output_data: Map<String, Value>,
    /// The JavaScript the browser runs when a token arrives (empty for non-task places).
    #[serde(default)]
    pub logica: L,
}

/// A transition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Transition<'a> {
    /// Unique in the net.
    pub id: Text<'a>,
    /// The tasks it starts or ends.
    #[serde(rename = "nome")]
    pub name: Text<'a>,
    /// Where it is drawn.
    #[serde(rename = "coordenadas")]
    pub position: Position,
}

/// An arc from a place to a transition or from a transition to a place.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Arc<'a> {
    /// Unique in the net.
    pub id: Text<'a>,
    /// The place or transition it leaves.
    #[serde(rename = "origem")]
    pub source: Text<'a>,
    /// The place or transition it enters.
    #[serde(rename = "destino")]
    pub target: Text<'a>,
    /// Tokens it moves (1).
    #[serde(rename = "peso")]
    pub weight: u32,
}

/// An agent from agents.yaml.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Agent<'a> {
    /// Its key in agents.yaml.
    pub id: Text<'a>,
    /// Its role.
    pub role: Text<'a>,
    /// Its goal.
    pub goal: Text<'a>,
    /// Its backstory.
    pub backstory: Text<'a>,
    /// The tools it may use.
    #[serde(default)]
    pub tools: Cow<'a, [String]>,
}

impl PetriNet<'static> {
    /// Parses a net in the seed's JSON format.
    pub fn from_json(text: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(text)
    }
}

impl PetriNet<'_> {
    /// The net in the seed's JSON format.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The place of a task, by the task's name.
    pub fn task_place(&self, task: &str) -> Option<&Place<'_>> {
        self.places
            .iter()
            .find(|p| !p.logica.is_empty() && p.name == task)
    }

    /// The places holding tokens at the start.
    pub fn initial_marking(&self) -> impl Iterator<Item = (&Place<'_>, u32)> {
        self.places
            .iter()
            .filter(|p| p.tokens > 0)
            .map(|p| (p, p.tokens))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A net with every field set, as the generator writes one.
    fn full_net() -> PetriNet<'static> {
        let position = Position { x: 1.0, y: 2.0 };
        PetriNet {
            name: "crew".into(),
            version: "1.0".into(),
            places: vec![
                Place {
                    id: "P0".into(),
                    name: "research".into(),
                    tokens: 1,
                    position,
                    delay: 0,
                    subnet: None,
                    agent_id: Some("researcher".into()),
                    input_data: Map::from_iter([("k".to_owned(), Value::from(1))]),
                    output_data: Map::new(),
                    logica: "return input;".into(),
                },
                Place {
                    id: "P1".into(),
                    name: "end".into(),
                    tokens: 0,
                    position,
                    delay: 0,
                    subnet: None,
                    agent_id: None,
                    input_data: Map::new(),
                    output_data: Map::new(),
                    logica: "".into(),
                },
            ],
            transitions: vec![Transition {
                id: "T0".into(),
                name: "start research".into(),
                position,
            }],
            arcs: vec![
                Arc {
                    id: "A0".into(),
                    source: "P0".into(),
                    target: "T0".into(),
                    weight: 1,
                },
                Arc {
                    id: "A1".into(),
                    source: "T0".into(),
                    target: "P1".into(),
                    weight: 1,
                },
            ],
            agents: vec![Agent {
                id: "researcher".into(),
                role: "r".into(),
                goal: "g".into(),
                backstory: "b".into(),
                tools: vec!["search".to_owned()].into(),
            }],
        }
    }

    #[test]
    fn a_net_reads_back_as_it_was_written() {
        let net = full_net();
        assert_eq!(PetriNet::from_json(&net.to_json()).unwrap(), net);
        assert_eq!(net.task_place("research").unwrap().id, "P0");
        assert_eq!(net.initial_marking().count(), 1);
    }

    /// The schema and the types describe one format: every field the types write is in the
    /// schema, every field the schema requires is written, and a written net validates.
    #[test]
    fn the_schema_describes_the_types() {
        let schema: Value =
            serde_json::from_str(include_str!("../schema/petri-net.schema.json")).unwrap();
        let written = serde_json::to_value(full_net()).unwrap();
        let validator = jsonschema::validator_for(&schema).unwrap();
        assert!(validator.is_valid(&written));
        let resolve = |node: &Value| -> Value {
            match node.get("$ref").and_then(Value::as_str) {
                Some(reference) => {
                    let pointer = reference.trim_start_matches('#');
                    schema.pointer(pointer).cloned().unwrap()
                }
                None => node.clone(),
            }
        };
        let mut pairs = vec![(resolve(&schema), written.clone(), "net".to_owned())];
        for (key, what) in [
            ("lugares", "place"),
            ("transicoes", "transition"),
            ("arcos", "arc"),
            ("agentes", "agent"),
        ] {
            let items = resolve(&schema["properties"][key]["items"]);
            pairs.push((items, written[key][0].clone(), what.to_owned()));
        }
        pairs.push((
            resolve(
                &resolve(&schema["properties"]["lugares"]["items"])["properties"]["coordenadas"],
            ),
            written["lugares"][0]["coordenadas"].clone(),
            "position".to_owned(),
        ));
        for (node, instance, what) in pairs {
            let properties = node["properties"]
                .as_object()
                .unwrap_or_else(|| panic!("{what}: {node}"));
            for field in instance.as_object().unwrap().keys() {
                assert!(
                    properties.contains_key(field),
                    "{what}: the schema lacks `{field}`"
                );
            }
            for required in node["required"].as_array().into_iter().flatten() {
                let required = required.as_str().unwrap();
                assert!(
                    instance.get(required).is_some(),
                    "{what}: the types do not write `{required}`"
                );
            }
        }
    }
}
