//! Escaping and small text helpers shared by the writers.

use aigis_scan::Severity;
use std::path::{Component, Path, PathBuf};

/// Escapes text for HTML element content and attribute values.
pub(crate) fn html_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() && c != '\n' && c != '\t' => {
                out.push_str(&format!("&#x{:x};", u32::from(c)));
            }
            c => out.push(c),
        }
    }
    out
}

/// Makes text from a file safe to print on a terminal: every control character (escape
/// sequences, newlines, carriage returns, backspaces, bidirectional overrides) is shown as a
/// visible escape (`\x1b`, `\n`, `\u{202e}`), so a file name or a string from a model cannot
/// clear the screen, retitle the window or forge a line of the report.
pub fn terminal_safe(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\x{:02x}", u32::from(c))),
            // Bidirectional controls and other invisible format characters reorder or hide text.
            '\u{200b}'..='\u{200f}'
            | '\u{202a}'..='\u{202e}'
            | '\u{2066}'..='\u{2069}'
            | '\u{feff}' => {
                out.push_str(&format!("\\u{{{:x}}}", u32::from(c)));
            }
            c => out.push(c),
        }
    }
    out
}

/// Escapes text for XML content and attributes (XML 1.0 forbids most control characters,
/// which are replaced by U+FFFD).
pub(crate) fn xml_escape(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '&' => "&amp;".to_string(),
            '<' => "&lt;".to_string(),
            '>' => "&gt;".to_string(),
            '"' => "&quot;".to_string(),
            '\'' => "&apos;".to_string(),
            '\t' | '\n' | '\r' => c.to_string(),
            c if c.is_control() => '\u{fffd}'.to_string(),
            c => c.to_string(),
        })
        .collect()
}

/// Resolves `.` and `..` lexically.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// Percent-encodes a path for a URI (RFC 3986 unreserved characters and `/` stay).
pub(crate) fn uri_encode(path: &str) -> String {
    let mut out = String::new();
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A result path relative to `base` (as a URI reference with `/` separators), or `None` when
/// the file lies outside `base`.
pub(crate) fn relative_to(path: &str, base: &Path) -> Option<String> {
    let path = Path::new(path);
    let full = if path.is_absolute() {
        normalize(path)
    } else {
        normalize(&base.join(path))
    };
    let relative = full.strip_prefix(normalize(base)).ok()?;
    let parts: Vec<String> = relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    (!parts.is_empty()).then(|| parts.join("/"))
}

/// `file://` URI of an absolute path (or of `base` joined with a relative one).
pub(crate) fn file_uri(path: &str, base: &Path) -> String {
    let full = normalize(&base.join(path));
    let text = full.to_string_lossy().replace('\\', "/");
    let text = if text.starts_with('/') {
        text
    } else {
        format!("/{text}")
    };
    format!("file://{}", uri_encode(&text))
}

/// Display order: most severe first.
pub(crate) const SEVERITIES_DESC: [Severity; 5] = [
    Severity::Critical,
    Severity::High,
    Severity::Medium,
    Severity::Low,
    Severity::Info,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_and_paths() {
        assert_eq!(
            html_escape("<img src=x onerror='a'>&\u{7}"),
            "&lt;img src=x onerror=&#39;a&#39;&gt;&amp;&#x7;"
        );
        assert_eq!(xml_escape("a<\u{1}>"), "a&lt;\u{fffd}&gt;");
        let base = Path::new("/repo");
        assert_eq!(
            relative_to("./models/a b.pt", base).as_deref(),
            Some("models/a b.pt")
        );
        assert_eq!(
            relative_to("/repo/x/../y.pt", base).as_deref(),
            Some("y.pt")
        );
        assert_eq!(relative_to("/elsewhere/y.pt", base), None);
        assert_eq!(relative_to("../y.pt", base), None);
        assert_eq!(uri_encode("a b/%c#"), "a%20b/%25c%23");
        assert_eq!(file_uri("/tmp/x y", base), "file:///tmp/x%20y");
    }
}
