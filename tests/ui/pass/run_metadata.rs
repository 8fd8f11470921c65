// The run metadata never takes a user's name: the inputs `timestamp` and `current_task` keep
// theirs, and the state keeps the run's under `run_timestamp` and `run_current_task`.
#![deny(warnings)]

tasknet::task_registry!("./run_metadata.yaml");

struct Team;

impl Tasks for Team {
    async fn report(
        &self,
        _ctx: &tasknet::TaskContext,
        input: ReportInput,
    ) -> Result<ReportOutput, tasknet::TaskError> {
        Ok(ReportOutput {
            report_output: format!("{} as of {}", input.current_task, input.timestamp),
        })
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let inputs: Vec<&str> = TASK_REGISTRY.inputs.iter().map(|f| f.name).collect();
    assert_eq!(inputs, ["current_task", "timestamp"]);
    let state = State {
        current_task: Some("sales".into()),
        timestamp: Some("2026-12-01".into()),
        ..State::default()
    };
    let run = tasknet::Runner::new(Crew(Team)).progress(false).run(state).await.unwrap();
    assert_eq!(run.state.report_output.as_deref(), Some("sales as of 2026-12-01"));
    assert_eq!(run.state.timestamp.as_deref(), Some("2026-12-01"));
    assert_eq!(run.state.run_current_task.as_deref(), Some("report"));
    assert!(run.state.run_timestamp.is_some());
    let json = serde_json::to_value(&run.state).unwrap();
    assert_eq!(json["timestamp"], "2026-12-01");
    assert_eq!(json["run_current_task"], "report");
    assert_eq!(json["execution_log"][0]["task"], "report");
    let back: State = serde_json::from_value(json).unwrap();
    assert_eq!(back.current_task.as_deref(), Some("sales"));
    let keys = <State as tasknet::TaskState>::RUN_METADATA;
    assert_eq!(keys.all(), ["execution_log", "run_current_task", "run_timestamp"]);
}
