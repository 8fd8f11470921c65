//! The log's tables in PostgreSQL, their version, and the migration that brings a database to
//! this version when the log is opened.

use tokio_postgres::{Client, GenericClient};

/// The schema version this code writes (`tasknet_schema.version`).
// Version 1: runs and task_outputs as in SQLite (text columns, so that a record reads back as
// written), and the work queue: task_queue (a run's tasks, their leases) and queued_runs (how
// many of a run's tasks are left).
pub(crate) const SCHEMA_VERSION: i32 = 1;

/// What takes a log of each older version to this one, in order (none yet).
const MIGRATIONS: [(i32, &str); 0] = [];

/// Any constant: the advisory lock that lets one process at a time create or migrate.
const MIGRATION_LOCK: i64 = 0x7461_736b_6e65_7401;

const SCHEMA: &str = "
CREATE TABLE tasknet_schema (version integer NOT NULL);
CREATE TABLE runs (
    seq          bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    id           text PRIMARY KEY,
    registry     text NOT NULL,
    source_hash  text NOT NULL,
    started_at   text NOT NULL,
    finished_at  text,
    status       text NOT NULL,
    inputs       text NOT NULL,
    parent_run   text REFERENCES runs(id) ON DELETE SET NULL,
    replay_task  text,
    replay_mode  text,
    error        text
);
CREATE INDEX runs_started_at ON runs (started_at, id);
CREATE TABLE task_outputs (
    run_id          text NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    task_index      bigint NOT NULL,
    task_name       text NOT NULL,
    expected_output text NOT NULL,
    inputs          text NOT NULL,
    output          text NOT NULL,
    status          text NOT NULL,
    error_kind      text,
    error           text,
    was_replayed    boolean NOT NULL,
    started_at      text NOT NULL,
    finished_at     text NOT NULL,
    duration_ms     double precision NOT NULL,
    attempts        bigint NOT NULL,
    llm             text,
    PRIMARY KEY (run_id, task_name)
);
CREATE TABLE queued_runs (
    run_id       text PRIMARY KEY REFERENCES runs(id) ON DELETE CASCADE,
    registry     text NOT NULL,
    remaining    integer NOT NULL,
    submitted_at timestamptz NOT NULL DEFAULT now(),
    -- Someone waits for the run (`wait_for_run`): its finish is notified.
    notify_finished boolean NOT NULL DEFAULT false
);
CREATE TABLE task_queue (
    run_id      text NOT NULL REFERENCES queued_runs(run_id) ON DELETE CASCADE,
    task_index  integer NOT NULL,
    task_name   text NOT NULL,
    registry    text NOT NULL,
    state       text NOT NULL CHECK (state IN ('waiting', 'ready', 'claimed', 'done', 'failed', 'cancelled')),
    waiting_for integer NOT NULL,
    dependents  integer[] NOT NULL,
    attempts    integer NOT NULL DEFAULT 0,
    worker      text,
    lease_until timestamptz,
    ready_at    timestamptz,
    -- A server waits for this task's record (a browser run handed to the workers).
    notify_done boolean NOT NULL DEFAULT false,
    PRIMARY KEY (run_id, task_index)
);
CREATE INDEX task_queue_ready ON task_queue (registry, ready_at) WHERE state = 'ready';
CREATE INDEX task_queue_leases ON task_queue (registry, lease_until) WHERE state = 'claimed';
-- A claimed task's completion, in one statement (one round trip, one commit): see
-- queue.rs, `PostgresStorage::complete`.
CREATE FUNCTION tasknet_complete(
    p_run text, p_index integer, p_worker text, p_attempt integer,
    p_task_name text, p_expected text, p_inputs text, p_output text, p_status text,
    p_error_kind text, p_error text, p_was_replayed boolean, p_started text, p_finished text,
    p_duration double precision, p_attempts bigint, p_llm text,
    p_run_finished_at text, p_run_error text
) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    succeeded boolean := p_status = 'succeeded';
    v_dependents integer[];
    v_registry text;
    v_notify boolean;
    v_readied integer;
    v_remaining integer;
    v_finished boolean := false;
    v_wanted boolean := false;
BEGIN
    UPDATE task_queue SET state = CASE WHEN succeeded THEN 'done' ELSE 'failed' END, lease_until = NULL
    WHERE run_id = p_run AND task_index = p_index AND state = 'claimed'
      AND worker = p_worker AND attempts = p_attempt
    RETURNING dependents, registry, notify_done INTO v_dependents, v_registry, v_notify;
    IF NOT FOUND THEN
        -- An earlier try of this call committed before its answer was lost: stored.
        IF EXISTS (SELECT 1 FROM task_queue WHERE run_id = p_run AND task_index = p_index
                   AND state IN ('done', 'failed') AND worker = p_worker AND attempts = p_attempt) THEN
            RETURN 'stored';
        END IF;
        RETURN 'lease_lost';
    END IF;
    INSERT INTO task_outputs (run_id, task_index, task_name, expected_output, inputs, output,
        status, error_kind, error, was_replayed, started_at, finished_at, duration_ms, attempts, llm)
    VALUES (p_run, p_index, p_task_name, p_expected, p_inputs, p_output, p_status, p_error_kind,
        p_error, p_was_replayed, p_started, p_finished, p_duration, p_attempts, p_llm)
    ON CONFLICT (run_id, task_name) DO UPDATE SET task_index = excluded.task_index,
        expected_output = excluded.expected_output, inputs = excluded.inputs,
        output = excluded.output, status = excluded.status, error_kind = excluded.error_kind,
        error = excluded.error, was_replayed = excluded.was_replayed,
        started_at = excluded.started_at, finished_at = excluded.finished_at,
        duration_ms = excluded.duration_ms, attempts = excluded.attempts, llm = excluded.llm;
    IF v_notify THEN
        PERFORM pg_notify('tasknet_task_done', p_run);
    END IF;
    IF succeeded THEN
        -- Under each dependant's row lock: two branches of a join ending at once both count.
        WITH counted AS (
            UPDATE task_queue SET waiting_for = waiting_for - 1,
                state = CASE WHEN waiting_for = 1 THEN 'ready' ELSE state END,
                ready_at = CASE WHEN waiting_for = 1 THEN clock_timestamp() ELSE ready_at END
            WHERE run_id = p_run AND task_index = ANY(v_dependents) AND state = 'waiting'
            RETURNING state)
        SELECT count(*) FILTER (WHERE state = 'ready') INTO v_readied FROM counted;
        IF v_readied > 0 THEN
            PERFORM pg_notify('tasknet_ready', v_registry);
        END IF;
        UPDATE queued_runs SET remaining = remaining - 1 WHERE run_id = p_run
        RETURNING remaining, notify_finished INTO v_remaining, v_wanted;
        IF v_remaining = 0 THEN
            UPDATE runs SET status = 'succeeded', finished_at = p_run_finished_at
            WHERE id = p_run AND status = 'running';
            v_finished := FOUND;
        END IF;
    ELSE
        UPDATE task_queue SET state = 'cancelled'
        WHERE run_id = p_run AND state IN ('waiting', 'ready');
        UPDATE runs SET status = 'failed', finished_at = p_run_finished_at, error = p_run_error
        WHERE id = p_run AND status = 'running';
        v_finished := FOUND;
        SELECT notify_finished INTO v_wanted FROM queued_runs WHERE run_id = p_run;
    END IF;
    IF v_finished AND v_wanted THEN
        PERFORM pg_notify('tasknet_finished', p_run);
    END IF;
    RETURN CASE WHEN v_finished THEN 'stored_finished' ELSE 'stored' END;
END
$$;
";

/// What opening found.
#[derive(Debug)]
pub(crate) enum Found {
    /// No log in this database.
    Nothing,
    /// A log of this version.
    Version(i32),
}

/// The log's version, without writing anything.
pub(crate) async fn found(client: &impl GenericClient) -> Result<Found, tokio_postgres::Error> {
    let exists: bool = client
        .query_one("SELECT to_regclass('tasknet_schema') IS NOT NULL", &[])
        .await?
        .get(0);
    if !exists {
        return Ok(Found::Nothing);
    }
    let version = client
        .query_opt("SELECT max(version) FROM tasknet_schema", &[])
        .await?
        .and_then(|row| row.get::<_, Option<i32>>(0))
        .unwrap_or(0);
    Ok(Found::Version(version))
}

/// The message for a log newer than this code.
pub(crate) fn too_new(version: i32) -> String {
    format!(
        "the log's schema is version {version}, newer than this tasknet knows ({SCHEMA_VERSION}): it was written by a newer tasknet; use that one (nothing was changed)"
    )
}

/// Creates the schema of a new log, or brings an older one to this version, in one
/// transaction under an advisory lock: processes opening the log at once take turns, and the
/// version is read again under the lock.
pub(crate) async fn migrate(
    client: &mut Client,
) -> Result<Result<(), String>, tokio_postgres::Error> {
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await?;
    let version = match found(&tx).await? {
        Found::Nothing => {
            tx.batch_execute(SCHEMA).await?;
            tx.execute(
                "INSERT INTO tasknet_schema (version) VALUES ($1)",
                &[&SCHEMA_VERSION],
            )
            .await?;
            SCHEMA_VERSION
        }
        Found::Version(version) => version,
    };
    if version > SCHEMA_VERSION {
        return Ok(Err(too_new(version)));
    }
    if version < SCHEMA_VERSION {
        for (from, sql) in MIGRATIONS {
            if version <= from {
                tx.batch_execute(sql).await?;
            }
        }
        tx.execute("UPDATE tasknet_schema SET version = $1", &[&SCHEMA_VERSION])
            .await?;
    }
    tx.commit().await?;
    Ok(Ok(()))
}
