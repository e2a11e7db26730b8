//! The PostgreSQL store against the real server named by `FERROTUNE_TEST_POSTGRES`
//! (`./scripts/test.sh` sets it when PostgreSQL answers at 127.0.0.1:5432): the shared
//! behaviour tests (tests/common), each in a fresh schema that is dropped afterwards, plus
//! PostgreSQL's own corrupt-data cases.
//!
//! Every test here is named `postgres_store::…`, so that `cargo test -- --skip
//! postgres_store::` leaves them out when there is no server.

#[macro_use]
mod common;

mod postgres_store {
    use crate::common::{Backend, assignment, experiment_with_trial, new_experiment, obs, t0};
    use ferrotune_store::{PostgresStore, Store, StoreError};
    use sqlx::Connection;
    use std::sync::atomic::{AtomicUsize, Ordering};

    const URL_VAR: &str = "FERROTUNE_TEST_POSTGRES";

    fn url() -> String {
        match std::env::var(URL_VAR) {
            Ok(url) if !url.is_empty() => url,
            _ => panic!(
                "{URL_VAR} is not set: the PostgreSQL store tests need a server. Run \
                 ./scripts/test.sh (it sets {URL_VAR}=postgres://postgres@127.0.0.1:5432/test \
                 when PostgreSQL answers there), or set it yourself."
            ),
        }
    }

    /// A fresh schema in the test database, dropped (with everything in it) on drop.
    pub struct Postgres {
        url: String,
        schema: String,
    }

    impl Backend for Postgres {
        type S = PostgresStore;

        async fn new() -> Self {
            static NEXT: AtomicUsize = AtomicUsize::new(0);
            let schema = format!(
                "ferrotune_test_{}_{}",
                std::process::id(),
                NEXT.fetch_add(1, Ordering::Relaxed)
            );
            let db = Postgres { url: url(), schema };
            // A schema left behind by an earlier process with the same pid.
            drop_schema(&db.url, &db.schema).await;
            db
        }

        async fn open(&self) -> PostgresStore {
            PostgresStore::open_in_schema(&self.url, &self.schema)
                .await
                .unwrap_or_else(|e| panic!("opening {} in {}: {e}", self.url, self.schema))
        }

        async fn close(store: &PostgresStore) {
            store.close().await;
        }

        async fn exec(&self, sql: &str, id: i64) {
            let mut conn = sqlx::PgConnection::connect(&self.url).await.unwrap();
            let path = format!("SET search_path TO \"{}\"", self.schema);
            sqlx::raw_sql(sqlx::AssertSqlSafe(path))
                .execute(&mut conn)
                .await
                .unwrap();
            sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
                .bind(id)
                .execute(&mut conn)
                .await
                .unwrap();
            conn.close().await.unwrap();
        }
    }

    async fn drop_schema(url: &str, schema: &str) {
        let mut conn = sqlx::PgConnection::connect(url)
            .await
            .unwrap_or_else(|e| panic!("connecting to {url}: {e}"));
        // A store left inside a transaction (a bug) would hold locks that DROP waits for:
        // give up after a while and say so, rather than hang the test run.
        let sql = format!("SET lock_timeout = '20s'; DROP SCHEMA IF EXISTS \"{schema}\" CASCADE");
        if let Err(e) = sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
            .execute(&mut conn)
            .await
        {
            eprintln!("could not drop the test schema {schema}: {e}");
        }
        let _ = conn.close().await;
    }

    impl Drop for Postgres {
        /// Drops the schema even when the test failed; on a thread of its own, since the
        /// test's runtime may be gone or busy.
        fn drop(&mut self) {
            let (url, schema) = (self.url.clone(), self.schema.clone());
            let dropped = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                rt.block_on(drop_schema(&url, &schema));
            })
            .join();
            if dropped.is_err() && !std::thread::panicking() {
                panic!("could not drop the test schema {}", self.schema);
            }
        }
    }

    store_tests!(Postgres);

    /// Rows that do not decode are `Corrupt`, not panics (PostgreSQL's column types already
    /// rule out what SQLite's corrupt-file test writes into typed columns).
    #[tokio::test]
    async fn corrupt_rows_are_errors_not_panics() {
        let corrupt = |r: Result<_, StoreError>| matches!(r, Err(StoreError::Corrupt(_)));
        let cases = [
            "UPDATE trials SET status = 'Exploded' WHERE id = $1",
            "UPDATE trials SET parameters = '{not json' WHERE id = $1",
            "UPDATE trials SET metrics = '[{\"name\": 1}]' WHERE id = $1",
            "UPDATE trials SET labels = '[1]' WHERE id = $1",
        ];
        for sql in cases {
            let db = Postgres::new().await;
            let store = db.open().await;
            let (e, t) = experiment_with_trial(&store, "bad").await;
            db.exec(sql, t.id).await;
            assert!(corrupt(store.list_trials(e.id).await.map(|_| ())), "{sql}");
            store.close().await;
        }

        let db = Postgres::new().await;
        let store = db.open().await;
        let (e, t) = experiment_with_trial(&store, "bad").await;
        store.start_trial(t.id, 1, None, t0()).await.unwrap();
        store
            .append_observations(t.id, 1, &[obs("loss", 1, 1.0)])
            .await
            .unwrap();
        db.exec("UPDATE experiments SET document = '[' WHERE id = $1", e.id)
            .await;
        db.exec(
            "UPDATE experiments SET status = 'Sleeping' WHERE id = $1",
            e.id,
        )
        .await;
        db.exec("INSERT INTO algorithm_state VALUES ($1, '{', now())", e.id)
            .await;
        assert!(corrupt(
            store
                .get_experiment(crate::common::NS, "bad")
                .await
                .map(|_| ())
        ));
        assert!(corrupt(store.list_experiments().await.map(|_| ())));
        assert!(corrupt(store.load_algorithm_state(e.id).await.map(|_| ())));
        // NULL values (not writable by the store) read as NaN, as in SQLite.
        db.exec(
            "UPDATE observations SET value = NULL WHERE trial_id = $1",
            t.id,
        )
        .await;
        assert!(
            store.observations(t.id, None).await.unwrap()[0]
                .1
                .value
                .is_nan()
        );
        store.close().await;
    }

    /// Calls that fail inside a transaction leave no transaction open behind them: nothing
    /// keeps a lock that would block other handles, and the store goes on working. (The
    /// store rolls back explicitly; sqlx would also roll back a dropped transaction when its
    /// connection goes back to the pool, on a task of its own, so this cannot tell the two
    /// apart.)
    #[tokio::test]
    async fn failed_calls_leave_no_open_transaction() {
        let db = Postgres::new().await;
        let store = db.open().await;
        let (e, t) = experiment_with_trial(&store, "locks").await;
        assert!(matches!(
            store.create_trials(e.id + 1000, vec![assignment(2)]).await,
            Err(StoreError::ExperimentIdNotFound(_))
        ));
        let outcome = ferrotune_store::TrialOutcome {
            status: ferrotune_core::TrialStatus::Succeeded,
            reason: String::new(),
            message: String::new(),
            objective: None,
            metrics: vec![],
            completion_time: t0(),
        };
        assert!(matches!(
            store.finish_trial(t.id + 1000, 1, &[], &outcome).await,
            Err(StoreError::TrialNotFound(_))
        ));
        assert!(matches!(
            store
                .append_observations(t.id + 1000, 1, &[obs("loss", 1, 1.0)])
                .await,
            Err(StoreError::TrialNotFound(_))
        ));

        // Nobody else holds a lock on the tables those calls touched.
        let mut conn = sqlx::PgConnection::connect(&db.url).await.unwrap();
        let sql = format!(
            "SET search_path TO \"{}\"; SET lock_timeout = '2s'; BEGIN; \
             LOCK TABLE experiments, trials, observations IN ACCESS EXCLUSIVE MODE; ROLLBACK",
            db.schema
        );
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
            .execute(&mut conn)
            .await
            .expect("a failed call left a transaction open");
        conn.close().await.unwrap();
        // And the store still works.
        assert_eq!(store.list_trials(e.id).await.unwrap().len(), 1);
        store.close().await;
    }

    /// `open` takes the schema from the URL's `options=-c search_path=…`; a schema name that
    /// is not a plain identifier is refused.
    #[tokio::test]
    async fn schema_from_url_options() {
        let db = Postgres::new().await;
        // Created (and migrated) by open_in_schema first, then reached through the URL.
        let store = db.open().await;
        store
            .create_experiment(new_experiment("in-schema"))
            .await
            .unwrap();
        store.close().await;
        let sep = if db.url.contains('?') { '&' } else { '?' };
        let url = format!("{}{sep}options=-c%20search_path%3D{}", db.url, db.schema);
        let store = PostgresStore::open(&url).await.unwrap();
        let names: Vec<_> = store
            .list_experiments()
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.name)
            .collect();
        assert_eq!(names, ["in-schema"]);
        store.close().await;

        assert!(
            PostgresStore::open_in_schema(&db.url, "bad\"; DROP TABLE x; --")
                .await
                .is_err()
        );
    }
}
