//! Gives a user's binary the subcommands `run`, `replay` and `log` without CLI code.
//!
//! ```ignore
//! fn main() -> std::process::ExitCode {
//!     tasknet::App::new("tropical_sales", Crew(SalesTeam))
//!         .db("tropical_sales.db")
//!         .inputs(|| Ok(State { inbox_dir: Some("inbox".into()), ..State::default() }))
//!         .main()
//! }
//! ```
//!
//! `my_bin` (or `my_bin run`) runs the registry; `my_bin replay --run ID --from TASK` (or
//! `--only TASK`) replays; `my_bin log [--run ID]` prints the execution log.

use std::error::Error;
use std::ffi::OsString;
use std::io::Write as _;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[cfg(feature = "postgres")]
mod queue;

use crate::executor::{Replay, Run, RunError, Runner};
use crate::report::{print_run, print_runs};
use crate::storage::{LogLocation, Storage};
use crate::{TaskSet, TaskState};

type BoxError = Box<dyn Error + Send + Sync>;
type InputsFn<S> = Box<dyn Fn() -> Result<S, BoxError>>;
type AfterRunFn<S> = Box<dyn Fn(&Run<S>, &dyn Storage) -> Result<(), BoxError>>;
type ConfigureFn<T> = Box<dyn Fn(Runner<T>) -> Runner<T>>;

#[derive(Parser)]
struct Cli {
    /// The execution log: a path (an SQLite file), `sqlite:PATH`, `postgres://user@host/db`
    /// or `memory:` (default: TASKNET_LOG, else the binary's own file).
    #[arg(
        long,
        visible_alias = "log",
        global = true,
        env = "TASKNET_LOG",
        hide_env_values = true
    )]
    db: Option<String>,
    /// No progress lines.
    #[arg(long, global = true)]
    quiet: bool,
    /// Set a kickoff input of `run`: FIELD=VALUE (VALUE is JSON, or else a string).
    #[arg(long = "set", value_name = "FIELD=VALUE", global = true)]
    set: Vec<String>,
    /// The OpenAI-compatible server the agents answer through, up to `/v1`
    /// (default: OPENAI_BASE_URL, else OpenAI's API when a model is named).
    #[arg(long, value_name = "URL", global = true)]
    llm: Option<String>,
    /// The agents' model (`gpt-4o-mini`, or CrewAI's `ollama/llama3.2`; default:
    /// TASKNET_LLM_MODEL). The key comes from OPENAI_API_KEY.
    #[arg(long, value_name = "NAME", global = true)]
    model: Option<String>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run every task (the default).
    Run,
    /// Replay a logged run from a task (re-running it and every task after it), or one task.
    Replay {
        /// The run to replay.
        #[arg(long)]
        run: String,
        /// Re-run this task and every task after it.
        #[arg(long, conflicts_with = "only", required_unless_present = "only")]
        from: Option<String>,
        /// Re-run this task alone.
        #[arg(long)]
        only: Option<String>,
        /// Replay even if the run was made from another version of the yaml.
        #[arg(long)]
        force: bool,
    },
    /// Print the runs, or one run's task records.
    Log {
        /// The run to show.
        #[arg(long)]
        run: Option<String>,
    },
    /// Take this crew's ready tasks from the shared log (PostgreSQL) and run them, until
    /// Ctrl-C or SIGTERM; running tasks finish (or are handed back) before it exits.
    #[cfg(feature = "postgres")]
    Worker {
        /// Tasks run at once.
        #[arg(long, default_value_t = 4)]
        concurrency: usize,
        /// Seconds a claimed task stays this worker's without renewal: a worker that dies
        /// loses its tasks to the others this long after its last renewal.
        #[arg(long, value_name = "SECONDS", default_value_t = 10.0)]
        lease: f64,
        /// Seconds the running tasks may take to finish once a stop is asked for; the others
        /// are handed back.
        #[arg(long, value_name = "SECONDS", default_value_t = 30.0)]
        drain: f64,
        /// The worker's name in the queue and in messages (default: host, process id and a
        /// random part).
        #[arg(long)]
        name: Option<String>,
    },
    /// Start a run in the shared log (PostgreSQL) for the workers; print its id.
    #[cfg(feature = "postgres")]
    Submit {
        /// Wait until the run finishes; fail if it failed.
        #[arg(long)]
        wait: bool,
    },
    /// Serve the tasks over WebSocket, with the runner page, until Ctrl-C.
    #[cfg(feature = "server")]
    Serve {
        /// The port (on 127.0.0.1 unless --host says otherwise).
        #[arg(long, default_value_t = 6308)]
        port: u16,
        /// The address to listen on.
        #[arg(long, default_value = "127.0.0.1")]
        host: std::net::IpAddr,
        /// Require this token from clients: every HTTP route but /healthz (`Authorization:
        /// Bearer` or `?token=`), and the WebSocket (`?token=` or a first `auth` message).
        #[arg(long)]
        token: Option<String>,
        /// Also allow WebSockets from this origin (local origins always are), e.g.
        /// https://app.example; repeatable.
        #[arg(long = "allow-origin")]
        allow_origins: Vec<String>,
        /// Tasks running at once; more get a `busy` error.
        #[arg(long, default_value_t = 64)]
        max_tasks: usize,
        /// Serve a non-loopback --host without a token (refused otherwise; warned on every
        /// start).
        #[arg(long)]
        allow_remote_without_token: bool,
        /// Retention: keep the newest N finished runs in the log (checked every minute).
        #[arg(long, value_name = "N")]
        keep_runs: Option<usize>,
        /// Hand the browser runs' tasks to the workers of the shared log (PostgreSQL)
        /// instead of running them in this process.
        #[cfg(feature = "postgres")]
        #[arg(long)]
        hand_to_workers: bool,
    },
}

/// A binary's command line around a registry; see the module docs.
pub struct App<T: TaskSet> {
    name: String,
    tasks: T,
    /// The default log: a path or URL (see `storage::LogLocation`).
    db: std::ffi::OsString,
    inputs: InputsFn<T::State>,
    after_run: Option<AfterRunFn<T::State>>,
    configure: Option<ConfigureFn<T>>,
}

impl<T: TaskSet> App<T> {
    /// `name` is the binary's name in help texts; the log defaults to `<name>.db`.
    pub fn new(name: impl Into<String>, tasks: T) -> Self {
        let name = name.into();
        App {
            db: format!("{name}.db").into(),
            name,
            tasks,
            inputs: Box::new(|| Ok(T::State::default())),
            after_run: None,
            configure: None,
        }
    }

    /// The default log: a path (an SQLite file), `sqlite:PATH` or `memory:` (`--db`
    /// overrides it).
    pub fn db(mut self, path_or_url: impl AsRef<std::ffi::OsStr>) -> Self {
        self.db = path_or_url.as_ref().to_owned();
        self
    }

    /// The kickoff inputs of `run` (`--set FIELD=VALUE` overrides them).
    pub fn inputs(mut self, inputs: impl Fn() -> Result<T::State, BoxError> + 'static) -> Self {
        self.inputs = Box::new(inputs);
        self
    }

    /// Called after a successful run or replay (write a report, say where things went).
    pub fn after_run(
        mut self,
        hook: impl Fn(&Run<T::State>, &dyn Storage) -> Result<(), BoxError> + 'static,
    ) -> Self {
        self.after_run = Some(Box::new(hook));
        self
    }

    /// Adjusts the runner (timeouts, retries) before it runs.
    pub fn configure(mut self, configure: impl Fn(Runner<T>) -> Runner<T> + 'static) -> Self {
        self.configure = Some(Box::new(configure));
        self
    }

    /// Parses the process's arguments and runs the command; the exit code says how it went.
    pub fn main(self) -> ExitCode {
        self.main_from(std::env::args_os())
    }

    /// Like [`App::main`], with the given arguments (the first is the binary's name).
    pub fn main_from<I, A>(self, args: I) -> ExitCode
    where
        I: IntoIterator<Item = A>,
        A: Into<OsString> + Clone,
    {
        let cli = match Cli::try_parse_from(args) {
            Ok(cli) => cli,
            Err(e) => {
                let _ = e.print();
                return if e.use_stderr() {
                    ExitCode::from(2)
                } else {
                    ExitCode::SUCCESS
                };
            }
        };
        let name = self.name.clone();
        match self.dispatch(cli) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("{name}: error: {e}");
                ExitCode::FAILURE
            }
        }
    }

    fn dispatch(self, cli: Cli) -> Result<(), BoxError> {
        let db = match (cli.db.as_deref(), self.db.to_str()) {
            (Some(url), _) | (None, Some(url)) => LogLocation::parse(url)?,
            // A path that is not UTF-8 cannot be a URL.
            (None, None) => LogLocation::Sqlite(self.db.clone().into()),
        };
        let quiet = cli.quiet;
        let set = cli.set;
        let llm = LlmChoice {
            url: cli.llm,
            model: cli.model,
        };
        let command = cli.command.unwrap_or(Command::Run);
        // Reading never writes: `log` opens the log read-only, and a missing or foreign file
        // is refused, not made a log; the other commands open (or create) it to write.
        match command {
            Command::Log { run } => self.print_log(&db, run.as_deref()),
            #[cfg(feature = "postgres")]
            Command::Worker {
                concurrency,
                lease,
                drain,
                name,
            } => {
                let args = queue::WorkerArgs {
                    concurrency,
                    lease,
                    drain,
                    name,
                };
                self.work(&db, &llm, args)
            }
            #[cfg(feature = "postgres")]
            Command::Submit { wait } => {
                let state = self.kickoff_state(&set)?;
                self.submit(&db, &llm, state, wait)
            }
            Command::Run => {
                let state = self.kickoff_state(&set)?;
                self.execute(db.open()?, &db, quiet, &llm, move |runner| {
                    Box::pin(async move { runner.run(state).await })
                })
            }
            #[cfg(feature = "server")]
            Command::Serve {
                port,
                host,
                token,
                allow_origins,
                max_tasks,
                allow_remote_without_token,
                keep_runs,
                #[cfg(feature = "postgres")]
                hand_to_workers,
            } => {
                let initial = (self.inputs)()?;
                let runner = Runner::new(self.tasks).progress(false);
                #[cfg(feature = "postgres")]
                let runner = if hand_to_workers {
                    runner.hand_to_workers(queue::queue_of(&db, "serve --hand-to-workers")?)
                } else {
                    runner.shared_storage(db.open()?)
                };
                #[cfg(not(feature = "postgres"))]
                let runner = runner.shared_storage(db.open()?);
                let mut runner = llm.apply(runner, false)?;
                if let Some(configure) = &self.configure {
                    runner = configure(runner);
                }
                let config = crate::server::ServerConfig {
                    addr: std::net::SocketAddr::new(host, port),
                    token,
                    extra_origins: allow_origins,
                    max_concurrent_tasks: max_tasks,
                    allow_remote_without_token,
                    keep_runs,
                    ..Default::default()
                }
                // The kickoff inputs (folders, databases) are the server's: no client sets them.
                .server_inputs_from(&initial);
                let rt = tokio::runtime::Builder::new_multi_thread()
                    .enable_all()
                    .build()?;
                rt.block_on(async {
                    let server = crate::server::Server::bind(runner, config).await?;
                    eprintln!(
                        "{}: serving on http://{} (log: {db}); Ctrl-C stops",
                        self.name,
                        server.local_addr(),
                    );
                    server
                        .run_until(async {
                            let _ = tokio::signal::ctrl_c().await;
                        })
                        .await
                })?;
                Ok(())
            }
            Command::Replay {
                run,
                from,
                only,
                force,
            } => {
                let mut replay = match (from, only) {
                    (Some(task), _) => Replay::from(run, task),
                    (None, Some(task)) => Replay::only(run, task),
                    (None, None) => unreachable!("clap requires --from or --only"),
                };
                replay.force = force;
                self.execute(db.open()?, &db, quiet, &llm, move |runner| {
                    Box::pin(async move { runner.replay(&replay).await })
                })
            }
        }
    }

    /// The kickoff inputs: the app's, with `--set FIELD=VALUE` over them.
    fn kickoff_state(&self, set: &[String]) -> Result<T::State, BoxError> {
        let mut state = (self.inputs)()?;
        for assignment in set {
            let (field, value) = assignment
                .split_once('=')
                .ok_or_else(|| format!("`--set {assignment}`: expected FIELD=VALUE"))?;
            let value = serde_json::from_str(value)
                .unwrap_or_else(|_| serde_json::Value::String(value.to_owned()));
            state
                .set_json(field, value)
                .map_err(|e| format!("`--set {assignment}`: {e}"))?;
        }
        Ok(state)
    }

    /// `log [--run ID]`: the runs, or one run's records; rows that cannot be read are named,
    /// and make it fail once the rest is printed.
    fn print_log(&self, db: &LogLocation, run: Option<&str>) -> Result<(), BoxError> {
        let storage = db.open_read_only()?;
        let mut out = std::io::stdout().lock();
        let summary = match run {
            None => print_runs(storage.as_ref(), &mut out)?,
            Some(id) => {
                let record = storage.run(id)?.ok_or_else(|| {
                    format!("there is no run `{}` in {db}", crate::report::printable(id))
                })?;
                print_run(storage.as_ref(), &record, &mut out)?
            }
        };
        out.flush()?;
        for row in &summary.unreadable {
            eprintln!("{}: error: {row}", self.name);
        }
        if !summary.unreadable.is_empty() {
            return Err(
                format!("{} stored rows could not be read", summary.unreadable.len()).into(),
            );
        }
        Ok(())
    }

    fn execute(
        self,
        storage: std::sync::Arc<dyn Storage>,
        db: &LogLocation,
        quiet: bool,
        llm: &LlmChoice,
        go: impl for<'r> FnOnce(
            &'r Runner<T>,
        ) -> std::pin::Pin<
            Box<dyn std::future::Future<Output = Result<Run<T::State>, RunError>> + 'r>,
        >,
    ) -> Result<(), BoxError> {
        let mut runner = llm.apply(
            Runner::new(self.tasks)
                .shared_storage(storage)
                .progress(!quiet),
            true,
        )?;
        if let Some(configure) = &self.configure {
            runner = configure(runner);
        }
        // The LLM client needs the I/O driver; a crew without one only timers.
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let result = rt.block_on(go(&runner));
        match result {
            Ok(run) => {
                eprintln!(
                    "run {} finished: {} task{} in {:.2?}; log: {db}",
                    run.id,
                    run.tasks_run,
                    if run.tasks_run == 1 { "" } else { "s" },
                    run.duration,
                );
                if let Some(hook) = &self.after_run {
                    hook(&run, runner.log().as_ref())?;
                }
                Ok(())
            }
            Err(e) => {
                if let RunError::TasksFailed { run_id, .. } = &e {
                    eprintln!(
                        "the log has every task's record: `{} log --run {run_id}`; fix and replay with `{} replay --run {run_id} --from TASK`",
                        self.name, self.name
                    );
                }
                Err(e.into())
            }
        }
    }
}

/// `--llm` and `--model`, or the environment: the LLM the agents answer through, if any (and
/// the terminal, when there is one, for `human_input` tasks).
struct LlmChoice {
    url: Option<String>,
    model: Option<String>,
}

impl LlmChoice {
    /// Gives `runner` the LLM chosen, or leaves it without one.
    #[cfg(feature = "llm")]
    fn apply<T: TaskSet>(
        &self,
        runner: Runner<T>,
        review_on_terminal: bool,
    ) -> Result<Runner<T>, BoxError> {
        use crate::llm::{LlmClient, LlmConfig, MODEL_ENV};
        let config = if self.url.is_none() && self.model.is_none() {
            LlmConfig::from_env()
        } else {
            let model = self
                .model
                .clone()
                .or_else(|| {
                    std::env::var(MODEL_ENV)
                        .ok()
                        .filter(|m| !m.trim().is_empty())
                })
                .ok_or_else(|| {
                    format!("`--llm` needs a model: `--model NAME`, or set {MODEL_ENV}")
                })?;
            let url = self
                .url
                .clone()
                .or_else(|| std::env::var("OPENAI_BASE_URL").ok());
            Some(LlmConfig::for_model(&model, url))
        };
        let runner = match config {
            Some(config) => runner.llm(std::sync::Arc::new(LlmClient::new(config)?)),
            None => runner,
        };
        // `human_input` tasks are reviewed on the terminal, when there is one, except in a
        // server, whose clients must not hold its terminal (or its tasks) waiting.
        Ok(match crate::llm::TerminalFeedback::if_interactive() {
            Some(terminal) if review_on_terminal => {
                runner.human_input(std::sync::Arc::new(terminal))
            }
            _ => runner,
        })
    }

    #[cfg(not(feature = "llm"))]
    fn apply<T: TaskSet>(
        &self,
        runner: Runner<T>,
        _review_on_terminal: bool,
    ) -> Result<Runner<T>, BoxError> {
        if self.url.is_some() || self.model.is_some() {
            return Err("`--llm` and `--model` need tasknet's `llm` feature".into());
        }
        Ok(runner)
    }
}
