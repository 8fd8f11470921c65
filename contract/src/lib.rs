//! What tasknet's generator (`tasknet-codegen`) and its runtime (`tasknet-runtime`) must agree
//! on, defined once: both depend on this crate, neither on the other (docs/design.md).
//!
//! - [`metadata`]: the run metadata fields every state carries;
//! - [`placeholder`]: the `{placeholder}` grammar, scanning (the generator checks each name)
//!   and rendering (the runtime fills them for a task's context);
//! - [`petri`]: the Petri net's JSON, the seed's format (written by the generator, read by the
//!   runtime and the browser), described for other tools by `contract/schema/petri-net.schema.json`;
//! - [`protocol`]: the task server's WebSocket messages, typed.

#![deny(missing_docs, unreachable_pub)]

pub mod metadata;
pub mod petri;
pub mod placeholder;
pub mod protocol;
