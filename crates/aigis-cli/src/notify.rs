//! Telling people what a run found: the `[[webhook]]`s of `aigis.toml` receive the run's events
//! — what the inventory saw change (with `--record`), a policy violation, inputs that could not
//! be scanned — once the run is over. A webhook that cannot be reached is a warning on stderr;
//! it never changes the run's exit code.

use aigis_engine::Run;
use aigis_notify::{Envelope, Event, Format, Webhook};

/// Files named in one event, at most.
const PATHS: usize = 50;

/// The events of a finished run that exits with `code`: what the inventory saw change (when
/// the run was recorded), then the run's own.
pub(crate) fn events(run: &Run, code: u8, recorded: Option<&crate::Recorded>) -> Vec<Event> {
    let mut events: Vec<Event> = recorded
        .map(|r| {
            r.events
                .iter()
                .filter_map(|e| serde_json::from_value(e.clone()).ok())
                .collect()
        })
        .unwrap_or_default();
    if code == 1 {
        let failing: Vec<_> = run
            .results
            .iter()
            .filter(|r| r.max_severity.is_some_and(|s| s >= run.fail_on))
            .collect();
        let worst = run
            .max_severity()
            .map_or("high".to_owned(), |s| s.to_string());
        events.push(Event {
            paths: failing.iter().take(PATHS).map(|r| r.path.clone()).collect(),
            ..Event::new(
                "POLICY_VIOLATION",
                &worst,
                format!(
                    "{} file{} with findings at or above {} (worst: {worst})",
                    failing.len(),
                    if failing.len() == 1 { "" } else { "s" },
                    run.fail_on
                ),
            )
        });
    }
    let unfinished: Vec<_> = run.incomplete().collect();
    if !unfinished.is_empty() || !run.empty_targets.is_empty() {
        let mut paths: Vec<String> = unfinished.iter().map(|r| r.path.clone()).collect();
        paths.extend(run.empty_targets.iter().cloned());
        let mut message = format!(
            "{} input{} could not be scanned to the end",
            unfinished.len(),
            if unfinished.len() == 1 { "" } else { "s" }
        );
        if !run.empty_targets.is_empty() {
            message.push_str(&format!(
                "; {} target{} held nothing to scan",
                run.empty_targets.len(),
                if run.empty_targets.len() == 1 {
                    ""
                } else {
                    "s"
                }
            ));
        }
        events.push(Event {
            paths: paths.into_iter().take(PATHS).collect(),
            ..Event::new("SCAN_FAILED", "high", message)
        });
    }
    events
}

/// Sends `events` to the policy's webhooks and warns about those not delivered.
pub(crate) fn send(
    hooks: &[aigis_policy::Webhook],
    events: &[Event],
    collector: &str,
    targets: &[String],
    scan_id: Option<i64>,
) {
    if hooks.is_empty() || events.is_empty() {
        return;
    }
    let mut ready = Vec::new();
    for hook in hooks {
        let secret = match &hook.secret_env {
            None => None,
            Some(name) => match std::env::var(name) {
                Ok(value) if !value.is_empty() => Some(value.into_bytes()),
                _ => {
                    // Unsigned would be refused by a receiver that checks; say so instead.
                    crate::view::warn(&format!(
                        "webhook {}: not sent: its secret variable {name} is not set",
                        Webhook::new(hook.url.clone(), &[]).display_url()
                    ));
                    continue;
                }
            },
        };
        ready.push(Webhook {
            secret,
            format: match hook.format {
                aigis_policy::WebhookFormat::Json => Format::Json,
                aigis_policy::WebhookFormat::Slack => Format::Slack,
            },
            retries: hook.retries,
            ..Webhook::new(
                hook.url.clone(),
                &hook.events.iter().map(String::as_str).collect::<Vec<_>>(),
            )
        });
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let host = crate::view::host_name().unwrap_or_else(|| "localhost".to_owned());
    let delivery = format!("{:x}-{:x}", now.as_nanos(), std::process::id());
    let envelope = Envelope {
        source: "aigis",
        version: env!("CARGO_PKG_VERSION").to_owned(),
        delivery,
        sent_at: crate::view::rfc3339(now.as_secs()),
        host,
        collector: collector.to_owned(),
        scan_id,
        targets: targets.to_vec(),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build();
    let deliveries = match runtime {
        Ok(rt) => rt.block_on(aigis_notify::deliver_all(&ready, &envelope, events)),
        Err(err) => {
            crate::view::warn(&format!("webhooks not sent: {err}"));
            return;
        }
    };
    for delivery in deliveries {
        if let Err(err) = &delivery.outcome {
            crate::view::warn(&format!(
                "webhook {}: {} event{} not delivered after {} attempt{}: {err}",
                delivery.url,
                delivery.events,
                if delivery.events == 1 { "" } else { "s" },
                delivery.attempts,
                if delivery.attempts == 1 { "" } else { "s" },
            ));
        }
    }
}
