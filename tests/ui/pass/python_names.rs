// Task and field names that are Python identifiers compile to lint-free ASCII Rust names; the
// yaml's names stay the registry's, the state's JSON keys and the log's.
#![deny(warnings)]

tasknet::task_registry!("./python_names.yaml");

struct Team;

impl Tasks for Team {
    async fn gerar_relatorio(
        &self,
        _ctx: &tasknet::TaskContext,
        input: GerarRelatorioInput,
    ) -> Result<GerarRelatorioOutput, tasknet::TaskError> {
        Ok(GerarRelatorioOutput {
            gerar_relatorio_output: format!("relatório: {}", input.tema),
        })
    }

    async fn revisar_texto(
        &self,
        _ctx: &tasknet::TaskContext,
        input: RevisarTextoInput,
    ) -> Result<RevisarTextoOutput, tasknet::TaskError> {
        Ok(RevisarTextoOutput {
            revisar_texto_output: format!("revisado: {}", input.gerar_relatorio_output),
        })
    }

    async fn t_1_10(
        &self,
        _ctx: &tasknet::TaskContext,
        _input: T1_10Input,
    ) -> Result<T1_10Output, tasknet::TaskError> {
        Ok(T1_10Output { t_1_10_output: "x".into() })
    }

    async fn t_11_0(
        &self,
        _ctx: &tasknet::TaskContext,
        _input: T11_0Input,
    ) -> Result<T11_0Output, tasknet::TaskError> {
        Ok(T11_0Output { t_11_0_output: "y".into() })
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let names: Vec<&str> = TASK_REGISTRY.tasks.iter().map(|t| t.name).collect();
    assert_eq!(names, ["gerar_relatório", "RevisarTexto", "t_1_10", "t_11_0"]);
    let state = State {
        tema: Some("vendas".into()),
        ..State::default()
    };
    let runner = tasknet::Runner::new(Crew(Team)).progress(false);
    let run = runner.run(state).await.unwrap();
    let json = serde_json::to_value(&run.state).unwrap();
    assert_eq!(json["gerar_relatório_output"], "relatório: vendas");
    assert_eq!(json["RevisarTexto_output"], "revisado: relatório: vendas");
    let logged: Vec<&str> = run.state.execution_log.iter().map(|e| &*e.task).collect();
    assert_eq!(logged, names);
    let rows = runner.log().tasks(&run.id).unwrap();
    let stored: Vec<&str> = rows.iter().map(|r| &*r.task_name).collect();
    assert_eq!(stored, names);
    assert_eq!(rows[0].output.as_str(), r#"{"gerar_relatório_output":"relatório: vendas"}"#);
}
