//! Generated code names the runtime through a configurable path (prost's `prost_path`), so a
//! crate that re-exports tasknet can use the macro without depending on `tasknet` by name.
#![deny(warnings, missing_docs)]

/// A re-export, as a framework built on tasknet would have.
pub mod framework {
    pub use tasknet as engine;
}

/// The registry, generated through the re-export, with every public item documented.
pub mod pipeline {
    tasknet::task_registry!(
        file = "examples/minimal/tasks.yaml",
        crate = crate::framework::engine
    );
}

#[test]
fn registry_through_a_reexported_path() {
    let r = &pipeline::TASK_REGISTRY;
    assert_eq!(r.order.len(), 2);
    assert_eq!(r.task("write").unwrap().requires, ["topic", "facts"]);
}
