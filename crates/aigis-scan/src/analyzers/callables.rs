//! Judging callables that model *configs* name (a Keras `module` + `class_name`, a Hydra
//! `_target_`, a skops `__module__`): the loader imports and calls them, so they are judged like
//! pickle imports — with the same table of dangerous primitives (`aigis_pickle::dangerous_callable`)
//! and, per format, the namespaces of the framework that writes them.

use crate::analyzer::Context;
use crate::{Finding, RuleId, Severity};

/// What a named callable is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Trust {
    /// A primitive that attacks the host (label of its category: "command execution", …).
    Dangerous(&'static str),
    /// Inside the format's framework namespaces.
    Trusted,
    /// Third-party or application code: loading needs it and trusts it.
    Unknown,
}

/// Splits `a.b.c` into (`a.b`, `c`); a bare name is a builtin.
pub(crate) fn split_dotted(full: &str) -> (&str, &str) {
    full.rsplit_once('.').unwrap_or(("builtins", full))
}

/// Judges `module.name` against the dangerous table and the trusted top-level packages.
pub(crate) fn judge(module: &str, name: &str, trusted_tops: &[&str]) -> Trust {
    if let Some(category) = aigis_pickle::dangerous_callable(module, name) {
        return Trust::Dangerous(category.label());
    }
    let top = module.split('.').next().unwrap_or(module);
    if trusted_tops.contains(&top) {
        Trust::Trusted
    } else {
        Trust::Unknown
    }
}

/// Records a finding with an explicit severity at the current location.
pub(crate) fn report_with(
    cx: &mut Context<'_>,
    rule: RuleId,
    severity: Severity,
    message: impl Into<String>,
) {
    let mut finding = Finding::new(rule, message);
    finding.severity = severity;
    finding.location = cx.location(None);
    cx.push(finding);
}

/// Shortens untrusted text for a message: at most `max` characters, control characters escaped.
pub(crate) fn clip(text: &str, max: usize) -> String {
    let mut out: String = text
        .chars()
        .take(max)
        .flat_map(char::escape_debug)
        .collect();
    if text.chars().count() > max {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn judges_with_the_pickle_table() {
        assert_eq!(
            judge("os", "system", &["keras"]),
            Trust::Dangerous("command execution")
        );
        assert_eq!(
            judge("builtins", "eval", &["builtins"]),
            Trust::Dangerous("code execution")
        );
        assert_eq!(judge("keras.layers", "Dense", &["keras"]), Trust::Trusted);
        assert_eq!(judge("acme.layers", "Fancy", &["keras"]), Trust::Unknown);
        assert_eq!(split_dotted("subprocess.Popen"), ("subprocess", "Popen"));
        assert_eq!(split_dotted("eval"), ("builtins", "eval"));
        assert_eq!(clip("a\nbcdef", 3), "a\\nb…");
    }
}
