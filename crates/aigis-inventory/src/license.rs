//! License facts: what a model declares (card front-matter `license:`, `config.json`
//! `license`, GGUF `general.license`, safetensors `__metadata__` `license`), normalised to an SPDX
//! license expression.
//!
//! Hub tags map to SPDX ids (`apache-2.0` → `Apache-2.0`, `cc-by-nc-4.0` → `CC-BY-NC-4.0`); the
//! custom model licenses to `LicenseRef-` ids (`llama3.1` → `LicenseRef-llama3.1`, `gemma` →
//! `LicenseRef-gemma`); `other`, `unknown` and empty to `NOASSERTION`. An expression (`MIT OR
//! Apache-2.0`, parentheses, `WITH` exceptions) keeps its operators and has each operand
//! normalised.

use crate::bom::spdx_license_id;

/// The SPDX expression for "declared, but not a license anyone can name".
pub const NOASSERTION: &str = "NOASSERTION";

/// Custom model licenses known by their hub tag, as `LicenseRef-` ids.
const CUSTOM: &[&str] = &[
    "llama2",
    "llama3",
    "llama3.1",
    "llama3.2",
    "llama3.3",
    "llama4",
    "gemma",
    "openrail",
    "openrail++",
    "bigscience-openrail-m",
    "creativeml-openrail-m",
    "bigscience-bloom-rail-1.0",
    "bigcode-openrail-m",
    "deepfloyd-if-license",
    "apple-ascl",
    "intel-research",
    "h-research",
    "afl-3.0",
];

/// A `LicenseRef-` id for a tag that is no SPDX id: letters, digits, `.` and `-` kept, anything
/// else becomes `-`.
pub(crate) fn license_ref(tag: &str) -> String {
    let clean: String = tag
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    format!("LicenseRef-{clean}")
}

/// One operand of an expression, normalised.
fn operand(tag: &str) -> String {
    let lower = tag.to_ascii_lowercase();
    match lower.as_str() {
        "" | "other" | "unknown" | "none" | "noassertion" => return NOASSERTION.to_string(),
        _ => {}
    }
    if let Some(rest) = tag.strip_prefix("LicenseRef-") {
        return license_ref(rest);
    }
    if let Some(id) = spdx_license_id(tag) {
        return id.to_string();
    }
    let trimmed = lower.trim_end_matches("-or-later").trim_end_matches('+');
    if trimmed != lower
        && let Some(id) = spdx_license_id(trimmed)
    {
        return id.replace("-only", "-or-later");
    }
    if CUSTOM.contains(&lower.as_str()) {
        return license_ref(&lower);
    }
    license_ref(tag)
}

/// The SPDX expression for a declared license, `None` when nothing is declared.
pub fn normalise(declared: &str) -> Option<String> {
    let declared = declared.trim().trim_matches(['"', '\'']);
    if declared.is_empty() {
        return None;
    }
    let is_expression = declared.contains(['(', ')'])
        || declared
            .split_whitespace()
            .any(|w| ["AND", "OR", "WITH"].contains(&w.to_ascii_uppercase().as_str()));
    if !is_expression {
        return Some(operand(declared));
    }
    let mut out = Vec::new();
    let spaced = declared.replace('(', " ( ").replace(')', " ) ");
    let mut after_with = false;
    for word in spaced.split_whitespace() {
        let upper = word.to_ascii_uppercase();
        match upper.as_str() {
            "AND" | "OR" | "WITH" => {
                after_with = upper == "WITH";
                out.push(upper);
            }
            "(" | ")" => out.push(word.to_string()),
            _ if after_with => {
                after_with = false;
                out.push(word.to_string());
            }
            _ => out.push(operand(word)),
        }
    }
    let text = out.join(" ").replace("( ", "(").replace(" )", ")");
    // An expression that only says "no assertion" is one NOASSERTION.
    if out
        .iter()
        .all(|w| w == NOASSERTION || w == "AND" || w == "OR")
    {
        return Some(NOASSERTION.to_string());
    }
    Some(text)
}

/// The license ids an expression names (operators, parentheses and exceptions left out).
pub fn ids(expression: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut after_with = false;
    for word in expression.split(|c: char| c.is_whitespace() || c == '(' || c == ')') {
        match word {
            "" => {}
            "AND" | "OR" => {}
            "WITH" => after_with = true,
            _ if after_with => after_with = false,
            id => out.push(id),
        }
    }
    out
}

/// Whether an expression is a single SPDX-listed id (CycloneDX `license.id`).
pub fn single_spdx_id(expression: &str) -> Option<&'static str> {
    let ids = ids(expression);
    match ids.as_slice() {
        [one] if !expression.contains(' ') => spdx_license_id(one),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hub_tags_become_spdx_expressions() {
        let n = |t: &str| normalise(t).unwrap_or_default();
        assert_eq!(n("apache-2.0"), "Apache-2.0");
        assert_eq!(n("mit"), "MIT");
        assert_eq!(n("cc-by-nc-4.0"), "CC-BY-NC-4.0");
        assert_eq!(n("llama2"), "LicenseRef-llama2");
        assert_eq!(n("llama3.1"), "LicenseRef-llama3.1");
        assert_eq!(n("gemma"), "LicenseRef-gemma");
        assert_eq!(n("other"), "NOASSERTION");
        assert_eq!(n("gpl-3.0"), "GPL-3.0-only");
        assert_eq!(n("GPL-2.0-or-later"), "GPL-2.0-or-later");
        assert_eq!(n("mit OR apache-2.0"), "MIT OR Apache-2.0");
        assert_eq!(
            n("(mit or Apache-2.0) and cc-by-4.0"),
            "(MIT OR Apache-2.0) AND CC-BY-4.0"
        );
        assert_eq!(
            n("Apache-2.0 WITH LLVM-exception"),
            "Apache-2.0 WITH LLVM-exception"
        );
        assert_eq!(n("My License v2"), "LicenseRef-My-License-v2");
        assert_eq!(normalise("  "), None);
        assert_eq!(
            ids("(MIT OR Apache-2.0) AND CC-BY-NC-4.0"),
            ["MIT", "Apache-2.0", "CC-BY-NC-4.0"]
        );
        assert_eq!(single_spdx_id("MIT"), Some("MIT"));
        assert_eq!(single_spdx_id("MIT OR Apache-2.0"), None);
    }
}
