//! Deliveries to a real HTTP receiver on loopback (a thread answering with scripted statuses
//! and keeping what it was sent).

use super::*;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

/// One request as the receiver saw it.
#[derive(Debug, Clone)]
struct Received {
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Received {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("body is not JSON: {e}"))
    }
}

/// A receiver answering each request with the next status of `script` (the last one repeats).
fn receiver(script: &[(u16, &'static str)]) -> (String, Arc<Mutex<Vec<Received>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("bind: {e}"));
    let url = format!(
        "http://{}/hook/SECRET-TOKEN-IN-PATH",
        listener.local_addr().unwrap_or_else(|e| panic!("{e}"))
    );
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    let script = script.to_vec();
    std::thread::spawn(move || {
        for (n, stream) in listener.incoming().enumerate() {
            let Ok(mut stream) = stream else { return };
            let mut reader = BufReader::new(stream.try_clone().unwrap_or_else(|e| panic!("{e}")));
            let mut headers = Vec::new();
            let mut line = String::new();
            let _ = reader.read_line(&mut line); // request line
            loop {
                line.clear();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
                    break;
                }
                if let Some((name, value)) = line.trim_end().split_once(':') {
                    headers.push((name.trim().to_owned(), value.trim().to_owned()));
                }
            }
            let length = headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
                .and_then(|(_, v)| v.parse::<usize>().ok())
                .unwrap_or(0);
            let mut body = vec![0; length];
            let _ = reader.read_exact(&mut body);
            log.lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(Received { headers, body });
            let (status, extra) = script[n.min(script.len() - 1)];
            let _ = write!(
                stream,
                "HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n{extra}\r\n"
            );
        }
    });
    (url, seen)
}

fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("{e}"))
        .block_on(future)
}

fn envelope() -> Envelope {
    Envelope {
        source: "aigis",
        version: "0.1.0".into(),
        delivery: "d-1".into(),
        sent_at: "2026-12-03T12:00:00Z".into(),
        host: "build-01".into(),
        collector: "scan".into(),
        scan_id: Some(7),
        targets: vec!["/srv/models".into()],
    }
}

fn replaced() -> Event {
    Event {
        location: Some("file://build-01/srv/models/resnet.pt".into()),
        old_sha256: Some("a".repeat(64)),
        new_sha256: Some("c".repeat(64)),
        old_verdict: Some("none".into()),
        new_verdict: Some("critical".into()),
        ..Event::new(
            "MODEL_REPLACED",
            "critical",
            "content at file://build-01/srv/models/resnet.pt was replaced",
        )
    }
}

fn quick(url: &str) -> Webhook {
    Webhook {
        backoff: Duration::from_millis(10),
        timeout: Duration::from_secs(5),
        ..Webhook::new(
            url,
            &[
                "NEW_UNSAFE_MODEL",
                "MODEL_REPLACED",
                "POLICY_VIOLATION",
                "SCAN_FAILED",
            ],
        )
    }
}

#[test]
fn a_signed_json_delivery_carries_the_events_and_a_signature_over_the_exact_body() {
    let (url, seen) = receiver(&[(204, "")]);
    let hook = Webhook {
        secret: Some(b"shared-secret".to_vec()),
        ..quick(&url)
    };
    let events = [
        replaced(),
        Event::new("MODEL_DISAPPEARED", "info", "gone"), // not subscribed to
    ];
    let out = block_on(deliver_all(&[hook], &envelope(), &events));
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].outcome, Ok(204));
    assert_eq!((out[0].attempts, out[0].events), (1, 1));
    assert!(!out[0].url.contains("SECRET"), "{}", out[0].url);
    let seen = seen.lock().unwrap_or_else(|p| p.into_inner()).clone();
    assert_eq!(seen.len(), 1);
    let request = &seen[0];
    assert_eq!(
        request.header("X-Aigis-Signature-256"),
        Some(signature(b"shared-secret", &request.body).as_str())
    );
    // Independently: the known HMAC-SHA256 test vector (RFC 4231 case 2).
    assert_eq!(
        signature(b"Jefe", b"what do ya want for nothing?"),
        "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    );
    assert_eq!(request.header("X-Aigis-Event"), Some("MODEL_REPLACED"));
    assert_eq!(request.header("X-Aigis-Delivery"), Some("d-1"));
    assert_eq!(request.header("content-type"), Some("application/json"));
    let body = request.json();
    assert_eq!(body["source"], "aigis");
    assert_eq!(body["scan_id"], 7);
    assert_eq!(body["events"].as_array().map(Vec::len), Some(1));
    assert_eq!(body["events"][0]["kind"], "MODEL_REPLACED");
    assert_eq!(body["events"][0]["new_verdict"], "critical");
}

#[test]
fn server_errors_and_rate_limits_are_retried_with_backoff_then_delivered() {
    let (url, seen) = receiver(&[(503, ""), (429, "retry-after: 0\r\n"), (200, "")]);
    let out = block_on(deliver_all(&[quick(&url)], &envelope(), &[replaced()]));
    assert_eq!(out[0].outcome, Ok(200));
    assert_eq!(out[0].attempts, 3);
    let seen = seen.lock().unwrap_or_else(|p| p.into_inner());
    assert_eq!(seen.len(), 3);
    // Every attempt is the same delivery: the same body and id.
    assert!(seen.iter().all(|r| r.body == seen[0].body));
}

#[test]
fn a_receiver_that_keeps_failing_gets_one_try_plus_the_retries_and_the_failure_is_reported() {
    let (url, seen) = receiver(&[(500, "")]);
    let hook = Webhook {
        retries: 2,
        ..quick(&url)
    };
    let out = block_on(deliver_all(&[hook], &envelope(), &[replaced()]));
    assert_eq!(out[0].outcome, Err(NotifyError::Status(500)));
    assert_eq!(out[0].attempts, 3);
    assert_eq!(seen.lock().unwrap_or_else(|p| p.into_inner()).len(), 3);
}

#[test]
fn client_errors_and_redirects_are_not_retried_or_followed() {
    for (status, extra) in [
        (400, ""),
        (302, "location: http://127.0.0.1:9/elsewhere\r\n"),
    ] {
        let (url, seen) = receiver(&[(status, extra)]);
        let out = block_on(deliver_all(&[quick(&url)], &envelope(), &[replaced()]));
        assert_eq!(out[0].outcome, Err(NotifyError::Status(status)));
        assert_eq!(out[0].attempts, 1);
        assert_eq!(seen.lock().unwrap_or_else(|p| p.into_inner()).len(), 1);
    }
}

#[test]
fn an_unreachable_receiver_is_a_transport_failure_after_the_retries() {
    // A port nothing listens on: bind, read the port, close.
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("{e}"));
    let hook = Webhook {
        retries: 1,
        ..quick(&format!("http://127.0.0.1:{port}/hook"))
    };
    let out = block_on(deliver_all(&[hook], &envelope(), &[replaced()]));
    assert!(
        matches!(&out[0].outcome, Err(NotifyError::Transport(m)) if m.contains("could not connect")),
        "{:?}",
        out[0].outcome
    );
    assert_eq!(out[0].attempts, 2);
}

#[test]
fn slack_messages_escape_what_slack_would_read_as_markup() {
    let (url, seen) = receiver(&[(200, "")]);
    let hook = Webhook {
        format: Format::Slack,
        ..quick(&url)
    };
    let hostile = Event::new(
        "POLICY_VIOLATION",
        "critical",
        "models/<!channel> <http://evil|click>&\nfake line.pkl calls os.system",
    );
    let out = block_on(deliver_all(&[hook], &envelope(), &[hostile]));
    assert_eq!(out[0].outcome, Ok(200));
    let seen = seen.lock().unwrap_or_else(|p| p.into_inner());
    let body = seen[0].json();
    let text = body["text"].as_str().unwrap_or_default();
    assert!(
        text.starts_with("*aigis* scan on `build-01`: 1 event"),
        "{text}"
    );
    assert!(
        text.contains("&lt;!channel&gt; &lt;http://evil|click&gt;&amp; fake line.pkl"),
        "{text}"
    );
    assert!(!text.contains('<') && !text.contains("\nfake"), "{text}");
    assert_eq!(text.lines().count(), 2, "{text}");
}

#[test]
fn webhooks_get_only_the_events_they_subscribed_to_and_none_get_no_request() {
    let (only_failures, seen_failures) = receiver(&[(200, "")]);
    let (everything, seen_everything) = receiver(&[(200, "")]);
    let hooks = [
        Webhook {
            events: vec!["SCAN_FAILED".into()],
            ..quick(&only_failures)
        },
        Webhook {
            events: vec!["MODEL_REPLACED".into(), "MODEL_DISAPPEARED".into()],
            ..quick(&everything)
        },
    ];
    let events = [replaced(), Event::new("MODEL_DISAPPEARED", "info", "gone")];
    let out = block_on(deliver_all(&hooks, &envelope(), &events));
    assert_eq!(
        out.len(),
        1,
        "only the subscribed webhook is called: {out:?}"
    );
    assert!(
        seen_failures
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_empty()
    );
    let seen = seen_everything.lock().unwrap_or_else(|p| p.into_inner());
    assert_eq!(seen[0].json()["events"].as_array().map(Vec::len), Some(2));
    assert_eq!(
        seen[0].header("X-Aigis-Event"),
        Some("MODEL_DISAPPEARED,MODEL_REPLACED")
    );
}

#[test]
fn only_http_urls_are_delivered_to() {
    let out = block_on(deliver_all(
        &[quick("file:///etc/passwd")],
        &envelope(),
        &[replaced()],
    ));
    assert!(matches!(out[0].outcome, Err(NotifyError::Setup(_))));
    assert_eq!(out[0].attempts, 0);
}
