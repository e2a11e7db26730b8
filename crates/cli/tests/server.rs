//! `ferrotune server`: loopback by default, refuses other addresses without --insecure,
//! answers on the address it prints, and stops cleanly on SIGTERM.

mod common;

use common::*;
use std::io::{BufRead, BufReader};
use std::process::Stdio;

#[test]
fn a_non_loopback_address_is_refused_without_insecure() {
    let sb = Sandbox::new();
    let out = sb.run(&["server", "--listen", "0.0.0.0:0"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("--listen 0.0.0.0:0 is not a loopback address"),
        "{err}"
    );
    assert!(err.contains("--insecure"), "{err}");
}

#[test]
fn a_report_queue_limit_of_zero_is_refused() {
    let sb = Sandbox::new();
    let out = sb.run(&["server", "--report-queue-limit", "0"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("--report-queue-limit"), "{err}");
}

#[test]
fn serves_on_loopback_and_stops_on_sigterm() {
    let sb = Sandbox::new();
    let mut child = sb
        .cmd(&["server", "--listen", "127.0.0.1:0"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stderr.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .strip_prefix("ferrotune server listening on http://")
        .and_then(|r| r.split_whitespace().next())
        .unwrap_or_else(|| panic!("{line}"));
    assert!(addr.starts_with("127.0.0.1:"), "{addr}");
    // Something answers there (the gRPC services themselves are tested in crates/server).
    std::net::TcpStream::connect(addr).expect("the server accepts connections");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
}

/// Named like the store's PostgreSQL tests, so that scripts/test.sh skips them together (and
/// loudly) on a machine without PostgreSQL outside CI.
mod postgres_store {
    use super::*;

    #[test]
    fn the_server_serves_with_a_postgresql_database() {
        let url = std::env::var("FERROTUNE_TEST_POSTGRES").unwrap_or_else(|_| {
            panic!(
                "FERROTUNE_TEST_POSTGRES is not set: run ./scripts/test.sh, which finds PostgreSQL"
            )
        });
        let sb = Sandbox::new();
        let mut child = sb
            .cmd(&["server", "--listen", "127.0.0.1:0", "--db", &url])
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stderr.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert!(
            line.starts_with("ferrotune server listening on http://127.0.0.1:"),
            "{line}"
        );
        assert!(line.contains(&format!("database {url}")), "{line}");
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(child.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        )
        .unwrap();
        assert!(child.wait().unwrap().success());
    }
}

#[test]
fn a_wildcard_address_needs_tokens_or_insecure() {
    let sb = Sandbox::new();
    let out = sb.run(&["server", "--listen", "0.0.0.0:0"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("--tokens"), "{err}");
    assert!(err.contains("--insecure"), "{err}");
    // A tokens file that is not valid is refused before anything listens, naming the entry.
    let bad = sb.write(
        "bad-tokens.yaml",
        "tokens:\n  - {token: short, admin: true}\n",
    );
    let out = sb.run(&[
        "server",
        "--listen",
        "0.0.0.0:0",
        "--tokens",
        bad.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("tokens[0].token"), "{}", stderr(&out));
    // With a valid one it serves, and says that it wants tokens.
    let good = sb.write(
        "tokens.yaml",
        "tokens:\n  - {token: 0123456789abcdef0123, admin: true}\n",
    );
    let mut child = sb
        .cmd(&[
            "server",
            "--listen",
            "0.0.0.0:0",
            "--tokens",
            good.to_str().unwrap(),
        ])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stderr.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(
        line.starts_with("ferrotune server listening on http://0.0.0.0:"),
        "{line}"
    );
    assert!(line.contains("tokens required"), "{line}");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    assert!(child.wait().unwrap().success());
}
