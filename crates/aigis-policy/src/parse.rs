//! Reading `aigis.toml`: TOML syntax through the `toml` crate, then every value checked, each
//! error pointing at the line and column of the offending key or value.

use crate::{
    Date, Diagnostic, PathGlob, Policy, PolicyError, Suppression, WEBHOOK_EVENTS, Webhook,
    WebhookFormat,
};
use aigis_scan::{RuleId, Severity};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::ops::Range;
use toml::Spanned;

/// The file as written, every value with its span.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    fail_on: Option<Spanned<String>>,
    on_incomplete: Option<Spanned<String>>,
    #[serde(default)]
    include: Vec<Spanned<String>>,
    #[serde(default)]
    exclude: Vec<Spanned<String>>,
    #[serde(default)]
    allow_globals: Vec<Spanned<String>>,
    #[serde(default)]
    deny_globals: Vec<Spanned<String>>,
    #[serde(default)]
    severity: BTreeMap<Spanned<String>, Spanned<String>>,
    #[serde(default)]
    suppress: Vec<Spanned<RawSuppression>>,
    #[serde(default)]
    discover_roots: Vec<String>,
    #[serde(default)]
    require_signature: Vec<Spanned<String>>,
    #[serde(default)]
    webhook: Vec<Spanned<RawWebhook>>,
    #[serde(default)]
    deny_licenses: Vec<Spanned<String>>,
    #[serde(default)]
    allow_licenses: Vec<Spanned<String>>,
    require_license: Option<Spanned<toml::Value>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWebhook {
    url: Option<Spanned<String>>,
    secret_env: Option<Spanned<String>>,
    #[serde(default)]
    events: Vec<Spanned<String>>,
    format: Option<Spanned<String>>,
    retries: Option<Spanned<i64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSuppression {
    rule: Option<Spanned<String>>,
    path: Option<Spanned<String>>,
    sha256: Option<Spanned<String>>,
    reason: Option<Spanned<String>>,
    expires: Option<Spanned<toml::Value>>,
}

/// Collects diagnostics with positions in one text.
struct Checker<'a> {
    text: &'a str,
    diagnostics: Vec<Diagnostic>,
}

impl Checker<'_> {
    fn error(&mut self, span: Range<usize>, message: impl Into<String>) {
        let (line, column) = line_column(self.text, span.start);
        self.diagnostics.push(Diagnostic {
            line,
            column,
            message: message.into(),
        });
    }
}

/// 1-based line and column (in characters) of a byte offset.
pub(crate) fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

/// Parses and validates a policy text. `origin` names it in error messages.
pub(crate) fn parse(text: &str, origin: &str) -> Result<Policy, PolicyError> {
    let raw: RawPolicy = toml::from_str(text).map_err(|err| {
        let (line, column) = err
            .span()
            .map_or((1, 1), |span| line_column(text, span.start));
        PolicyError::Invalid {
            origin: origin.to_string(),
            diagnostics: vec![Diagnostic {
                line,
                column,
                message: err.message().trim().to_string(),
            }],
        }
    })?;
    let mut check = Checker {
        text,
        diagnostics: Vec::new(),
    };
    let mut policy = Policy {
        discover_roots: raw.discover_roots.iter().map(Into::into).collect(),
        ..Policy::default()
    };

    if let Some(fail_on) = &raw.fail_on {
        match fail_on.get_ref().parse::<Severity>() {
            Ok(sev) => policy.fail_on = Some(sev),
            Err(err) => check.error(fail_on.span(), format!("fail_on: {err}")),
        }
    }
    if let Some(on) = &raw.on_incomplete {
        match on.get_ref().as_str() {
            "fail" => policy.on_incomplete = Some(crate::OnIncomplete::Fail),
            "warn" => policy.on_incomplete = Some(crate::OnIncomplete::Warn),
            other => check.error(
                on.span(),
                format!("on_incomplete: `{other}` is not `fail` or `warn`"),
            ),
        }
    }
    for (list, out, key) in [
        (&raw.include, &mut policy.include, "include"),
        (&raw.exclude, &mut policy.exclude, "exclude"),
        (
            &raw.require_signature,
            &mut policy.require_signature,
            "require_signature",
        ),
    ] {
        for pattern in list {
            match PathGlob::new(pattern.get_ref()) {
                Ok(glob) => out.push(glob),
                Err(err) => check.error(pattern.span(), format!("{key}: {err}")),
            }
        }
    }
    for (list, out, key) in [
        (
            &raw.allow_globals,
            &mut policy.allow_globals,
            "allow_globals",
        ),
        (&raw.deny_globals, &mut policy.deny_globals, "deny_globals"),
    ] {
        for name in list {
            match check_global(name.get_ref()) {
                Ok(()) => out.push(name.get_ref().clone()),
                Err(why) => check.error(name.span(), format!("{key}: {why}")),
            }
        }
    }
    for (rule, severity) in &raw.severity {
        let id = RuleId::from_id(rule.get_ref());
        if id.is_none() {
            check.error(
                rule.span(),
                format!(
                    "severity: unknown rule id `{}` (see `aigis rules`)",
                    rule.get_ref()
                ),
            );
        }
        match (id, severity.get_ref().parse::<Severity>()) {
            (Some(id), Ok(sev)) => {
                policy.severity.insert(id, sev);
            }
            (_, Err(err)) => check.error(
                severity.span(),
                format!("severity.{}: {err}", rule.get_ref()),
            ),
            (None, Ok(_)) => {}
        }
    }
    for (index, entry) in raw.suppress.iter().enumerate() {
        if let Some(suppression) = suppression(&mut check, index, entry) {
            policy.suppressions.push(suppression);
        }
    }
    for (index, entry) in raw.webhook.iter().enumerate() {
        if let Some(hook) = webhook(&mut check, index, entry) {
            policy.webhooks.push(hook);
        }
    }
    licenses(&mut check, &raw, &mut policy);
    if check.diagnostics.is_empty() {
        Ok(policy)
    } else {
        Err(PolicyError::Invalid {
            origin: origin.to_string(),
            diagnostics: check.diagnostics,
        })
    }
}

/// `deny_licenses`/`allow_licenses` (globs over SPDX ids) and `require_license` (`true`,
/// `false` or a list of path globs).
fn licenses(check: &mut Checker<'_>, raw: &RawPolicy, policy: &mut Policy) {
    for (list, key, deny) in [
        (&raw.deny_licenses, "deny_licenses", true),
        (&raw.allow_licenses, "allow_licenses", false),
    ] {
        for pattern in list {
            let text = pattern.get_ref();
            let valid_chars = text
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-.+*?[]!".contains(c));
            if text.is_empty() || !valid_chars {
                check.error(
                    pattern.span(),
                    format!("{key}: `{text}` is not an SPDX license id or a glob over ids"),
                );
                continue;
            }
            match crate::LicenseGlob::new(text) {
                Ok(glob) if deny => policy.licenses.deny.push(glob),
                Ok(glob) => policy.licenses.allow.push(glob),
                Err(err) => check.error(pattern.span(), format!("{key}: {err}")),
            }
        }
    }
    if let Some(require) = &raw.require_license {
        match require.get_ref() {
            toml::Value::Boolean(true) => policy.licenses.require = crate::RequireLicense::All,
            toml::Value::Boolean(false) => {}
            toml::Value::Array(items) => {
                let mut globs = Vec::new();
                for item in items {
                    match item.as_str().map(PathGlob::new) {
                        Some(Ok(glob)) => globs.push(glob),
                        Some(Err(err)) => {
                            check.error(require.span(), format!("require_license: {err}"));
                        }
                        None => check.error(
                            require.span(),
                            "require_license: a list holds path globs (strings)",
                        ),
                    }
                }
                policy.licenses.require = crate::RequireLicense::Paths(globs);
            }
            _ => check.error(
                require.span(),
                "require_license: `true`, `false` or a list of path globs",
            ),
        }
    }
}

/// A `[[webhook]]` entry: an http(s) URL; the secret named by the environment variable that
/// holds it (never written in the file); events from [`WEBHOOK_EVENTS`] (the defaults when
/// absent); `json` or `slack`; retries 0–10 (4).
fn webhook(check: &mut Checker<'_>, index: usize, entry: &Spanned<RawWebhook>) -> Option<Webhook> {
    let raw = entry.get_ref();
    let before = check.diagnostics.len();
    let name = format!("webhook[{index}]");
    let url = match &raw.url {
        None => {
            check.error(entry.span(), format!("{name}: `url` is required"));
            String::new()
        }
        Some(url) => {
            let text = url.get_ref().trim();
            let host = text
                .strip_prefix("https://")
                .or_else(|| text.strip_prefix("http://"))
                .map(|rest| rest.split(['/', '?', '#']).next().unwrap_or_default());
            if host.is_none_or(str::is_empty) {
                check.error(
                    url.span(),
                    format!("{name}.url: must be an http:// or https:// URL with a host"),
                );
            }
            text.to_owned()
        }
    };
    let secret_env = raw.secret_env.as_ref().map(|env| {
        let text = env.get_ref();
        let valid = !text.is_empty()
            && text
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !text.starts_with(|c: char| c.is_ascii_digit());
        if !valid {
            check.error(
                env.span(),
                format!(
                    "{name}.secret_env: the name of an environment variable (the secret itself never goes in this file)"
                ),
            );
        }
        text.clone()
    });
    let mut events = Vec::new();
    for event in &raw.events {
        let text = event.get_ref().to_ascii_uppercase().replace('-', "_");
        if WEBHOOK_EVENTS.contains(&text.as_str()) {
            if !events.contains(&text) {
                events.push(text);
            }
        } else {
            check.error(
                event.span(),
                format!(
                    "{name}.events: unknown event `{}` (one of {})",
                    event.get_ref(),
                    WEBHOOK_EVENTS.join(", ")
                ),
            );
        }
    }
    if raw.events.is_empty() {
        events = crate::DEFAULT_WEBHOOK_EVENTS
            .iter()
            .map(|e| (*e).to_owned())
            .collect();
    }
    let format = match raw.format.as_ref().map(|f| (f, f.get_ref().as_str())) {
        None | Some((_, "json")) => WebhookFormat::Json,
        Some((_, "slack")) => WebhookFormat::Slack,
        Some((f, other)) => {
            check.error(
                f.span(),
                format!("{name}.format: `{other}` is not `json` or `slack`"),
            );
            WebhookFormat::Json
        }
    };
    let retries = match &raw.retries {
        None => 4,
        Some(r) => match u32::try_from(*r.get_ref()) {
            Ok(n) if n <= 10 => n,
            _ => {
                check.error(r.span(), format!("{name}.retries: a number from 0 to 10"));
                0
            }
        },
    };
    (check.diagnostics.len() == before).then_some(Webhook {
        url,
        secret_env,
        events,
        format,
        retries,
    })
}

fn suppression(
    check: &mut Checker<'_>,
    index: usize,
    entry: &Spanned<RawSuppression>,
) -> Option<Suppression> {
    let raw = entry.get_ref();
    let (line, _) = line_column(check.text, entry.span().start);
    let before = check.diagnostics.len();
    let name = format!("suppress[{index}]");
    let rule = raw.rule.as_ref().and_then(|rule| {
        let id = RuleId::from_id(rule.get_ref());
        if id.is_none() {
            check.error(
                rule.span(),
                format!(
                    "{name}.rule: unknown rule id `{}` (see `aigis rules`)",
                    rule.get_ref()
                ),
            );
        }
        id
    });
    let path = raw
        .path
        .as_ref()
        .and_then(|path| match PathGlob::new(path.get_ref()) {
            Ok(glob) => Some(glob),
            Err(err) => {
                check.error(path.span(), format!("{name}.path: {err}"));
                None
            }
        });
    let sha256 = raw.sha256.as_ref().and_then(|sha| {
        let hex = sha.get_ref().to_ascii_lowercase();
        if hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            Some(hex)
        } else {
            check.error(
                sha.span(),
                format!("{name}.sha256: expected 64 hexadecimal digits"),
            );
            None
        }
    });
    let reason = match &raw.reason {
        Some(reason) if !reason.get_ref().trim().is_empty() => reason.get_ref().trim().to_string(),
        Some(reason) => {
            check.error(reason.span(), format!("{name}.reason: must not be empty"));
            String::new()
        }
        None => {
            check.error(
                entry.span(),
                format!("{name}: missing `reason` (every suppression says why it is safe)"),
            );
            String::new()
        }
    };
    let expires = raw.expires.as_ref().and_then(|expires| {
        let text = match expires.get_ref() {
            toml::Value::String(s) => Some(s.clone()),
            toml::Value::Datetime(dt) if dt.time.is_none() && dt.offset.is_none() => {
                Some(dt.to_string())
            }
            _ => None,
        };
        let date = text.as_deref().and_then(Date::parse);
        if date.is_none() {
            check.error(
                expires.span(),
                format!("{name}.expires: expected a date YYYY-MM-DD"),
            );
        }
        date
    });
    if raw.rule.is_none() && raw.path.is_none() && raw.sha256.is_none() {
        check.error(
            entry.span(),
            format!("{name}: give at least one of `rule`, `path`, `sha256` to match findings"),
        );
    }
    (check.diagnostics.len() == before).then_some(Suppression {
        index,
        line,
        rule,
        path,
        sha256,
        reason,
        expires,
    })
}

/// Checks an allow/deny-list entry: `module.Qualname` or `prefix.*`, dotted identifiers.
fn check_global(name: &str) -> Result<(), String> {
    let body = name.strip_suffix(".*").unwrap_or(name);
    let parts: Vec<&str> = body.split('.').collect();
    let identifier = |p: &&str| {
        let mut chars = p.chars();
        chars.next().is_some_and(|c| c == '_' || c.is_alphabetic())
            && chars.all(|c| c == '_' || c.is_alphanumeric())
    };
    if parts.iter().all(identifier) && (parts.len() >= 2 || name.ends_with(".*")) {
        Ok(())
    } else {
        Err(format!(
            "`{name}` is not `module.Qualname` or `prefix.*` (dotted Python identifiers)"
        ))
    }
}
