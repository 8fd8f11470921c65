//! The generated Rust of a random DAG compiles: codegen's property test checks that it parses
//! for 64 random DAGs; this one, a 60-task sample from the same generator
//! (`codegen/tests/random_dags.rs` keeps the file equal to it), is built by rustc.

use tasknet::TaskState;

mod dag {
    tasknet::task_registry!(file = "tests/random_dag/tasks.yaml");
}

#[test]
fn a_random_dag_compiles_and_its_registry_is_ordered() {
    let registry = &dag::TASK_REGISTRY;
    assert_eq!(registry.tasks.len(), 60);
    let position = |i: usize| registry.order.iter().position(|&t| t == i).unwrap();
    for (i, task) in registry.tasks.iter().enumerate() {
        for &d in task.depends_on {
            assert!(
                position(d) < position(i),
                "{} before {}",
                registry.tasks[d].name,
                task.name
            );
        }
    }
    // The state has the kickoff input and one field per task.
    assert_eq!(<dag::State as TaskState>::FIELDS.len(), 61);
}
