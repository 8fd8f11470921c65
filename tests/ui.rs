//! Every compile-time diagnostic, as rustc shows it: a `.rs` beside its `.yaml`, and the
//! expected `.stderr` with the yaml's `file:line:col`. Regenerate with `TRYBUILD=overwrite`.
//! `tests/ui/pass/` holds what must compile under `#![deny(warnings)]` and run.

#[test]
fn diagnostics() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
    // What the compatibility rules accept compiles warning-free and behaves.
    t.pass("tests/ui/pass/*.rs");
}
