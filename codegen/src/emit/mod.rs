//! Emitters: read a checked [`crate::model::Model`], never the yaml.

pub mod graph;
pub mod petri;
pub mod rust;
pub mod state;
