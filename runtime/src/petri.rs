//! The Petri net of a registry as a typed value: the seed's JSON format (`nome`, `lugares`,
//! `transicoes`, `arcos`, `agentes`) with English field names. The generated code carries the
//! net as `PETRI_NET_JSON` and as `PETRI_NET` (this type, parsed on first use); the server
//! serves it to the browser. The types are the generator's own (`tasknet-contract`), read into
//! owned values.

pub use tasknet_contract::petri::{Agent, Arc, Place, Position, Transition};

/// A whole net, as the runtime holds it.
pub type PetriNet = tasknet_contract::petri::PetriNet<'static>;
