use tasknet_codegen::{GenerationSettings, SourceFile, check, emit, synthetic};
fn main() {
    let checked = check(
        SourceFile::new("t.yaml", synthetic::tasks_yaml(2000)),
        None,
        None,
    )
    .unwrap();
    for _ in 0..5 {
        let t = emit::rust::items(&checked.model, &GenerationSettings::default());
        std::hint::black_box(t);
    }
}
