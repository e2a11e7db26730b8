//! The store in a SQLite file: what `ferrotune run` uses on a workstation.
//!
//! The file is in WAL mode with `synchronous = NORMAL`: a committed transaction survives the
//! process being killed (it is in the WAL, which the next open recovers), though not
//! necessarily a power cut. Several processes may use the file at once (`ferrotune stop`
//! while `ferrotune run` works); writers wait for each other up to the busy timeout.
//!
//! Within one process, writes are serialised by an async mutex before they reach SQLite, so
//! concurrent tasks queue without SQLite's sleeping busy handler; every multi-statement write
//! is a `BEGIN IMMEDIATE` transaction, so it takes the write lock up front and never fails
//! half-way with `SQLITE_BUSY` against another process.

use crate::{
    ExperimentRecord, ExperimentStatus, KatibLogEntry, NewExperiment, Store, StoreError,
    TrialOutcome, TrialRecord,
};
use chrono::{DateTime, SecondsFormat, SubsecRound, Utc};
use ferrotune_core::{Assignment, Labels, MetricSummary, NewTrial, Observation, TrialStatus};
use serde::{Deserialize, Serialize};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteRow, SqliteSynchronous,
};
use sqlx::{Connection, Row, Sqlite};
use std::path::Path;
use std::sync::OnceLock;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// How long a write waits for another process's write lock before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// Connections in the pool (reads run concurrently in WAL mode; writes queue).
const MAX_CONNECTIONS: u32 = 4;
/// Observation rows per INSERT statement, at most: 6 × 512 = 3,072 bind parameters, well
/// below SQLite's limit of 32,766. The parameters are anonymous (`?`): SQLite looks a named
/// parameter up by a linear scan, which makes binding thousands of them quadratic.
const MAX_ROWS_PER_INSERT: usize = 512;

/// The store in a SQLite file. Cheap to share behind an `Arc`; call [`SqliteStore::close`]
/// before exiting so the WAL is checkpointed and removed (not closing loses nothing).
#[derive(Debug)]
pub struct SqliteStore {
    pool: SqlitePool,
    /// Serialises this handle's writes (see the module documentation).
    write: Mutex<()>,
}

impl SqliteStore {
    /// Opens the store at `path`, creating the file (not its directory) if missing, and
    /// brings its schema up to date.
    pub async fn open(path: &Path) -> Result<Self, StoreError> {
        // Switching a new file to WAL takes an exclusive lock that SQLite does not wait for,
        // so processes opening a new file at the same moment can see "database is locked";
        // they retry for as long as they would wait for any other lock.
        let deadline = Instant::now() + BUSY_TIMEOUT;
        loop {
            match Self::try_open(path).await {
                Err(e) if is_busy(&e) && Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                result => return result,
            }
        }
    }

    async fn try_open(path: &Path) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT);
        let pool = SqlitePoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            // A local file does not go stale; skipping the ping saves a round trip per call.
            .test_before_acquire(false)
            .connect_with(options)
            .await?;
        if let Err(e) = Self::migrate(&pool).await {
            pool.close().await;
            return Err(e);
        }
        Ok(SqliteStore {
            pool,
            write: Mutex::new(()),
        })
    }

    /// Runs the migrations inside one immediate transaction (each migration becomes a
    /// savepoint) so that two processes opening a new file at once do not both apply them.
    /// Foreign keys are not enforced meanwhile, as SQLite wants for rebuilding a table (a
    /// dropped parent table would otherwise take its children with it), and every key is
    /// checked before the transaction commits.
    async fn migrate(pool: &SqlitePool) -> Result<(), StoreError> {
        let mut conn = pool.acquire().await?;
        sqlx::query("PRAGMA foreign_keys = OFF")
            .execute(&mut *conn)
            .await?;
        let migrated = async {
            let mut tx = conn.begin_with("BEGIN IMMEDIATE").await?;
            let before = applied_migrations(&mut tx).await;
            MIGRATOR.run(&mut *tx).await?;
            // The check reads every table: only after a migration ran, not at every open.
            let broken = if applied_migrations(&mut tx).await != before {
                sqlx::query("PRAGMA foreign_key_check")
                    .fetch_all(&mut *tx)
                    .await?
            } else {
                Vec::new()
            };
            if !broken.is_empty() {
                return Err(StoreError::Corrupt(format!(
                    "{} rows refer to rows that do not exist after the schema upgrade",
                    broken.len()
                )));
            }
            tx.commit().await?;
            Ok(())
        }
        .await;
        sqlx::query("PRAGMA foreign_keys = ON")
            .execute(&mut *conn)
            .await?;
        migrated
    }

    /// Closes every connection, waiting for calls in progress. Later calls fail.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    async fn trial_exists(&self, trial_id: i64) -> Result<bool, StoreError> {
        let found: Option<i64> = sqlx::query_scalar("SELECT 1 FROM trials WHERE id = ?1")
            .bind(trial_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(found.is_some())
    }
}

// ---------------------------------------------------------------------------------------
// Conversions between records and rows.

/// Now, truncated to what is stored, so that a returned record equals the one read back.
pub(crate) fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

fn fmt_ts(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

fn parse_ts(s: &str, what: &str) -> Result<DateTime<Utc>, StoreError> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| StoreError::Corrupt(format!("{what}: bad timestamp {s:?}: {e}")))
}

fn parse_opt_ts(s: Option<String>, what: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
    s.map(|s| parse_ts(&s, what)).transpose()
}

/// A column's value; a value of the wrong type is corrupt data, not a database failure.
fn col<'r, T>(row: &'r SqliteRow, name: &str) -> Result<T, StoreError>
where
    T: sqlx::Decode<'r, Sqlite> + sqlx::Type<Sqlite>,
{
    row.try_get(name)
        .map_err(|e| StoreError::Corrupt(format!("column {name}: {e}")))
}

/// SQLITE_BUSY or SQLITE_LOCKED (with any extended code).
fn is_busy(e: &StoreError) -> bool {
    use sqlx::migrate::MigrateError;
    let e = match e {
        StoreError::Database(e) => e,
        StoreError::Migrate(MigrateError::Execute(e) | MigrateError::ExecuteMigration(e, _)) => e,
        _ => return false,
    };
    match e {
        sqlx::Error::Database(db) => db
            .code()
            .and_then(|c| c.parse::<i64>().ok())
            .is_some_and(|c| matches!(c & 0xff, 5 | 6)),
        _ => false,
    }
}

pub(crate) fn not_found_experiment(id: i64) -> StoreError {
    StoreError::ExperimentIdNotFound(id)
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

fn experiment_from_row(row: &SqliteRow) -> Result<ExperimentRecord, StoreError> {
    let name: String = col(row, "name")?;
    let what = |field: &str| format!("experiment {name:?} {field}");
    let document: String = col(row, "document")?;
    let document = serde_json::from_str(&document)
        .map_err(|e| StoreError::Corrupt(format!("{}: {e}", what("document"))))?;
    let status: String = col(row, "status")?;
    let status = status
        .parse::<ExperimentStatus>()
        .map_err(|e| StoreError::Corrupt(format!("{}: {e}", what("status"))))?;
    let created_at: String = col(row, "created_at")?;
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
        created_at: parse_ts(&created_at, &what("created_at"))?,
        started_at: parse_opt_ts(col(row, "started_at")?, &what("started_at"))?,
        completed_at: parse_opt_ts(col(row, "completed_at")?, &what("completed_at"))?,
        owner_pid: col(row, "owner_pid")?,
        stop_requested: col::<i64>(row, "stop_requested")? != 0,
        name,
    })
}

fn trial_from_row(row: &SqliteRow) -> Result<TrialRecord, StoreError> {
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
    let created_at: String = col(row, "created_at")?;
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
        created_at: parse_ts(&created_at, &what("created_at"))?,
        start_time: parse_opt_ts(col(row, "start_time")?, &what("start_time"))?,
        completion_time: parse_opt_ts(col(row, "completion_time")?, &what("completion_time"))?,
        pgid: col(row, "pgid")?,
        name,
    })
}

fn observation_from_row(row: &SqliteRow) -> Result<(i64, Observation), StoreError> {
    let timestamp: String = col(row, "timestamp")?;
    let value: Option<f64> = col(row, "value")?;
    Ok((
        col(row, "attempt")?,
        Observation {
            metric: col(row, "metric")?,
            step: col(row, "step")?,
            timestamp: parse_ts(&timestamp, "observation timestamp")?,
            value: value.unwrap_or(f64::NAN),
        },
    ))
}

/// `MetricSummary` as stored: JSON has no NaN or infinity, so those become strings.
#[derive(Serialize, Deserialize)]
struct StoredMetric {
    name: String,
    #[serde(with = "any_f64")]
    min: f64,
    #[serde(with = "any_f64")]
    max: f64,
    #[serde(with = "any_f64")]
    latest: f64,
    count: u64,
}

mod any_f64 {
    use serde::de::Error as _;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
        if v.is_finite() {
            s.serialize_f64(*v)
        } else if v.is_nan() {
            s.serialize_str("NaN")
        } else if *v > 0.0 {
            s.serialize_str("inf")
        } else {
            s.serialize_str("-inf")
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Repr {
            Number(f64),
            Text(String),
        }
        match Repr::deserialize(d)? {
            Repr::Number(v) => Ok(v),
            Repr::Text(s) => match s.as_str() {
                "NaN" => Ok(f64::NAN),
                "inf" => Ok(f64::INFINITY),
                "-inf" => Ok(f64::NEG_INFINITY),
                _ => Err(D::Error::custom(format!("not a number: {s:?}"))),
            },
        }
    }
}

pub(crate) fn encode_metrics(metrics: &[MetricSummary]) -> String {
    let stored: Vec<StoredMetric> = metrics
        .iter()
        .map(|m| StoredMetric {
            name: m.name.clone(),
            min: m.min,
            max: m.max,
            latest: m.latest,
            count: m.count,
        })
        .collect();
    crate::json_text(&stored)
}

pub(crate) fn decode_metrics(s: &str) -> Result<Vec<MetricSummary>, serde_json::Error> {
    let stored: Vec<StoredMetric> = serde_json::from_str(s)?;
    Ok(stored
        .into_iter()
        .map(|m| MetricSummary {
            name: m.name,
            min: m.min,
            max: m.max,
            latest: m.latest,
            count: m.count,
        })
        .collect())
}

/// `INSERT` statements for 1, 2, 4, … `MAX_ROWS_PER_INSERT` observation rows. A batch is
/// split into these sizes, so only a handful of distinct statements are ever prepared and
/// each stays in the connection's statement cache.
fn insert_observations_sql(rows: usize) -> &'static str {
    static SQL: OnceLock<Vec<String>> = OnceLock::new();
    let all = SQL.get_or_init(|| {
        let mut all = Vec::new();
        let mut n = 1;
        while n <= MAX_ROWS_PER_INSERT {
            let mut sql = String::from(
                "INSERT INTO observations (trial_id, attempt, metric, step, timestamp, value) VALUES ",
            );
            for i in 0..n {
                if i > 0 {
                    sql.push_str(", ");
                }
                sql.push_str("(?, ?, ?, ?, ?, ?)");
            }
            all.push(sql);
            n *= 2;
        }
        all
    });
    debug_assert!(rows.is_power_of_two() && rows <= MAX_ROWS_PER_INSERT);
    &all[rows.trailing_zeros() as usize]
}

/// Inserts observations on a connection that is inside a transaction.
async fn insert_observations(
    conn: &mut SqliteConnection,
    trial_id: i64,
    attempt: i64,
    observations: &[Observation],
) -> Result<(), StoreError> {
    let mut rest = observations;
    while !rest.is_empty() {
        let n = if rest.len() >= MAX_ROWS_PER_INSERT {
            MAX_ROWS_PER_INSERT
        } else {
            // The largest power of two not above what is left.
            1 << (usize::BITS - 1 - rest.len().leading_zeros())
        };
        let (chunk, tail) = rest.split_at(n);
        let mut query = sqlx::query(insert_observations_sql(n));
        for o in chunk {
            query = query
                .bind(trial_id)
                .bind(attempt)
                .bind(o.metric.clone())
                .bind(o.step)
                .bind(fmt_ts(&o.timestamp))
                .bind(o.value);
        }
        query
            .execute(&mut *conn)
            .await
            .map_err(|e| fk_to(e, StoreError::TrialNotFound(trial_id)))?;
        rest = tail;
    }
    Ok(())
}

/// How many migrations the file records as applied (none before the first).
async fn applied_migrations(conn: &mut SqliteConnection) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations")
        .fetch_one(conn)
        .await
        .unwrap_or(0)
}

// ---------------------------------------------------------------------------------------

#[async_trait::async_trait]
impl Store for SqliteStore {
    async fn create_experiment(&self, new: NewExperiment) -> Result<ExperimentRecord, StoreError> {
        let created_at = now();
        let status = ExperimentStatus::Created;
        let document = crate::json_text(&new.document);
        let _w = self.write.lock().await;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO experiments \
             (name, namespace, document, source_path, run_dir, seed, status, created_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) RETURNING id",
        )
        .bind(&new.name)
        .bind(&new.namespace)
        .bind(document)
        .bind(&new.source_path)
        .bind(&new.run_dir)
        .bind(new.seed as i64)
        .bind(status.as_str())
        .bind(fmt_ts(&created_at))
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
            " FROM experiments WHERE namespace = ?1 AND name = ?2"
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
            " FROM experiments WHERE name = ?1 ORDER BY id"
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
        let _w = self.write.lock().await;
        let done = sqlx::query("UPDATE experiments SET document = ?1 WHERE id = ?2")
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
        let now = fmt_ts(&now());
        // Running fills `started_at` once; a completed status stamps `completed_at`, any
        // other (Stopped, or Running again after a resume) clears it.
        let started = (status == ExperimentStatus::Running).then(|| now.clone());
        let completed = status.is_completed().then_some(now);
        let _w = self.write.lock().await;
        let done = sqlx::query(
            "UPDATE experiments SET status = ?1, reason = ?2, message = ?3, \
             started_at = COALESCE(started_at, ?4), completed_at = ?5 WHERE id = ?6",
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
        let _w = self.write.lock().await;
        let done =
            sqlx::query("UPDATE experiments SET owner_pid = ?1, stop_requested = 0 WHERE id = ?2")
                .bind(pid)
                .bind(id)
                .execute(&self.pool)
                .await?;
        crate::touched(done.rows_affected(), || not_found_experiment(id))
    }

    async fn request_stop(&self, id: i64) -> Result<(), StoreError> {
        let _w = self.write.lock().await;
        let done = sqlx::query("UPDATE experiments SET stop_requested = 1 WHERE id = ?1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        crate::touched(done.rows_affected(), || not_found_experiment(id))
    }

    async fn delete_experiment(&self, id: i64) -> Result<(), StoreError> {
        let _w = self.write.lock().await;
        // Trials, observations and algorithm state go with it (ON DELETE CASCADE).
        let done = sqlx::query("DELETE FROM experiments WHERE id = ?1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        crate::touched(done.rows_affected(), || not_found_experiment(id))
    }

    async fn stop_requested(&self, id: i64) -> Result<bool, StoreError> {
        let flag: Option<i64> =
            sqlx::query_scalar("SELECT stop_requested FROM experiments WHERE id = ?1")
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
        flag.map(|f| f != 0).ok_or_else(|| not_found_experiment(id))
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
        let created_text = fmt_ts(&created_at);
        let status = TrialStatus::Created;
        let encoded: Vec<(String, String)> = trials
            .iter()
            .map(|t| (crate::json_text(&t.parameters), crate::json_text(&t.labels)))
            .collect();

        let _w = self.write.lock().await;
        // IMMEDIATE: the counter is read and advanced under the write lock, so no other
        // process can hand out the same numbers.
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let row = sqlx::query(
            "UPDATE experiments SET next_seq = next_seq + ?1 WHERE id = ?2 \
             RETURNING next_seq - ?1 AS first_seq, name",
        )
        .bind(count)
        .bind(experiment_id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| not_found_experiment(experiment_id))?;
        let first_seq: i64 = col(&row, "first_seq")?;
        let experiment: String = col(&row, "name")?;

        let mut records = Vec::with_capacity(trials.len());
        for (i, (trial, (encoded, labels_text))) in trials.into_iter().zip(encoded).enumerate() {
            let NewTrial { parameters, labels } = trial;
            let seq = first_seq + i as i64;
            let name = crate::trial_name(&experiment, seq);
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO trials (experiment_id, name, seq, parameters, status, created_at, labels) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) RETURNING id",
            )
            .bind(experiment_id)
            .bind(&name)
            .bind(seq)
            .bind(encoded)
            .bind(status.as_str())
            .bind(&created_text)
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
        tx.commit().await?;
        Ok(records)
    }

    async fn list_trials(&self, experiment_id: i64) -> Result<Vec<TrialRecord>, StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            trial_columns!(),
            " FROM trials WHERE experiment_id = ?1 ORDER BY seq"
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
        let _w = self.write.lock().await;
        // A new attempt starts without the outcome of an earlier one.
        let done = sqlx::query(
            "UPDATE trials SET status = ?1, attempt = ?2, pgid = ?3, start_time = ?4, \
             reason = '', message = '', objective = NULL, metrics = '[]', \
             completion_time = NULL WHERE id = ?5",
        )
        .bind(TrialStatus::Running.as_str())
        .bind(attempt)
        .bind(pgid)
        .bind(fmt_ts(&start_time))
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
        let _w = self.write.lock().await;
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        insert_observations(&mut tx, trial_id, attempt, observations).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn finish_trial(
        &self,
        trial_id: i64,
        attempt: i64,
        last_observations: &[Observation],
        outcome: &TrialOutcome,
    ) -> Result<(), StoreError> {
        let metrics = encode_metrics(&outcome.metrics);
        let completion = fmt_ts(&outcome.completion_time);
        let _w = self.write.lock().await;
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let done = sqlx::query(
            "UPDATE trials SET status = ?1, reason = ?2, message = ?3, objective = ?4, \
             metrics = ?5, completion_time = ?6, pgid = NULL WHERE id = ?7",
        )
        .bind(outcome.status.as_str())
        .bind(&outcome.reason)
        .bind(&outcome.message)
        .bind(outcome.objective)
        .bind(metrics)
        .bind(completion)
        .bind(trial_id)
        .execute(&mut *tx)
        .await?;
        crate::touched(done.rows_affected(), || StoreError::TrialNotFound(trial_id))?;
        insert_observations(&mut tx, trial_id, attempt, last_observations).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn requeue_trial(
        &self,
        trial_id: i64,
        reason: &str,
        failed: bool,
    ) -> Result<(), StoreError> {
        let _w = self.write.lock().await;
        let done = sqlx::query(
            "UPDATE trials SET status = ?1, reason = ?2, message = '', pgid = NULL, \
             objective = NULL, metrics = '[]', completion_time = NULL, \
             failed_attempts = failed_attempts + ?4 WHERE id = ?3",
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
        let rows = match attempt {
            Some(attempt) => {
                sqlx::query(
                    "SELECT attempt, metric, step, timestamp, value FROM observations \
                     WHERE trial_id = ?1 AND attempt = ?2 ORDER BY id",
                )
                .bind(trial_id)
                .bind(attempt)
                .fetch_all(&self.pool)
                .await?
            }
            None => {
                sqlx::query(
                    "SELECT attempt, metric, step, timestamp, value FROM observations \
                     WHERE trial_id = ?1 ORDER BY attempt, id",
                )
                .bind(trial_id)
                .fetch_all(&self.pool)
                .await?
            }
        };
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
        let _w = self.write.lock().await;
        let mut tx = self.pool.begin().await?;
        for e in entries {
            sqlx::query(
                "INSERT INTO katib_observation_logs (trial_name, metric_name, time_stamp, value) \
                 VALUES (?1, ?2, ?3, ?4)",
            )
            .bind(trial_name)
            .bind(&e.metric)
            .bind(fmt_ts(&e.time))
            .bind(&e.value)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
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
             WHERE trial_name = ?1 AND (?2 IS NULL OR metric_name = ?2) \
             AND (?3 IS NULL OR time_stamp >= ?3) AND (?4 IS NULL OR time_stamp <= ?4) \
             ORDER BY time_stamp, id",
        )
        .bind(trial_name)
        .bind(metric)
        .bind(start.map(|t| fmt_ts(&t)))
        .bind(end.map(|t| fmt_ts(&t)))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let time: String = col(r, "time_stamp")?;
                Ok(KatibLogEntry {
                    metric: col(r, "metric_name")?,
                    time: parse_ts(&time, &format!("katib log of {trial_name:?}"))?,
                    value: col(r, "value")?,
                })
            })
            .collect()
    }

    async fn delete_katib_log(&self, trial_name: &str) -> Result<u64, StoreError> {
        let _w = self.write.lock().await;
        let done = sqlx::query("DELETE FROM katib_observation_logs WHERE trial_name = ?1")
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
        let _w = self.write.lock().await;
        sqlx::query(
            "INSERT INTO algorithm_state (experiment_id, state, updated_at) VALUES (?1, ?2, ?3) \
             ON CONFLICT (experiment_id) DO UPDATE SET state = excluded.state, \
             updated_at = excluded.updated_at",
        )
        .bind(experiment_id)
        .bind(state)
        .bind(fmt_ts(&now()))
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
            sqlx::query_scalar("SELECT state FROM algorithm_state WHERE experiment_id = ?1")
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
