//! Every compile-time diagnostic, as rustc shows it: a `.rs` beside its `.yaml`, and the
//! expected `.stderr` with the yaml's `file:line:col`. Regenerate with `TRYBUILD=overwrite`.

#[test]
fn diagnostics() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
}
