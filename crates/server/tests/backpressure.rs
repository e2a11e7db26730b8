//! A server whose database is slower than its reporters: past the report queue's limit,
//! reports are answered UNAVAILABLE (the SDKs retry them: the Rust client's flush is
//! checked here), and once the database catches up every report that was accepted, and
//! every refused one sent again, is stored once.
//!
//! The database is made slow for real: the test holds a PostgreSQL row lock on the trial,
//! so the controller's insert of its observations waits for the lock. Named like the
//! store's PostgreSQL tests, so that scripts/test.sh skips them together (and loudly) on a
//! machine without PostgreSQL outside CI.

mod common;

mod postgres_store {
    use crate::common::*;
    use ferrotune_api::v1;
    use ferrotune_store::Store;
    use sqlx::Connection;
    use std::sync::Arc;
    use std::time::{Duration, Instant};
    use tonic::Code;

    /// Observations an experiment may have waiting before reports are refused.
    const LIMIT: usize = 4;

    fn url() -> String {
        std::env::var("FERROTUNE_TEST_POSTGRES").unwrap_or_else(|_| {
            panic!(
                "FERROTUNE_TEST_POSTGRES is not set: run ./scripts/test.sh, which finds PostgreSQL"
            )
        })
    }

    fn report(value: f64) -> v1::ReportRequest {
        v1::ReportRequest {
            trial: "busy-0001".into(),
            metrics: [("loss".to_string(), value)].into(),
            ..Default::default()
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn reports_past_the_queue_limit_are_refused_until_the_database_catches_up() {
        let url = url();
        let schema = format!("ferrotune_busy_{}", std::process::id());
        let store = Arc::new(
            ferrotune_store::PostgresStore::open_in_schema(&url, &schema)
                .await
                .unwrap(),
        );
        let dir = tempfile::tempdir().unwrap();
        let mut config = ferrotune_server::Config::new(store.clone(), dir.path().join("runs"));
        config.report_queue_limit = LIMIT;
        let server = Server::start_with(dir, config, false, None).await;
        let conn = server.connect(None).await;
        let trial = server.one_running_trial(&conn, "busy").await;
        let exp = store.get_experiment("ferrotune", "busy").await.unwrap();
        let trial_id = store.list_trials(exp.id).await.unwrap()[0].id;

        // Another session locks the trial's row: the controller's insert of observations
        // (whose foreign key must see the row) waits until this transaction ends.
        let mut lock = sqlx::PgConnection::connect(&url).await.unwrap();
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SET search_path TO \"{schema}\""
        )))
        .execute(&mut lock)
        .await
        .unwrap();
        let mut tx = lock.begin().await.unwrap();
        sqlx::query("SELECT id FROM trials WHERE id = $1 FOR UPDATE")
            .bind(trial_id)
            .fetch_one(&mut *tx)
            .await
            .unwrap();

        // Reports are accepted while the queue has room (the controller takes them, and
        // blocks when it next writes what it took), then refused as busy.
        let mut accepted = Vec::new();
        let deadline = Instant::now() + DEADLINE;
        let refused = loop {
            let value = accepted.len() as f64;
            match conn.reports().report(report(value)).await {
                Ok(_) => accepted.push(value),
                Err(e) => break e,
            }
            assert!(
                Instant::now() < deadline,
                "no report refused while the database waits ({} accepted)",
                accepted.len()
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        };
        assert_eq!(refused.code(), Code::Unavailable, "{refused:?}");
        assert!(refused.message().contains("retry"), "{refused:?}");
        assert!(accepted.len() > LIMIT, "{accepted:?}");
        // /metrics shows the waiting observations the refusal counted, and the limit.
        let waiting: u64 = refused
            .message()
            .split_whitespace()
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no count in {refused:?}"));
        assert!(waiting >= 1, "{refused:?}");
        let (code, text) = http_get(server.addr, "/metrics").await;
        assert_eq!(code, 200, "{text}");
        let gauge = |name: &str| -> u64 {
            text.lines()
                .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
                .unwrap_or_else(|| panic!("{name} missing in\n{text}"))
        };
        assert_eq!(
            gauge("ferrotune_report_queue_observations"),
            waiting,
            "{text}"
        );
        assert_eq!(
            gauge("ferrotune_report_queue_limit"),
            LIMIT as u64,
            "{text}"
        );

        // The Rust client meets the same answer and sends its batch again until the
        // database catches up (the lock goes 300 ms into its flush).
        let mut reporter = ferrotune_client::Reporter::new(conn.clone(), "busy-0001");
        // Fewer than a batch (256), so that nothing is sent before the flush.
        let batch: Vec<f64> = (0..200).map(|i| 1000.0 + i as f64).collect();
        for v in &batch {
            reporter.report(None, &[("loss", *v)]).await.unwrap();
        }
        let (flushed, ()) = tokio::join!(reporter.flush(), async {
            tokio::time::sleep(Duration::from_millis(300)).await;
            tx.rollback().await.unwrap();
        });
        flushed.expect("the reporter's flush outlasted the busy database");

        // The refused unary report, sent again, is taken.
        let value = accepted.len() as f64;
        let deadline = Instant::now() + DEADLINE;
        loop {
            match conn.reports().report(report(value)).await {
                Ok(_) => break,
                Err(e) if e.code() == Code::Unavailable && Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(20)).await
                }
                Err(e) => panic!("the report was not taken once the database was free: {e:?}"),
            }
        }
        accepted.push(value);
        server.release(&trial.trial);
        let done = server.finished(&conn, "", "busy").await;
        assert_eq!(done.status, "Succeeded", "{done:?}");

        // Every accepted report is stored, once, in the order it was sent.
        let stored: Vec<f64> = store
            .observations(trial_id, None)
            .await
            .unwrap()
            .into_iter()
            .map(|(_, o)| o.value)
            .collect();
        let mut sent = accepted[..accepted.len() - 1].to_vec();
        sent.extend(&batch);
        sent.push(value);
        assert_eq!(stored, sent);
        server.stop().await;
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP SCHEMA \"{schema}\" CASCADE"
        )))
        .execute(&mut lock)
        .await
        .unwrap();
    }
}
