//! Hugging Face Hub repositories: the file list comes from the Hub API
//! (`GET {endpoint}/api/models/{repo}/revision/{revision}` → `sha` + `siblings`), and each file is
//! read with ranged GETs of `{endpoint}/{repo}/resolve/{commit}/{file}` (redirects to the CDN are
//! followed). The token comes from `HF_TOKEN` and is sent as a bearer token, never logged.

use crate::Error;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::Value;

/// The Hub endpoint: `HF_ENDPOINT` or `https://huggingface.co`.
pub fn endpoint() -> String {
    std::env::var("HF_ENDPOINT")
        .ok()
        .filter(|e| !e.trim().is_empty())
        .unwrap_or_else(|| "https://huggingface.co".to_string())
        .trim_end_matches('/')
        .to_string()
}

/// The Hub token, if any (`HF_TOKEN`, then the legacy `HUGGING_FACE_HUB_TOKEN`).
pub fn token() -> Option<String> {
    ["HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"]
        .iter()
        .filter_map(|name| std::env::var(name).ok())
        .map(|t| t.trim().to_string())
        .find(|t| !t.is_empty())
}

/// A repository revision as the Hub lists it.
#[derive(Debug, Clone)]
pub struct HubListing {
    /// The commit the revision resolved to (files are read at this commit).
    pub commit: Option<String>,
    /// Paths of the repository's files.
    pub files: Vec<String>,
}

const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.');

/// Lists a model repository's files at `revision`.
pub async fn list(
    client: &reqwest::Client,
    endpoint: &str,
    repo: &str,
    revision: &str,
    token: Option<&str>,
) -> Result<HubListing, Error> {
    let url = format!(
        "{endpoint}/api/models/{repo}/revision/{}",
        utf8_percent_encode(revision, SEGMENT)
    );
    let mut request = client.get(&url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let fail = |why: String| Error::Hub(format!("hf://{repo}@{revision}: {why}"));
    let response = request
        .send()
        .await
        .map_err(|e| fail(format!("listing failed: {}", e.without_url())))?;
    let status = response.status();
    if !status.is_success() {
        let hint = match status.as_u16() {
            401 | 403 => " (private or gated repository? set HF_TOKEN)",
            404 => " (no such repository or revision)",
            _ => "",
        };
        return Err(fail(format!(
            "Hub API answered HTTP {}{hint}",
            status.as_u16()
        )));
    }
    let bytes = response
        .bytes()
        .await
        .map_err(|e| fail(format!("reading the Hub API answer: {}", e.without_url())))?;
    let body: Value = serde_json::from_slice(&bytes)
        .map_err(|e| fail(format!("Hub API answer is not JSON: {e}")))?;
    Ok(parse_listing(&body))
}

/// Reads `sha` and `siblings[].rfilename` from a `/api/models/{repo}/revision/{rev}` answer.
pub fn parse_listing(body: &Value) -> HubListing {
    let commit = body
        .get("sha")
        .and_then(Value::as_str)
        .filter(|s| s.len() == 40 && s.chars().all(|c| c.is_ascii_hexdigit()))
        .map(str::to_string);
    let mut files: Vec<String> = body
        .get("siblings")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|s| s.get("rfilename").and_then(Value::as_str))
        .filter(|f| safe_file(f))
        .map(str::to_string)
        .collect();
    files.sort();
    files.dedup();
    HubListing { commit, files }
}

/// A repository file path we can put in a URL path: relative, no `..`, no empty segments.
fn safe_file(path: &str) -> bool {
    !path.is_empty()
        && !path.starts_with('/')
        && path
            .split('/')
            .all(|seg| !seg.is_empty() && seg != "." && seg != "..")
}

/// The store path of a file: `{repo}/resolve/{revision}/{file}` (the listed commit is used as
/// the revision whenever the Hub gave one, so every file is read at the same commit).
pub fn resolve_path(repo: &str, revision: &str, file: &str) -> String {
    format!("{repo}/resolve/{revision}/{file}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn listing_keeps_safe_paths_and_the_commit() {
        let body = json!({
            "id": "org/name",
            "sha": "0123456789abcdef0123456789abcdef01234567",
            "siblings": [
                {"rfilename": "pytorch_model.bin"},
                {"rfilename": "sub/dir/model.safetensors"},
                {"rfilename": "../escape"},
                {"rfilename": "/abs"},
                {"rfilename": "a//b"},
                {"other": 1}
            ]
        });
        let listing = parse_listing(&body);
        assert_eq!(
            listing.commit.as_deref(),
            Some("0123456789abcdef0123456789abcdef01234567")
        );
        assert_eq!(
            listing.files,
            ["pytorch_model.bin", "sub/dir/model.safetensors"]
        );
        assert!(parse_listing(&json!({"sha": "main"})).commit.is_none());
        assert_eq!(
            resolve_path("o/n", "main", "d/x.bin"),
            "o/n/resolve/main/d/x.bin"
        );
    }
}
