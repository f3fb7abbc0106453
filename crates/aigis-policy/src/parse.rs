//! Reading `aigis.toml`: TOML syntax through the `toml` crate, then every value checked, each
//! error pointing at the line and column of the offending key or value.

use crate::{Date, Diagnostic, PathGlob, Policy, PolicyError, Suppression};
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
    if check.diagnostics.is_empty() {
        Ok(policy)
    } else {
        Err(PolicyError::Invalid {
            origin: origin.to_string(),
            diagnostics: check.diagnostics,
        })
    }
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
