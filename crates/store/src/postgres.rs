//! The store in PostgreSQL: what `ferrotune server` uses when several controllers (or
//! replicas) share one database (`--db postgres://…`).
//!
//! Same behaviour as the SQLite store, with PostgreSQL doing the locking: every call is one
//! statement or one transaction that commits before the call returns, and trial names are
//! allocated by `UPDATE experiments SET next_seq = next_seq + n … RETURNING`, which holds the
//! experiment's row lock until the transaction commits, so handles in any number of
//! processes never hand out the same number (no in-process write mutex is needed).
//!
//! Types: ids, seeds (u64 bit-cast to i64, as in SQLite), pids and counters are BIGINT,
//! timestamps TIMESTAMPTZ (microseconds, like the SQLite store's RFC 3339 text), floats
//! DOUBLE PRECISION (which keeps NaN and infinities), flags BOOLEAN. JSON is kept as TEXT in
//! serde_json's encoding rather than JSONB, which would reorder object keys and re-encode
//! numbers; a value that does not decode is [`StoreError::Corrupt`], as in SQLite.
//!
//! The schema lives in the connection's `search_path`: [`PostgresStore::open`] honours the
//! URL's `options=-c search_path=…`, and [`PostgresStore::open_in_schema`] creates a schema
//! and uses it (tests use a fresh schema each).

use crate::sqlite::{decode_metrics, encode_metrics, not_found_experiment, now};
use crate::{
    ExperimentRecord, ExperimentStatus, KatibLogEntry, NewExperiment, Store, StoreError,
    TrialOutcome, TrialRecord,
};
use chrono::{DateTime, Utc};
use ferrotune_core::{Assignment, Labels, NewTrial, Observation, TrialStatus};
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions, PgRow};
use sqlx::{Connection, Postgres, Row, Transaction};
use std::str::FromStr;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations-postgres");

/// Connections in the pool of one handle.
const MAX_CONNECTIONS: u32 = 8;
/// Observation rows per INSERT statement, at most (they go in as arrays, one per column).
const MAX_ROWS_PER_INSERT: usize = 10_000;

/// The store in a PostgreSQL database. Cheap to share behind an `Arc`; call
/// [`PostgresStore::close`] before exiting (not closing loses nothing).
#[derive(Debug)]
pub struct PostgresStore {
    pool: PgPool,
}

impl PostgresStore {
    /// Connects to the database at `url` (`postgres://user@host:port/db`, with optional
    /// `?options=-c search_path=…`) and brings its schema up to date.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        let options = PgConnectOptions::from_str(url)?;
        Self::open_with(options).await
    }

    /// As [`open`](Self::open), with every table in `schema`, which is created if missing.
    /// The name must be a plain identifier (ASCII letters, digits and `_`, not starting with
    /// a digit).
    pub async fn open_in_schema(url: &str, schema: &str) -> Result<Self, StoreError> {
        let plain = !schema.is_empty()
            && !schema.starts_with(|c: char| c.is_ascii_digit())
            && schema
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !plain {
            return Err(StoreError::Database(sqlx::Error::Configuration(
                format!("schema name {schema:?} is not a plain identifier").into(),
            )));
        }
        let options = PgConnectOptions::from_str(url)?;
        let mut conn = PgConnection::connect_with(&options).await?;
        // The name was checked to be a plain identifier just above.
        let sql = format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\"");
        let created = sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
            .execute(&mut conn)
            .await;
        conn.close().await?;
        created?;
        Self::open_with(options.options([("search_path", format!("\"{schema}\""))])).await
    }

    async fn open_with(options: PgConnectOptions) -> Result<Self, StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .connect_with(options)
            .await?;
        // The migrator holds an advisory lock while it runs, so processes opening a new
        // database at once do not both apply the migrations.
        if let Err(e) = MIGRATOR.run(&pool).await {
            pool.close().await;
            return Err(e.into());
        }
        Ok(PostgresStore { pool })
    }

    /// Closes every connection, waiting for calls in progress. Later calls fail.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    async fn trial_exists(&self, trial_id: i64) -> Result<bool, StoreError> {
        let found: Option<i32> = sqlx::query_scalar("SELECT 1 FROM trials WHERE id = $1")
            .bind(trial_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(found.is_some())
    }
}

// ---------------------------------------------------------------------------------------
// Conversions between records and rows.

/// A column's value; a value of the wrong type is corrupt data, not a database failure.
fn col<'r, T>(row: &'r PgRow, name: &str) -> Result<T, StoreError>
where
    T: sqlx::Decode<'r, Postgres> + sqlx::Type<Postgres>,
{
    row.try_get(name)
        .map_err(|e| StoreError::Corrupt(format!("column {name}: {e}")))
}

/// Maps a foreign-key violation (the referenced row is missing) to `missing`.
fn fk_to(e: sqlx::Error, missing: StoreError) -> StoreError {
    match &e {
        sqlx::Error::Database(db) if db.is_foreign_key_violation() => missing,
        _ => StoreError::Database(e),
    }
}

macro_rules! experiment_columns {
    () => {
        "id, name, namespace, document, source_path, run_dir, seed, status, reason, message, \
         created_at, started_at, completed_at, owner_pid, stop_requested"
    };
}

macro_rules! trial_columns {
    () => {
        "id, experiment_id, name, seq, parameters, status, reason, message, attempt, objective, \
         metrics, created_at, start_time, completion_time, pgid, labels, failed_attempts"
    };
}

fn experiment_from_row(row: &PgRow) -> Result<ExperimentRecord, StoreError> {
    let name: String = col(row, "name")?;
    let what = |field: &str| format!("experiment {name:?} {field}");
    let document: String = col(row, "document")?;
    let document = serde_json::from_str(&document)
        .map_err(|e| StoreError::Corrupt(format!("{}: {e}", what("document"))))?;
    let status: String = col(row, "status")?;
    let status = status
        .parse::<ExperimentStatus>()
        .map_err(|e| StoreError::Corrupt(format!("{}: {e}", what("status"))))?;
    Ok(ExperimentRecord {
        id: col(row, "id")?,
        namespace: col(row, "namespace")?,
        document,
        source_path: col(row, "source_path")?,
        run_dir: col(row, "run_dir")?,
        seed: col::<i64>(row, "seed")? as u64,
        status,
        reason: col(row, "reason")?,
        message: col(row, "message")?,
        created_at: col(row, "created_at")?,
        started_at: col(row, "started_at")?,
        completed_at: col(row, "completed_at")?,
        owner_pid: col(row, "owner_pid")?,
        stop_requested: col(row, "stop_requested")?,
        name,
    })
}

fn trial_from_row(row: &PgRow) -> Result<TrialRecord, StoreError> {
    let name: String = col(row, "name")?;
    let what = |field: &str| format!("trial {name:?} {field}");
    let parameters: String = col(row, "parameters")?;
    let parameters: Assignment = serde_json::from_str(&parameters)
        .map_err(|e| StoreError::Corrupt(format!("{}: {e}", what("parameters"))))?;
    let status: String = col(row, "status")?;
    let status = status
        .parse::<TrialStatus>()
        .map_err(|e| StoreError::Corrupt(format!("{}: {e}", what("status"))))?;
    let metrics: String = col(row, "metrics")?;
    let metrics = decode_metrics(&metrics)
        .map_err(|e| StoreError::Corrupt(format!("{}: {e}", what("metrics"))))?;
    let labels: String = col(row, "labels")?;
    let labels: Labels = serde_json::from_str(&labels)
        .map_err(|e| StoreError::Corrupt(format!("{}: {e}", what("labels"))))?;
    Ok(TrialRecord {
        labels,
        id: col(row, "id")?,
        experiment_id: col(row, "experiment_id")?,
        seq: col(row, "seq")?,
        parameters,
        status,
        reason: col(row, "reason")?,
        message: col(row, "message")?,
        attempt: col(row, "attempt")?,
        failed_attempts: col(row, "failed_attempts")?,
        objective: col(row, "objective")?,
        metrics,
        created_at: col(row, "created_at")?,
        start_time: col(row, "start_time")?,
        completion_time: col(row, "completion_time")?,
        pgid: col(row, "pgid")?,
        name,
    })
}

fn observation_from_row(row: &PgRow) -> Result<(i64, Observation), StoreError> {
    let value: Option<f64> = col(row, "value")?;
    Ok((
        col(row, "attempt")?,
        Observation {
            metric: col(row, "metric")?,
            step: col(row, "step")?,
            timestamp: col(row, "timestamp")?,
            value: value.unwrap_or(f64::NAN),
        },
    ))
}

/// Inserts observations on a connection that is inside a transaction: each chunk is one
/// statement with one array per column, inserted in the batch's order (so `id` order is
/// insertion order).
async fn insert_observations(
    conn: &mut PgConnection,
    trial_id: i64,
    attempt: i64,
    observations: &[Observation],
) -> Result<(), StoreError> {
    for chunk in observations.chunks(MAX_ROWS_PER_INSERT) {
        let metrics: Vec<&str> = chunk.iter().map(|o| o.metric.as_str()).collect();
        let steps: Vec<i64> = chunk.iter().map(|o| o.step).collect();
        let times: Vec<DateTime<Utc>> = chunk.iter().map(|o| o.timestamp).collect();
        let values: Vec<f64> = chunk.iter().map(|o| o.value).collect();
        sqlx::query(
            "INSERT INTO observations (trial_id, attempt, metric, step, timestamp, value) \
             SELECT $1, $2, u.metric, u.step, u.ts, u.value \
             FROM UNNEST($3::text[], $4::bigint[], $5::timestamptz[], $6::float8[]) \
             WITH ORDINALITY AS u(metric, step, ts, value, ord) ORDER BY u.ord",
        )
        .bind(trial_id)
        .bind(attempt)
        .bind(metrics)
        .bind(steps)
        .bind(times)
        .bind(values)
        .execute(&mut *conn)
        .await
        .map_err(|e| fk_to(e, StoreError::TrialNotFound(trial_id)))?;
    }
    Ok(())
}

/// Commits `tx` if `result` is a success, else rolls it back before returning the error, so
/// that no connection goes back to the pool inside a transaction, holding its locks.
async fn end<T>(
    tx: Transaction<'static, Postgres>,
    result: Result<T, StoreError>,
) -> Result<T, StoreError> {
    match result {
        Ok(value) => {
            tx.commit().await?;
            Ok(value)
        }
        Err(e) => {
            // The error that matters is the first one; a connection that cannot roll back is
            // broken, and its transaction ends with it.
            let _ = tx.rollback().await;
            Err(e)
        }
    }
}

// ---------------------------------------------------------------------------------------

#[async_trait::async_trait]
impl Store for PostgresStore {
    async fn create_experiment(&self, new: NewExperiment) -> Result<ExperimentRecord, StoreError> {
        let created_at = now();
        let status = ExperimentStatus::Created;
        let document = crate::json_text(&new.document);
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO experiments \
             (name, namespace, document, source_path, run_dir, seed, status, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
        )
        .bind(&new.name)
        .bind(&new.namespace)
        .bind(document)
        .bind(&new.source_path)
        .bind(&new.run_dir)
        .bind(new.seed as i64)
        .bind(status.as_str())
        .bind(created_at)
        .fetch_one(&self.pool)
        .await
        .map_err(|e| crate::insert_error(e, &new))?;
        Ok(new.into_record(id, status, created_at))
    }

    async fn get_experiment(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<ExperimentRecord, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            experiment_columns!(),
            " FROM experiments WHERE namespace = $1 AND name = $2"
        ))
        .bind(namespace)
        .bind(name)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| crate::no_experiment(namespace, name))?;
        experiment_from_row(&row)
    }

    async fn experiments_named(&self, name: &str) -> Result<Vec<ExperimentRecord>, StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            experiment_columns!(),
            " FROM experiments WHERE name = $1 ORDER BY id"
        ))
        .bind(name)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(experiment_from_row).collect()
    }

    async fn list_experiments(&self) -> Result<Vec<ExperimentRecord>, StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            experiment_columns!(),
            " FROM experiments ORDER BY id"
        ))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(experiment_from_row).collect()
    }

    async fn update_document(
        &self,
        id: i64,
        document: &serde_json::Value,
    ) -> Result<(), StoreError> {
        let document = crate::json_text(document);
        let done = sqlx::query("UPDATE experiments SET document = $1 WHERE id = $2")
            .bind(document)
            .bind(id)
            .execute(&self.pool)
            .await?;
        crate::touched(done.rows_affected(), || not_found_experiment(id))
    }

    async fn set_experiment_status(
        &self,
        id: i64,
        status: ExperimentStatus,
        reason: &str,
        message: &str,
    ) -> Result<(), StoreError> {
        let now = now();
        // Running fills `started_at` once; a completed status stamps `completed_at`, any
        // other (Stopped, or Running again after a resume) clears it.
        let started = (status == ExperimentStatus::Running).then_some(now);
        let completed = status.is_completed().then_some(now);
        let done = sqlx::query(
            "UPDATE experiments SET status = $1, reason = $2, message = $3, \
             started_at = COALESCE(started_at, $4), completed_at = $5 WHERE id = $6",
        )
        .bind(status.as_str())
        .bind(reason)
        .bind(message)
        .bind(started)
        .bind(completed)
        .bind(id)
        .execute(&self.pool)
        .await?;
        crate::touched(done.rows_affected(), || not_found_experiment(id))
    }

    async fn claim_experiment(&self, id: i64, pid: i64) -> Result<(), StoreError> {
        let done = sqlx::query(
            "UPDATE experiments SET owner_pid = $1, stop_requested = FALSE WHERE id = $2",
        )
        .bind(pid)
        .bind(id)
        .execute(&self.pool)
        .await?;
        crate::touched(done.rows_affected(), || not_found_experiment(id))
    }

    async fn request_stop(&self, id: i64) -> Result<(), StoreError> {
        let done = sqlx::query("UPDATE experiments SET stop_requested = TRUE WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        crate::touched(done.rows_affected(), || not_found_experiment(id))
    }

    async fn delete_experiment(&self, id: i64) -> Result<(), StoreError> {
        // Trials, observations and algorithm state go with it (ON DELETE CASCADE).
        let done = sqlx::query("DELETE FROM experiments WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        crate::touched(done.rows_affected(), || not_found_experiment(id))
    }

    async fn stop_requested(&self, id: i64) -> Result<bool, StoreError> {
        let flag: Option<bool> =
            sqlx::query_scalar("SELECT stop_requested FROM experiments WHERE id = $1")
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
        flag.ok_or_else(|| not_found_experiment(id))
    }

    async fn create_labelled_trials(
        &self,
        experiment_id: i64,
        trials: Vec<NewTrial>,
    ) -> Result<Vec<TrialRecord>, StoreError> {
        if trials.is_empty() {
            return Ok(Vec::new());
        }
        let count = trials.len() as i64;
        let created_at = now();
        let status = TrialStatus::Created;
        let encoded: Vec<(String, String)> = trials
            .iter()
            .map(|t| (crate::json_text(&t.parameters), crate::json_text(&t.labels)))
            .collect();

        let mut tx = self.pool.begin().await?;
        let result = async {
            // The UPDATE takes the experiment's row lock and keeps it until commit: a concurrent
            // allocation waits, then sees the advanced counter.
            let row = sqlx::query(
                "UPDATE experiments SET next_seq = next_seq + $1 WHERE id = $2 \
                 RETURNING next_seq - $1 AS first_seq, name",
            )
            .bind(count)
            .bind(experiment_id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| not_found_experiment(experiment_id))?;
            let first_seq: i64 = col(&row, "first_seq")?;
            let experiment: String = col(&row, "name")?;

            let mut records = Vec::with_capacity(trials.len());
            let numbered = trials.into_iter().zip(encoded).enumerate();
            for (i, (trial, (encoded, labels_text))) in numbered {
                let NewTrial { parameters, labels } = trial;
                let seq = first_seq + i as i64;
                let name = crate::trial_name(&experiment, seq);
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO trials \
                     (experiment_id, name, seq, parameters, status, created_at, labels) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
                )
                .bind(experiment_id)
                .bind(&name)
                .bind(seq)
                .bind(encoded)
                .bind(status.as_str())
                .bind(created_at)
                .bind(labels_text)
                .fetch_one(&mut *tx)
                .await?;
                records.push(TrialRecord {
                    labels,
                    id,
                    experiment_id,
                    name,
                    seq,
                    parameters,
                    status,
                    reason: String::new(),
                    message: String::new(),
                    attempt: 0,
                    failed_attempts: 0,
                    objective: None,
                    metrics: Vec::new(),
                    created_at,
                    start_time: None,
                    completion_time: None,
                    pgid: None,
                });
            }
            Ok(records)
        }
        .await;
        end(tx, result).await
    }

    async fn list_trials(&self, experiment_id: i64) -> Result<Vec<TrialRecord>, StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            trial_columns!(),
            " FROM trials WHERE experiment_id = $1 ORDER BY seq"
        ))
        .bind(experiment_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(trial_from_row).collect()
    }

    async fn start_trial(
        &self,
        trial_id: i64,
        attempt: i64,
        pgid: Option<i64>,
        start_time: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        // A new attempt starts without the outcome of an earlier one.
        let done = sqlx::query(
            "UPDATE trials SET status = $1, attempt = $2, pgid = $3, start_time = $4, \
             reason = '', message = '', objective = NULL, metrics = '[]', \
             completion_time = NULL WHERE id = $5",
        )
        .bind(TrialStatus::Running.as_str())
        .bind(attempt)
        .bind(pgid)
        .bind(start_time)
        .bind(trial_id)
        .execute(&self.pool)
        .await?;
        crate::touched(done.rows_affected(), || StoreError::TrialNotFound(trial_id))
    }

    async fn append_observations(
        &self,
        trial_id: i64,
        attempt: i64,
        observations: &[Observation],
    ) -> Result<(), StoreError> {
        if observations.is_empty() {
            return Ok(());
        }
        let mut tx = self.pool.begin().await?;
        let result = insert_observations(&mut tx, trial_id, attempt, observations).await;
        end(tx, result).await
    }

    async fn finish_trial(
        &self,
        trial_id: i64,
        attempt: i64,
        last_observations: &[Observation],
        outcome: &TrialOutcome,
    ) -> Result<(), StoreError> {
        let metrics = encode_metrics(&outcome.metrics);
        let mut tx = self.pool.begin().await?;
        let result = async {
            let done = sqlx::query(
                "UPDATE trials SET status = $1, reason = $2, message = $3, objective = $4, \
                 metrics = $5, completion_time = $6, pgid = NULL WHERE id = $7",
            )
            .bind(outcome.status.as_str())
            .bind(&outcome.reason)
            .bind(&outcome.message)
            .bind(outcome.objective)
            .bind(metrics)
            .bind(outcome.completion_time)
            .bind(trial_id)
            .execute(&mut *tx)
            .await?;
            crate::touched(done.rows_affected(), || StoreError::TrialNotFound(trial_id))?;
            insert_observations(&mut tx, trial_id, attempt, last_observations).await
        }
        .await;
        end(tx, result).await
    }

    async fn requeue_trial(
        &self,
        trial_id: i64,
        reason: &str,
        failed: bool,
    ) -> Result<(), StoreError> {
        let done = sqlx::query(
            "UPDATE trials SET status = $1, reason = $2, message = '', pgid = NULL, \
             objective = NULL, metrics = '[]', completion_time = NULL, \
             failed_attempts = failed_attempts + $4 WHERE id = $3",
        )
        .bind(TrialStatus::Created.as_str())
        .bind(reason)
        .bind(trial_id)
        .bind(i64::from(failed))
        .execute(&self.pool)
        .await?;
        crate::touched(done.rows_affected(), || StoreError::TrialNotFound(trial_id))
    }

    async fn observations(
        &self,
        trial_id: i64,
        attempt: Option<i64>,
    ) -> Result<Vec<(i64, Observation)>, StoreError> {
        let rows = sqlx::query(
            "SELECT attempt, metric, step, timestamp, value FROM observations \
             WHERE trial_id = $1 AND ($2::bigint IS NULL OR attempt = $2) ORDER BY attempt, id",
        )
        .bind(trial_id)
        .bind(attempt)
        .fetch_all(&self.pool)
        .await?;
        if rows.is_empty() && !self.trial_exists(trial_id).await? {
            return Err(StoreError::TrialNotFound(trial_id));
        }
        rows.iter().map(observation_from_row).collect()
    }

    async fn report_katib_log(
        &self,
        trial_name: &str,
        entries: &[KatibLogEntry],
    ) -> Result<(), StoreError> {
        if entries.is_empty() {
            return Ok(());
        }
        let metrics: Vec<&str> = entries.iter().map(|e| e.metric.as_str()).collect();
        let times: Vec<DateTime<Utc>> = entries.iter().map(|e| e.time).collect();
        let values: Vec<&str> = entries.iter().map(|e| e.value.as_str()).collect();
        // One statement, so one transaction; rows go in in the entries' order.
        sqlx::query(
            "INSERT INTO katib_observation_logs (trial_name, metric_name, time_stamp, value) \
             SELECT $1, u.metric, u.ts, u.value \
             FROM UNNEST($2::text[], $3::timestamptz[], $4::text[]) \
             WITH ORDINALITY AS u(metric, ts, value, ord) ORDER BY u.ord",
        )
        .bind(trial_name)
        .bind(metrics)
        .bind(times)
        .bind(values)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn katib_log(
        &self,
        trial_name: &str,
        metric: Option<&str>,
        start: Option<DateTime<Utc>>,
        end: Option<DateTime<Utc>>,
    ) -> Result<Vec<KatibLogEntry>, StoreError> {
        let rows = sqlx::query(
            "SELECT metric_name, time_stamp, value FROM katib_observation_logs \
             WHERE trial_name = $1 AND ($2::text IS NULL OR metric_name = $2) \
             AND ($3::timestamptz IS NULL OR time_stamp >= $3) \
             AND ($4::timestamptz IS NULL OR time_stamp <= $4) \
             ORDER BY time_stamp, id",
        )
        .bind(trial_name)
        .bind(metric)
        .bind(start)
        .bind(end)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(KatibLogEntry {
                    metric: col(r, "metric_name")?,
                    time: col(r, "time_stamp")?,
                    value: col(r, "value")?,
                })
            })
            .collect()
    }

    async fn delete_katib_log(&self, trial_name: &str) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM katib_observation_logs WHERE trial_name = $1")
            .bind(trial_name)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    async fn save_algorithm_state(
        &self,
        experiment_id: i64,
        state: &serde_json::Value,
    ) -> Result<(), StoreError> {
        let state = crate::json_text(state);
        sqlx::query(
            "INSERT INTO algorithm_state (experiment_id, state, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (experiment_id) DO UPDATE SET state = excluded.state, \
             updated_at = excluded.updated_at",
        )
        .bind(experiment_id)
        .bind(state)
        .bind(now())
        .execute(&self.pool)
        .await
        .map_err(|e| fk_to(e, not_found_experiment(experiment_id)))?;
        Ok(())
    }

    async fn load_algorithm_state(
        &self,
        experiment_id: i64,
    ) -> Result<Option<serde_json::Value>, StoreError> {
        let state: Option<String> =
            sqlx::query_scalar("SELECT state FROM algorithm_state WHERE experiment_id = $1")
                .bind(experiment_id)
                .fetch_optional(&self.pool)
                .await?;
        state
            .map(|s| {
                serde_json::from_str(&s).map_err(|e| {
                    StoreError::Corrupt(format!(
                        "algorithm state of experiment #{experiment_id}: {e}"
                    ))
                })
            })
            .transpose()
    }
}
