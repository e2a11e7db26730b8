//! A Python client generated from the project's Katib-compatible .proto calls
//! GetSuggestions, ValidateAlgorithmSettings and GetEarlyStoppingRules the way Katib's
//! controller does (`tests/katib_client.py`, with grpcio and grpcio-tools from the test
//! venv that `./scripts/test.sh` makes and puts first on PATH).

mod common;

use std::io::Read;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The whole script takes a few seconds; this is only so that a hang fails the test.
const DEADLINE: Duration = Duration::from_secs(300);

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Runs `cmd` to its end, or kills it after `deadline`; stdout and stderr are collected.
fn run_with_deadline(mut cmd: Command, deadline: Duration) -> (Output, bool) {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 starts (run ./scripts/test.sh, which puts the test venv on PATH)");
    let drain = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = r.read_to_end(&mut buf);
            buf
        })
    };
    let stdout = drain(Box::new(child.stdout.take().unwrap()));
    let stderr = drain(Box::new(child.stderr.take().unwrap()));
    let started = Instant::now();
    let mut timed_out = false;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > deadline {
            timed_out = true;
            let _ = child.kill();
            break child.wait().unwrap();
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let output = Output {
        status,
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
    };
    (output, timed_out)
}

#[tokio::test]
async fn a_python_grpcio_client_calls_the_services_as_katibs_controller_does() {
    // grpcio and grpcio-tools come from the test venv: without them this test fails (a
    // skipped test would hide that the client was never run).
    let probe = Command::new("python3")
        .args(["-c", "import grpc, grpc_tools"])
        .output();
    match probe {
        Err(e) => panic!(
            "python3 is not on PATH ({e}): run ./scripts/test.sh, which makes the test venv \
             (scripts/requirements-test.txt) and puts it first on PATH"
        ),
        Ok(o) if !o.status.success() => panic!(
            "python3 cannot import grpc_tools (grpcio, grpcio-tools): run ./scripts/test.sh, \
             which makes the test venv (scripts/requirements-test.txt) and puts it first on \
             PATH\n{}",
            text(&o.stderr)
        ),
        Ok(_) => {}
    }

    let (addr, _store_dir) = common::serve_default().await;
    let addr = addr.to_string();
    let dir = env!("CARGO_MANIFEST_DIR");
    let script = format!("{dir}/tests/katib_client.py");
    let proto = format!("{dir}/../../proto/katib/api.proto");
    let mut cmd = Command::new("python3");
    cmd.args([script.as_str(), addr.as_str(), "--proto", proto.as_str()]);
    // On a blocking thread, so that this runtime goes on serving the script's calls.
    let (out, timed_out) = tokio::task::spawn_blocking(move || run_with_deadline(cmd, DEADLINE))
        .await
        .unwrap();
    let report = format!(
        "--- stdout\n{}\n--- stderr\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert!(
        !timed_out,
        "katib_client.py was still running after {DEADLINE:?}\n{report}"
    );
    assert!(
        out.status.success(),
        "katib_client.py failed ({})\n{report}",
        out.status
    );
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("checks passed"),
        "katib_client.py printed no summary\n{report}"
    );
    // Its summary line, visible with --nocapture.
    println!("{}", stdout.lines().last().unwrap_or_default());
}
