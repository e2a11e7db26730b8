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
    assert!(corrupt(store.get_experiment("bad").await.map(|_| ())));
    assert!(corrupt(store.list_experiments().await.map(|_| ())));
    assert!(corrupt(store.observations(t.id, None).await.map(|_| ())));
    assert!(corrupt(store.load_algorithm_state(e.id).await.map(|_| ())));
}
