//! `aigis serve` as a user runs it: a token made on the command line, a report pushed over
//! HTTP by the binary's own server, SIGTERM stopping it cleanly.

use crate::support::{aigis_command, repo_root, temp_dir};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::Stdio;

/// One HTTP/1.1 request; returns the status code and the body.
fn http(addr: &str, method: &str, path: &str, token: Option<&str>, body: &[u8]) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).unwrap_or_else(|e| panic!("{addr}: {e}"));
    let auth = token.map_or(String::new(), |t| format!("authorization: Bearer {t}\r\n"));
    let head = format!(
        "{method} {path} HTTP/1.1\r\nhost: {addr}\r\n{auth}content-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    stream
        .write_all(head.as_bytes())
        .and_then(|()| stream.write_all(body))
        .unwrap_or_else(|e| panic!("{e}"));
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

pub(crate) fn serve_takes_pushed_reports_with_a_token_and_stops_on_sigterm() {
    let dir = temp_dir();
    let db = format!("sqlite:{}", dir.path().join("inventory.db").display());
    let out = aigis_command()
        .env("AIGIS_DB", &db)
        .args([
            "serve", "token", "create", "--name", "ci", "--scope", "ingest",
        ])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    assert!(token.starts_with("aigis_"), "{token}");
    let report = aigis_command()
        .args(["scan", "--no-cache", "--format", "json"])
        .arg(repo_root().join("examples/rigged-model.pkl"))
        .output()
        .unwrap_or_else(|e| panic!("{e}"));

    let mut server = aigis_command()
        .env("AIGIS_DB", &db)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    let mut stderr = BufReader::new(server.stderr.take().unwrap_or_else(|| panic!("stderr")));
    let mut line = String::new();
    stderr
        .read_line(&mut line)
        .unwrap_or_else(|e| panic!("{e}"));
    let addr = line
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .to_owned();

    let (status, body) = http(&addr, "GET", "/healthz", None, b"");
    assert_eq!(status, 200, "{body}");
    let (status, _) = http(&addr, "POST", "/api/v1/scans", None, &report.stdout);
    assert_eq!(status, 401);
    let (status, body) = http(
        &addr,
        "POST",
        "/api/v1/scans?host=ci-7",
        Some(&token),
        &report.stdout,
    );
    assert_eq!(status, 201, "{body}");
    assert!(body.contains("NEW_UNSAFE_MODEL"), "{body}");
    let (status, body) = http(&addr, "GET", "/api/v1/findings", None, b"");
    assert_eq!(status, 200);
    assert!(body.contains("rigged-model.pkl"), "{body}");

    let pid = server.id().to_string();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap_or_else(|e| panic!("kill: {e}"));
    assert!(killed.success());
    let status = server.wait().unwrap_or_else(|e| panic!("{e}"));
    let mut rest = String::new();
    let _ = stderr.read_to_string(&mut rest);
    assert_eq!(status.code(), Some(0), "{rest}");
    assert!(rest.contains("server stopped"), "{rest}");
}
