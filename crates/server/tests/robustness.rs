//! Bad input gets a clean answer: garbage on the port does not take the server down,
//! oversized requests and streams are refused with a status (not a hang), and invalid
//! requests are INVALID_ARGUMENT naming the field.

mod common;

use common::*;
use ferrotune_api::v1;
use ferrotune_client::Connection;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tonic::{Code, Status};

/// The server still answers: over HTTP and over gRPC.
async fn still_answers(server: &Server) {
    let (code, body) = http_get(server.addr, "/healthz").await;
    assert_eq!((code, body.trim()), (200, "ok"));
    let conn = server.connect(Some(ADMIN)).await;
    conn.experiments()
        .list_experiments(v1::ListExperimentsRequest::default())
        .await
        .unwrap();
}

fn invalid(what: &str, r: Result<impl std::fmt::Debug, Status>, field: &str) -> Status {
    let e = r.expect_err(what);
    assert_eq!(e.code(), Code::InvalidArgument, "{what}: {e:?}");
    assert!(
        e.message().contains(field),
        "{what}: {:?} does not name {field}",
        e.message()
    );
    e
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_on_the_port_does_not_take_the_server_down() {
    let server = Server::start(true, None).await;
    let preface = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
    let mut frames = preface.clone();
    // A frame header announcing a 16 MiB DATA frame on stream 0, then junk.
    frames.extend_from_slice(&[0xff, 0xff, 0xff, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00]);
    frames.extend_from_slice(&[0xab; 1000]);
    let mut settings = preface.clone();
    // A SETTINGS frame of the wrong length, then a HEADERS frame whose HPACK block is junk.
    settings.extend_from_slice(&[0x00, 0x00, 0x05, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00]);
    settings.extend_from_slice(&[1, 2, 3, 4, 5]);
    settings.extend_from_slice(&[0x00, 0x00, 0x04, 0x01, 0x05, 0x00, 0x00, 0x00, 0x01]);
    settings.extend_from_slice(&[0xff, 0xff, 0xff, 0xff]);
    let mut binary = Vec::new();
    let mut x: u32 = 0x1234_5678;
    for _ in 0..65536 {
        // xorshift: the same bytes every run.
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        binary.push(x as u8);
    }
    let huge_header = format!(
        "GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Junk: {}\r\n\r\n",
        "j".repeat(1 << 20)
    )
    .into_bytes();
    for (what, bytes) in [
        ("binary noise", binary),
        ("a bad HTTP/2 frame", frames),
        ("bad SETTINGS and HPACK", settings),
        ("a 1 MiB HTTP/1.1 header", huge_header),
        ("half a preface", preface[..10].to_vec()),
        (
            "a bad HTTP/1.1 request line",
            b"\x00\x01 / HTTP/9.9\r\n\r\n".to_vec(),
        ),
        ("nothing", Vec::new()),
    ] {
        let mut s = tokio::net::TcpStream::connect(server.addr).await.unwrap();
        // The server may close the connection while we still write: that is fine.
        let _ = s.write_all(&bytes).await;
        let _ = s.shutdown().await;
        let mut answer = Vec::new();
        tokio::time::timeout(DEADLINE, s.read_to_end(&mut answer))
            .await
            .unwrap_or_else(|_| panic!("{what}: the server neither answered nor closed"))
            .ok();
        still_answers(&server).await;
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_requests_and_streams_are_refused_with_a_status() {
    let server = Server::start(false, None).await;
    let conn = server.connect(None).await;

    // One byte over the server's message limit.
    let document = "#".repeat(ferrotune_server::MAX_MESSAGE_BYTES);
    let e = conn
        .experiments()
        .create_experiment(v1::CreateExperimentRequest {
            document,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert!(
        matches!(e.code(), Code::OutOfRange | Code::ResourceExhausted),
        "{e:?}"
    );
    still_answers(&server).await;

    // A report stream one report over the limit is refused as a whole, with a status.
    let max = ferrotune_server::native::MAX_STREAM_REPORTS;
    let e = conn
        .reports()
        .report_stream(tokio_stream::iter(
            (0..=max).map(|i| loss("ghost-0001", i as f64)),
        ))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::ResourceExhausted, "{e:?}");
    assert!(e.message().contains(&max.to_string()), "{e:?}");
    // At the limit it is read to its end (and refused for its trial, which is not running).
    let e = conn
        .reports()
        .report_stream(tokio_stream::iter(
            (0..max).map(|i| loss("ghost-0001", i as f64)),
        ))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::NotFound, "{e:?}");
    // The stream's size is bounded as a message's is: two reports of half the limit each
    // are refused as soon as the second arrives, not held in memory to the end.
    let half = ferrotune_server::MAX_MESSAGE_BYTES / 2;
    let big = |c: char| {
        let mut r = loss("ghost-0001", 1.0);
        r.metrics.insert(c.to_string().repeat(half), 1.0);
        r
    };
    let e = conn
        .reports()
        .report_stream(tokio_stream::iter(vec![big('a'), big('b'), big('c')]))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::ResourceExhausted, "{e:?}");
    still_answers(&server).await;
    server.stop().await;
}

fn create(document: &str) -> v1::CreateExperimentRequest {
    v1::CreateExperimentRequest {
        document: document.into(),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_documents_name_every_bad_field() {
    let server = Server::start(false, None).await;
    let conn = server.connect(None).await;
    let good = server.experiment("fine", 1, 1);
    let x = conn.experiments();

    let bad_space = good.replace(
        r#"feasibleSpace: {min: "0", max: "1"}"#,
        r#"feasibleSpace: {min: "2", max: "1"}"#,
    );
    assert_ne!(bad_space, good);
    invalid(
        "min above max",
        x.clone().create_experiment(create(&bad_space)).await,
        "spec.parameters[0].feasibleSpace",
    );
    // Every problem is listed in one answer.
    let two = bad_space.replace("algorithmName: random", "algorithmName: randon");
    let e = invalid(
        "two problems",
        x.clone().create_experiment(create(&two)).await,
        "spec.parameters[0].feasibleSpace",
    );
    assert!(
        e.message().contains("spec.algorithm.algorithmName"),
        "{e:?}"
    );
    let typo = good.replace("parallelTrialCount", "paralelTrialCount");
    let e = invalid(
        "unknown field",
        x.clone().create_experiment(create(&typo)).await,
        "paralelTrialCount",
    );
    assert!(e.message().contains("parallelTrialCount"), "{e:?}");
    invalid(
        "empty document",
        x.clone().create_experiment(create("  \n")).await,
        "document",
    );
    let e = x
        .clone()
        .create_experiment(create("{ not: [yaml"))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument, "{e:?}");
    let e = x
        .clone()
        .create_experiment(v1::CreateExperimentRequest {
            name: "Not A Name".into(),
            ..create(&good)
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument, "{e:?}");
    assert!(e.message().contains("metadata.name"), "{e:?}");
    // None of them was stored.
    let list = x
        .clone()
        .list_experiments(v1::ListExperimentsRequest {
            namespace: "*".into(),
        })
        .await
        .unwrap();
    assert!(list.into_inner().experiments.is_empty());
    server.stop().await;
}

/// Calls with an empty name, on every service.
async fn empty_names(c: &Connection) {
    let empty = v1::ExperimentRef::default();
    let x = c.experiments();
    invalid("get", x.clone().get_experiment(empty.clone()).await, "name");
    invalid(
        "stop",
        x.clone().stop_experiment(empty.clone()).await,
        "name",
    );
    invalid(
        "delete",
        x.clone().delete_experiment(empty.clone()).await,
        "name",
    );
    invalid(
        "watch",
        x.clone().watch_experiment(empty.clone()).await.map(drop),
        "name",
    );
    invalid(
        "resume",
        x.clone()
            .resume_experiment(v1::ResumeExperimentRequest {
                experiment: Some(empty.clone()),
                ..Default::default()
            })
            .await,
        "name",
    );
    invalid(
        "resume nothing",
        x.clone()
            .resume_experiment(v1::ResumeExperimentRequest::default())
            .await,
        "experiment",
    );
    let t = c.trials();
    invalid(
        "list trials",
        t.clone().list_trials(empty.clone()).await,
        "name",
    );
    invalid(
        "get trial",
        t.clone().get_trial(v1::TrialRef::default()).await,
        "trial",
    );
    invalid(
        "observation log",
        t.clone()
            .get_observation_log(v1::GetObservationLogRequest::default())
            .await,
        "trial",
    );
    invalid(
        "observation log of an empty name",
        t.clone()
            .get_observation_log(v1::GetObservationLogRequest {
                trial: Some(v1::TrialRef::default()),
                ..Default::default()
            })
            .await,
        "trial",
    );
    invalid(
        "should stop",
        c.reports().should_stop(v1::TrialRef::default()).await,
        "trial",
    );
    invalid(
        "report",
        c.reports().report(loss("", 1.0)).await,
        "reports[0].trial",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_requests_name_the_field() {
    let server = Server::start(false, None).await;
    let conn = server.connect(None).await;
    empty_names(&conn).await;

    // Reports are checked before the trial is looked up: the same answers for a running
    // trial and for one that is not.
    conn.experiments()
        .create_experiment(create(&server.experiment("checked", 1, 1)))
        .await
        .unwrap();
    let trial = server.running("checked", 1).await.remove(0);
    for name in [trial.trial.as_str(), "ghost-0001"] {
        let mut no_name = loss(name, 1.0);
        no_name.metrics.insert(String::new(), 2.0);
        invalid(
            "an empty metric name",
            conn.reports().report(no_name.clone()).await,
            "reports[0].metrics",
        );
        let mut late = loss(name, 1.0);
        late.timestamp = "yesterday".into();
        invalid(
            "a bad timestamp",
            conn.reports().report(late.clone()).await,
            "reports[0].timestamp",
        );
        let stream = vec![loss(name, 1.0), loss(name, 2.0), late];
        invalid(
            "a bad timestamp in a stream",
            conn.reports()
                .report_stream(tokio_stream::iter(stream))
                .await,
            "reports[2].timestamp",
        );
        let stream = vec![loss(name, 1.0), no_name];
        invalid(
            "an empty metric name in a stream",
            conn.reports()
                .report_stream(tokio_stream::iter(stream))
                .await,
            "reports[1].metrics",
        );
    }
    // A good report with a good timestamp is taken, NaN included.
    let mut good = loss(&trial.trial, f64::NAN);
    good.timestamp = "2026-01-02T03:04:05.5+01:00".into();
    good.step = Some(7);
    conn.reports().report(good).await.unwrap();
    conn.reports()
        .report(loss(&trial.trial, 0.5))
        .await
        .unwrap();
    server.release(&trial.trial);
    let done = server.finished(&conn, "", "checked").await;
    assert_eq!(done.status, "Succeeded", "{done:?}");
    let log = conn
        .trials()
        .get_observation_log(v1::GetObservationLogRequest {
            trial: Some(v1::TrialRef {
                namespace: String::new(),
                trial: trial.trial.clone(),
            }),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let mut got: Vec<(i64, String, bool)> = log
        .observations
        .iter()
        .map(|o| (o.step, o.timestamp.clone(), o.value.is_nan()))
        .collect();
    got.sort();
    assert_eq!(got.len(), 2, "{got:?}");
    // Without a step, a report gets its metric's report index.
    assert_eq!((got[0].0, got[0].2), (1, false));
    assert_eq!(
        (got[1].0, got[1].1.as_str(), got[1].2),
        (7, "2026-01-02T02:04:05.500000Z", true)
    );
    server.stop().await;
}
