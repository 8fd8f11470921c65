//! Emitters: read a checked [`crate::model::Model`], never the yaml.

pub mod rust;
pub mod state;
