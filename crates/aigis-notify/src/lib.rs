//! Run events delivered to webhooks.
//!
//! A run (a scan, a discovery, a BOM) may produce events: content replaced at a known location,
//! a new unsafe model, a policy violation, inputs that could not be scanned. Each configured
//! [`Webhook`] receives the events it subscribed to in **one POST per run**:
//!
//! - **JSON** (the default): the [`Envelope`] with an `events` array. With a shared secret the
//!   body is signed: `X-Aigis-Signature-256: sha256=<hex HMAC-SHA256 of the exact body>` (the
//!   receiver recomputes it over the raw bytes and compares in constant time; `sent_at` and the
//!   `X-Aigis-Delivery` id let it refuse replays).
//! - **Slack**: a Slack incoming-webhook message (`{"text": …}`), with Slack's control
//!   characters escaped so a hostile file name cannot forge a link or a mention.
//!
//! Delivery retries connection failures, timeouts, `408`, `429` and `5xx` with exponential
//! backoff (honouring `Retry-After`), never follows redirects, and never prints a webhook URL
//! beyond its scheme and host (Slack URLs are secrets).

use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use std::time::Duration;

/// Longest wait between attempts, and the most of a `Retry-After` that is honoured.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// Events listed in one Slack message; the rest are counted.
const SLACK_LINES: usize = 20;

/// How a webhook wants its body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// The JSON envelope, signed when a secret is set.
    Json,
    /// A Slack incoming-webhook message.
    Slack,
}

/// One configured receiver.
#[derive(Debug, Clone)]
pub struct Webhook {
    /// Where to POST (`http://` or `https://`).
    pub url: String,
    /// The shared HMAC secret, when the receiver checks signatures.
    pub secret: Option<Vec<u8>>,
    /// Event kinds it receives (`aigis.toml` fills in the defaults).
    pub events: Vec<String>,
    /// Body format.
    pub format: Format,
    /// Attempts after the first.
    pub retries: u32,
    /// The first backoff; each retry doubles it (up to 30 s).
    pub backoff: Duration,
    /// Time allowed for one attempt.
    pub timeout: Duration,
}

impl Webhook {
    /// A JSON webhook for these events, 4 retries from 500 ms, 10 s per attempt.
    pub fn new(url: impl Into<String>, events: &[&str]) -> Webhook {
        Webhook {
            url: url.into(),
            secret: None,
            events: events.iter().map(|e| (*e).to_owned()).collect(),
            format: Format::Json,
            retries: 4,
            backoff: Duration::from_millis(500),
            timeout: Duration::from_secs(10),
        }
    }

    /// Whether it receives events of this kind.
    pub fn wants(&self, kind: &str) -> bool {
        self.events.iter().any(|e| e == kind)
    }

    /// The URL as it may be shown: scheme and host only (a Slack webhook URL is a secret).
    pub fn display_url(&self) -> String {
        match reqwest::Url::parse(&self.url) {
            Ok(url) => format!(
                "{}://{}{}",
                url.scheme(),
                url.host_str().unwrap_or("?"),
                url.port().map(|p| format!(":{p}")).unwrap_or_default()
            ),
            Err(_) => "(invalid URL)".to_owned(),
        }
    }
}

/// One event (read back from the inventory's change rows by field name).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Event {
    /// `NEW_UNSAFE_MODEL`, `MODEL_REPLACED`, `MODEL_DISAPPEARED`, `POLICY_VIOLATION`,
    /// `SCAN_FAILED`.
    pub kind: String,
    /// `critical` … `info`.
    pub severity: String,
    /// What happened, in a sentence.
    pub message: String,
    /// Where (a location URI), when the event is about one place.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// The content before (a replacement, a disappearance).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old_sha256: Option<String>,
    /// The content now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_sha256: Option<String>,
    /// The verdict before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old_verdict: Option<String>,
    /// The verdict now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_verdict: Option<String>,
    /// The files concerned (a policy violation, a failed scan), at most a few dozen.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub paths: Vec<String>,
}

impl Event {
    /// An event with only a kind, a severity and a message.
    pub fn new(kind: &str, severity: &str, message: impl Into<String>) -> Event {
        Event {
            kind: kind.to_owned(),
            severity: severity.to_owned(),
            message: message.into(),
            location: None,
            old_sha256: None,
            new_sha256: None,
            old_verdict: None,
            new_verdict: None,
            paths: Vec::new(),
        }
    }
}

/// What every delivery says about the run.
#[derive(Debug, Clone, Serialize)]
pub struct Envelope {
    /// Always `aigis`.
    pub source: &'static str,
    /// The aigis version.
    pub version: String,
    /// A unique id for this delivery (also the `X-Aigis-Delivery` header).
    pub delivery: String,
    /// When it was sent (RFC 3339, UTC).
    pub sent_at: String,
    /// The host the run was on.
    pub host: String,
    /// `scan`, `discover`, `bom`.
    pub collector: String,
    /// The inventory scan id, when the run was recorded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scan_id: Option<i64>,
    /// What was scanned.
    pub targets: Vec<String>,
}

/// The outcome of delivering to one webhook.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// The webhook, as it may be shown ([`Webhook::display_url`]).
    pub url: String,
    /// Events delivered (or attempted).
    pub events: usize,
    /// Attempts made.
    pub attempts: u32,
    /// The receiver's final status, or why it never answered with success.
    pub outcome: Result<u16, NotifyError>,
}

/// Why a delivery failed.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum NotifyError {
    /// The receiver answered, but not with success.
    #[error("the receiver answered HTTP {0}")]
    Status(u16),
    /// No answer (connection refused, a timeout, TLS).
    #[error("no answer: {0}")]
    Transport(String),
    /// The webhook's URL or the client could not be set up.
    #[error("{0}")]
    Setup(String),
}

/// `sha256=<hex>`: the HMAC-SHA256 of `body` under `secret`, as sent in
/// `X-Aigis-Signature-256`.
pub fn signature(secret: &[u8], body: &[u8]) -> String {
    // HMAC accepts keys of any length, so this cannot fail; an empty MAC is never sent.
    match <Hmac<Sha256> as KeyInit>::new_from_slice(secret) {
        Ok(mut mac) => {
            mac.update(body);
            format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
        }
        Err(_) => String::new(),
    }
}

/// The body a webhook receives for these events (already filtered for it).
pub fn body(hook: &Webhook, envelope: &Envelope, events: &[&Event]) -> Vec<u8> {
    let value = match hook.format {
        Format::Json => {
            let mut value = serde_json::to_value(envelope).unwrap_or_default();
            value["events"] = serde_json::to_value(events).unwrap_or_default();
            value
        }
        Format::Slack => serde_json::json!({ "text": slack_text(envelope, events) }),
    };
    serde_json::to_vec(&value).unwrap_or_default()
}

/// A Slack message: a header line and one line per event (up to [`SLACK_LINES`]).
fn slack_text(envelope: &Envelope, events: &[&Event]) -> String {
    let mut text = format!(
        "*aigis* {} on `{}`: {} event{}",
        slack_escape(&envelope.collector),
        slack_escape(&envelope.host),
        events.len(),
        if events.len() == 1 { "" } else { "s" }
    );
    for event in events.iter().take(SLACK_LINES) {
        text.push_str(&format!(
            "\n• *{}* [{}] {}",
            slack_escape(&event.kind),
            slack_escape(&event.severity),
            slack_escape(&event.message)
        ));
    }
    if events.len() > SLACK_LINES {
        text.push_str(&format!("\n…and {} more", events.len() - SLACK_LINES));
    }
    text
}

/// Escapes what Slack reads as markup (`&`, `<`, `>`: links, mentions, `<!channel>`) and drops
/// control characters (a file name must not start a new line of the message).
pub fn slack_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// Delivers `events` to every webhook that wants some of them, concurrently. Webhooks that
/// want none of them are not called.
pub async fn deliver_all(
    hooks: &[Webhook],
    envelope: &Envelope,
    events: &[Event],
) -> Vec<Delivery> {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("aigis/", env!("CARGO_PKG_VERSION")))
        .build();
    let client = match client {
        Ok(client) => client,
        Err(err) => {
            return hooks
                .iter()
                .map(|hook| Delivery {
                    url: hook.display_url(),
                    events: 0,
                    attempts: 0,
                    outcome: Err(NotifyError::Setup(format!("HTTP client: {err}"))),
                })
                .collect();
        }
    };
    let mut pending = Vec::new();
    for hook in hooks {
        let wanted: Vec<&Event> = events.iter().filter(|e| hook.wants(&e.kind)).collect();
        if !wanted.is_empty() {
            pending.push(deliver(&client, hook, envelope, wanted));
        }
    }
    // Concurrently: a slow receiver does not hold up the others.
    futures_util::future::join_all(pending).await
}

/// Delivers one body to one webhook, retrying as the module documentation says.
async fn deliver(
    client: &reqwest::Client,
    hook: &Webhook,
    envelope: &Envelope,
    events: Vec<&Event>,
) -> Delivery {
    let mut delivery = Delivery {
        url: hook.display_url(),
        events: events.len(),
        attempts: 0,
        outcome: Err(NotifyError::Setup("not attempted".into())),
    };
    let url = match reqwest::Url::parse(&hook.url) {
        Ok(url) if matches!(url.scheme(), "http" | "https") => url,
        _ => {
            delivery.outcome = Err(NotifyError::Setup(
                "the webhook URL must be http:// or https://".into(),
            ));
            return delivery;
        }
    };
    let body = body(hook, envelope, &events);
    let mut kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
    kinds.sort_unstable();
    kinds.dedup();
    let mut backoff = hook.backoff;
    loop {
        delivery.attempts += 1;
        let mut request = client
            .post(url.clone())
            .timeout(hook.timeout)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("X-Aigis-Event", kinds.join(","))
            .header("X-Aigis-Delivery", &envelope.delivery)
            .body(body.clone());
        if let Some(secret) = &hook.secret {
            request = request.header("X-Aigis-Signature-256", signature(secret, &body));
        }
        let (outcome, retry_after) = match request.send().await {
            Ok(response) => {
                let status = response.status();
                let retry_after = response
                    .headers()
                    .get(reqwest::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .map(Duration::from_secs);
                if status.is_success() {
                    delivery.outcome = Ok(status.as_u16());
                    return delivery;
                }
                let retryable = status.is_server_error()
                    || status == reqwest::StatusCode::REQUEST_TIMEOUT
                    || status == reqwest::StatusCode::TOO_MANY_REQUESTS;
                let outcome = NotifyError::Status(status.as_u16());
                if !retryable {
                    delivery.outcome = Err(outcome);
                    return delivery;
                }
                (outcome, retry_after)
            }
            Err(err) => (NotifyError::Transport(transport_error(&err)), None),
        };
        delivery.outcome = Err(outcome);
        if delivery.attempts > hook.retries {
            return delivery;
        }
        let wait = retry_after.unwrap_or(backoff).min(MAX_BACKOFF);
        tokio::time::sleep(wait).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// Pushes a scan report (the JSON contract document) to an `aigis serve` inventory:
/// `POST {server}/api/v1/scans?host={host}` with a bearer token holding the `ingest` scope.
/// Retried like a webhook delivery (server errors, 408, 429 and transport errors, with
/// backoff); returns the server's answer (what the inventory saw change).
pub async fn push_report(
    server: &str,
    token: &str,
    host: &str,
    report: &[u8],
    retries: u32,
) -> Result<String, NotifyError> {
    let mut url = reqwest::Url::parse(server)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https"))
        .ok_or_else(|| NotifyError::Setup("the server URL must be http:// or https://".into()))?;
    url.set_path(&format!(
        "{}/api/v1/scans",
        url.path().trim_end_matches('/')
    ));
    url.query_pairs_mut().clear().append_pair("host", host);
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("aigis/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| NotifyError::Setup(format!("HTTP client: {e}")))?;
    let mut backoff = Duration::from_millis(500);
    let mut attempts = 0;
    loop {
        attempts += 1;
        let sent = client
            .post(url.clone())
            .timeout(Duration::from_secs(30))
            .bearer_auth(token)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(report.to_vec())
            .send()
            .await;
        let error = match sent {
            Ok(response) if response.status().is_success() => {
                return response
                    .text()
                    .await
                    .map_err(|e| NotifyError::Transport(transport_error(&e)));
            }
            Ok(response) => {
                let status = response.status();
                let retryable = status.is_server_error()
                    || status == reqwest::StatusCode::REQUEST_TIMEOUT
                    || status == reqwest::StatusCode::TOO_MANY_REQUESTS;
                if !retryable {
                    return Err(NotifyError::Status(status.as_u16()));
                }
                NotifyError::Status(status.as_u16())
            }
            Err(err) => NotifyError::Transport(transport_error(&err)),
        };
        if attempts > retries {
            return Err(error);
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// A transport error without the URL (which may hold a secret).
fn transport_error(err: &reqwest::Error) -> String {
    let kind = if err.is_timeout() {
        "timed out"
    } else if err.is_connect() {
        "could not connect"
    } else if err.is_redirect() {
        "redirected (webhooks are not followed through redirects)"
    } else {
        "request failed"
    };
    let mut source = std::error::Error::source(err);
    let mut detail = String::new();
    while let Some(cause) = source {
        detail = cause.to_string();
        source = cause.source();
    }
    if detail.is_empty() {
        kind.to_owned()
    } else {
        format!("{kind} ({detail})")
    }
}

#[cfg(test)]
mod tests;
