//! The server's HTTP endpoints on the gRPC port (`/healthz`, `/readyz`, `/metrics`, and 404
//! for anything else), and TLS with a self-signed certificate: the client trusts it through
//! the CA file, trials are told an https endpoint, and plain HTTP/2 gets nowhere.

mod common;

use common::*;
use ferrotune_api::v1;
use std::time::Duration;
use tonic::Code;

fn create(document: String) -> v1::CreateExperimentRequest {
    v1::CreateExperimentRequest {
        document,
        ..Default::default()
    }
}

/// The value of the Prometheus sample named exactly `name` (labels included).
fn sample(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_readiness_metrics_and_not_found() {
    let server = Server::start(false, None).await;
    let (code, body) = http_get(server.addr, "/healthz").await;
    assert_eq!((code, body.trim()), (200, "ok"));
    let (code, body) = http_get(server.addr, "/readyz").await;
    assert_eq!(code, 200, "{body}");
    for path in ["/nope", "/metrics/extra", "/"] {
        let (code, body) = http_get(server.addr, path).await;
        assert_eq!(code, 404, "GET {path}: {body}");
    }
    // A gRPC call to a method nobody serves is still UNIMPLEMENTED, not a 404.
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", server.addr))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.unwrap();
    let answer: Result<tonic::Response<v1::Experiment>, tonic::Status> = grpc
        .unary(
            tonic::Request::new(v1::ExperimentRef::default()),
            tonic::codegen::http::uri::PathAndQuery::from_static("/nothing.v1.Nothing/Call"),
            tonic_prost::ProstCodec::default(),
        )
        .await;
    assert_eq!(answer.unwrap_err().code(), Code::Unimplemented);

    let (code, text) = http_get(server.addr, "/metrics").await;
    assert_eq!(code, 200, "{text}");
    assert_eq!(sample(&text, "ferrotune_reports_ingested_total"), Some(0.0));
    assert_eq!(sample(&text, "ferrotune_running_experiments"), Some(0.0));

    // An experiment of two trials, which push three reports between them.
    let conn = server.connect(None).await;
    conn.experiments()
        .create_experiment(create(server.experiment("scraped", 2, 2)))
        .await
        .unwrap();
    let running = server.running("scraped", 2).await;
    let (code, text) = http_get(server.addr, "/metrics").await;
    assert_eq!(code, 200);
    assert_eq!(sample(&text, "ferrotune_running_experiments"), Some(1.0));
    assert_eq!(
        sample(&text, "ferrotune_trials{state=\"Running\"}"),
        Some(2.0),
        "{text}"
    );
    let r = conn
        .reports()
        .report_stream(tokio_stream::iter(vec![
            loss(&running[0].trial, 0.5),
            loss(&running[0].trial, 0.25),
        ]))
        .await
        .unwrap();
    assert_eq!(r.into_inner().accepted, 2);
    conn.reports()
        .report(loss(&running[1].trial, 0.75))
        .await
        .unwrap();
    // Refused reports are not counted.
    let e = conn
        .reports()
        .report(loss("ghost-0001", 0.5))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::NotFound);
    let e = conn
        .reports()
        .report_stream(tokio_stream::iter(vec![
            loss(&running[1].trial, 0.5),
            loss("ghost-0001", 0.5),
        ]))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::NotFound);
    for t in &running {
        server.release(&t.trial);
    }
    let done = server.finished(&conn, "", "scraped").await;
    assert_eq!(done.status, "Succeeded", "{done:?}");

    let (code, text) = http_get(server.addr, "/metrics").await;
    assert_eq!(code, 200);
    assert_eq!(
        sample(&text, "ferrotune_trials{state=\"Succeeded\"}"),
        Some(2.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, "ferrotune_experiments{state=\"Succeeded\"}"),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, "ferrotune_reports_ingested_total"),
        Some(3.0),
        "{text}"
    );
    assert_eq!(sample(&text, "ferrotune_running_experiments"), Some(0.0));
    assert_eq!(sample(&text, "ferrotune_queued_trials"), Some(0.0));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_with_a_self_signed_certificate() {
    let ck =
        rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    let cert = ck.cert.pem();
    let key = ck.signing_key.serialize_pem();
    let server = Server::start(true, Some((cert.clone().into_bytes(), key.into_bytes()))).await;
    let ca = server.dir.path().join("ca.pem");
    std::fs::write(&ca, &cert).unwrap();
    let port = server.addr.port();

    // With the CA file, by name and by address.
    for endpoint in [
        format!("https://localhost:{port}"),
        format!("https://127.0.0.1:{port}"),
    ] {
        let conn = ferrotune_client::connect(&endpoint, Some(ADMIN), Some(&ca))
            .await
            .unwrap();
        let list = conn
            .experiments()
            .list_experiments(v1::ListExperimentsRequest::default())
            .await
            .unwrap();
        assert!(list.into_inner().experiments.is_empty());
    }

    // Trials are told the https endpoint, and report over it with their own token.
    let conn = ferrotune_client::connect(
        &format!("https://localhost:{port}"),
        Some(TEAM_A),
        Some(&ca),
    )
    .await
    .unwrap();
    conn.experiments()
        .create_experiment(create(server.experiment("secure", 1, 1)))
        .await
        .unwrap();
    let trial = server.running("secure", 1).await.remove(0);
    assert_eq!(trial.endpoint, format!("https://127.0.0.1:{port}"));
    let own = ferrotune_client::connect(&trial.endpoint, Some(&trial.token), Some(&ca))
        .await
        .unwrap();
    own.reports().report(loss(&trial.trial, 0.5)).await.unwrap();
    server.release(&trial.trial);
    let done = server.finished(&conn, "", "secure").await;
    assert_eq!(done.status, "Succeeded", "{done:?}");

    // Plain HTTP/2 gets no answer from a TLS server, and neither does a client that does
    // not trust the certificate (the system's roots do not have it).
    let refused = tokio::time::timeout(Duration::from_secs(60), async {
        match ferrotune_client::connect(&server.addr.to_string(), Some(ADMIN), None).await {
            Err(_) => true,
            Ok(c) => c
                .experiments()
                .list_experiments(v1::ListExperimentsRequest::default())
                .await
                .is_err(),
        }
    })
    .await
    .expect("a plain client is refused, not left hanging");
    assert!(
        refused,
        "a plain HTTP/2 client was answered by a TLS server"
    );
    let untrusted =
        ferrotune_client::connect(&format!("https://localhost:{port}"), Some(ADMIN), None).await;
    if let Ok(c) = untrusted {
        c.experiments()
            .list_experiments(v1::ListExperimentsRequest::default())
            .await
            .expect_err("a client that does not trust the certificate is refused");
    }
    // The HTTP endpoints are behind TLS too: plain HTTP/1.1 gets no HTTP answer.
    let mut s = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut raw = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(60), s.read_to_end(&mut raw))
        .await
        .expect("the server closes the connection");
    assert!(!raw.starts_with(b"HTTP/1.1 200"), "{raw:?}");
    server.stop().await;
}
