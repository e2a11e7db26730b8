//! The SQLite store against real files in temporary directories: the shared behaviour
//! tests (tests/common) plus what only a file has (a corrupt copy of it).

#[macro_use]
mod common;

use common::{Backend, experiment_with_trial, obs, t0};
use ferrotune_store::{SqliteStore, Store, StoreError};
use std::path::PathBuf;
use tempfile::TempDir;

fn db(dir: &TempDir) -> PathBuf {
    dir.path().join("ferrotune.db")
}

/// A SQLite file in a temporary directory.
pub struct Sqlite {
    dir: TempDir,
}

impl Backend for Sqlite {
    type S = SqliteStore;

    async fn new() -> Self {
        Sqlite {
            dir: TempDir::new().unwrap(),
        }
    }

    async fn open(&self) -> SqliteStore {
        SqliteStore::open(&db(&self.dir)).await.unwrap()
    }

    async fn close(store: &SqliteStore) {
        store.close().await;
    }

    async fn exec(&self, sql: &str, id: i64) {
        use sqlx::Connection;
        let sql = sql.replace("$1", "?1");
        let mut conn = sqlx::SqliteConnection::connect_with(
            &sqlx::sqlite::SqliteConnectOptions::new().filename(db(&self.dir)),
        )
        .await
        .unwrap();
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .execute(&mut conn)
            .await
            .unwrap();
        conn.close().await.unwrap();
    }
}

store_tests!(Sqlite);

/// Runs SQL on the file behind the store's back.
async fn raw_exec(path: &std::path::Path, sql: &'static str, id: i64) {
    use sqlx::Connection;
    let mut conn = sqlx::SqliteConnection::connect_with(
        &sqlx::sqlite::SqliteConnectOptions::new().filename(path),
    )
    .await
    .unwrap();
    sqlx::query(sql).bind(id).execute(&mut conn).await.unwrap();
    conn.close().await.unwrap();
}

#[tokio::test]
async fn corrupt_rows_are_errors_not_panics() {
    let dir = TempDir::new().unwrap();
    let path = db(&dir);
    let store = SqliteStore::open(&path).await.unwrap();
    let (e, t) = experiment_with_trial(&store, "bad").await;
    store.start_trial(t.id, 1, None, t0()).await.unwrap();
    store
        .append_observations(t.id, 1, &[obs("loss", 1, 1.0)])
        .await
        .unwrap();
    store.close().await;

    let corrupt = |r: Result<_, StoreError>| matches!(r, Err(StoreError::Corrupt(_)));
    let cases: [(&'static str, i64); 6] = [
        ("UPDATE trials SET status = 'Exploded' WHERE id = ?1", t.id),
        (
            "UPDATE trials SET parameters = '{not json' WHERE id = ?1",
            t.id,
        ),
        (
            "UPDATE trials SET metrics = '[{\"name\": 1}]' WHERE id = ?1",
            t.id,
        ),
        (
            "UPDATE trials SET start_time = 'yesterday' WHERE id = ?1",
            t.id,
        ),
        ("UPDATE trials SET attempt = 'one' WHERE id = ?1", t.id),
        ("UPDATE trials SET objective = 'high' WHERE id = ?1", t.id),
    ];
    for (sql, id) in cases {
        let fresh = TempDir::new().unwrap();
        let copy = db(&fresh);
        std::fs::copy(&path, &copy).unwrap();
        raw_exec(&copy, sql, id).await;
        let store = SqliteStore::open(&copy).await.unwrap();
        assert!(corrupt(store.list_trials(e.id).await.map(|_| ())), "{sql}");
        store.close().await;
    }

    raw_exec(
        &path,
        "UPDATE experiments SET document = '[' WHERE id = ?1",
        e.id,
    )
    .await;
    raw_exec(
        &path,
        "UPDATE observations SET timestamp = 'x' WHERE trial_id = ?1",
        t.id,
    )
    .await;
    raw_exec(
        &path,
        "INSERT INTO algorithm_state VALUES (?1, '{', '')",
        e.id,
    )
    .await;
    let store = SqliteStore::open(&path).await.unwrap();
    assert!(corrupt(
        store.get_experiment(common::NS, "bad").await.map(|_| ())
    ));
    assert!(corrupt(store.list_experiments().await.map(|_| ())));
    assert!(corrupt(store.observations(t.id, None).await.map(|_| ())));
    assert!(corrupt(store.load_algorithm_state(e.id).await.map(|_| ())));
}

/// A file written by an older ferrotune (schema version 4, where experiment names were
/// unique across namespaces) opens with its experiments, trials, observations and
/// algorithm state intact, and then takes the same name in another namespace.
#[tokio::test]
async fn an_older_file_upgrades_without_losing_anything() {
    use sqlx::Connection;
    let dir = TempDir::new().unwrap();
    let old = dir.path().join("migrations-v4");
    std::fs::create_dir(&old).unwrap();
    let here = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
    for entry in std::fs::read_dir(&here).unwrap() {
        let path = entry.unwrap().path();
        let file = path.file_name().unwrap().to_string_lossy().to_string();
        if file.as_str() < "0005" {
            std::fs::copy(&path, old.join(&file)).unwrap();
        }
    }
    let path = db(&dir);
    let mut conn = sqlx::SqliteConnection::connect_with(
        &sqlx::sqlite::SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true)
            .foreign_keys(true),
    )
    .await
    .unwrap();
    sqlx::migrate::Migrator::new(old.as_path())
        .await
        .unwrap()
        .run(&mut conn)
        .await
        .unwrap();
    for sql in [
        "INSERT INTO experiments (id, name, namespace, document, source_path, run_dir, seed, \
         status, created_at, next_seq) VALUES (7, 'old', 'lab', '{}', '/x.yaml', '/runs/old', 5, \
         'Stopped', '2026-01-02T03:04:05.000000Z', 2)",
        "INSERT INTO trials (id, experiment_id, name, seq, parameters, status, attempt, \
         created_at) VALUES (11, 7, 'old-0001', 1, '[]', 'Running', 1, \
         '2026-01-02T03:04:06.000000Z')",
        "INSERT INTO observations (trial_id, attempt, metric, step, timestamp, value) VALUES \
         (11, 1, 'loss', 0, '2026-01-02T03:04:07.000000Z', 0.25)",
        "INSERT INTO algorithm_state (experiment_id, state, updated_at) VALUES \
         (7, '{\"n\": 1}', '2026-01-02T03:04:08.000000Z')",
    ] {
        sqlx::query(sql).execute(&mut conn).await.unwrap();
    }
    conn.close().await.unwrap();

    let store = SqliteStore::open(&path).await.unwrap();
    let e = store.get_experiment("lab", "old").await.unwrap();
    assert_eq!((e.id, e.seed, e.run_dir.as_str()), (7, 5, "/runs/old"));
    let trials = store.list_trials(e.id).await.unwrap();
    assert_eq!(trials.len(), 1);
    assert_eq!(trials[0].name, "old-0001");
    let o = store.observations(trials[0].id, None).await.unwrap();
    assert_eq!((o.len(), o[0].1.value), (1, 0.25));
    assert_eq!(
        store.load_algorithm_state(e.id).await.unwrap(),
        Some(serde_json::json!({"n": 1}))
    );
    // The next trial number carried over, and foreign keys are enforced again.
    let next = store.create_trials(e.id, vec![common::assignment(1)]).await;
    assert_eq!(next.unwrap()[0].name, "old-0002");
    assert!(matches!(
        store.create_trials(999, vec![common::assignment(1)]).await,
        Err(StoreError::ExperimentIdNotFound(999))
    ));
    let other = store
        .create_experiment(ferrotune_store::NewExperiment {
            namespace: "team-b".into(),
            ..common::new_experiment("old")
        })
        .await
        .unwrap();
    assert_ne!(other.id, e.id);
    assert!(matches!(
        store.create_experiment(common::new_experiment("old")).await,
        Err(StoreError::AlreadyExists { .. })
    ));
    store.close().await;
}
