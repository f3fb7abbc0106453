//! Credentials and network indicators in model metadata: GGUF key/values, safetensors
//! `__metadata__`, ONNX `metadata_props`/`doc_string`, Keras and Hugging Face configs, pickle
//! string constants.
//!
//! Secrets are found by a small rule set where each format's length and charset are checked
//! exactly (and GitHub's CRC32 suffix where the token carries one), so random hashes, base64
//! blobs and prose never match. A secret is never reported raw: [`redact`] keeps its prefix and
//! its last four characters, and [`redact_text`] rewrites every secret inside a message,
//! indicator or metadata value before anything is stored in a result.
//!
//! Documented example keys (AWS's `AKIAIOSFODNN7EXAMPLE`, any AWS key id ending in `EXAMPLE`)
//! are not reported: they are published placeholders, not credentials.
//!
//! URLs and IP addresses: a URL to a host on [`BENIGN_HOSTS`] (hubs, code hosts, paper sites)
//! is provenance, not an indicator, and is not reported; another URL in metadata is info; an IP
//! address literal as a host, or any URL outside the allow-list in a pickle string, is low.

use crate::{Context, Finding, RuleId, Severity};

/// One credential found in a text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretHit {
    /// What it is (`AWS access key id`, `GitHub token`, …).
    pub kind: &'static str,
    /// Byte range in the text.
    pub start: usize,
    /// End of the byte range (exclusive).
    pub end: usize,
    /// The redacted form (`hf_Ab…wxyz`).
    pub redacted: String,
}

/// Where a text came from, which decides how a URL in it is rated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    /// A metadata value a framework stores (GGUF, safetensors, ONNX, configs).
    Metadata,
    /// A string constant of a pickle.
    PickleString,
}

/// Hosts whose URLs real models carry as provenance (hub pages, repositories, papers).
pub const BENIGN_HOSTS: &[&str] = &[
    "huggingface.co",
    "hf.co",
    "github.com",
    "raw.githubusercontent.com",
    "gitlab.com",
    "arxiv.org",
    "doi.org",
    "aclanthology.org",
    "openreview.net",
    "paperswithcode.com",
    "pytorch.org",
    "tensorflow.org",
    "kaggle.com",
    "modelscope.cn",
    "ollama.com",
    "creativecommons.org",
    "opensource.org",
    "apache.org",
    "spdx.org",
    "ai.meta.com",
    "llama.meta.com",
    "ai.google.dev",
    "mistral.ai",
    "microsoft.com",
    "nvidia.com",
    "openai.com",
    "wikipedia.org",
    "google.com",
    "googleapis.com",
    "onnx.ai",
    "keras.io",
    "scikit-learn.org",
    "python.org",
    "pypi.org",
    "readthedocs.io",
    "w3.org",
    "schema.org",
];

/// Prefixes a secret starts with: a string without any is not worth checking.
const PREFIXES: &[&str] = &[
    "AKIA",
    "ASIA",
    "ABIA",
    "ACCA",
    "ghp_",
    "gho_",
    "ghu_",
    "ghs_",
    "ghr_",
    "github_pat_",
    "hf_",
    "api_org_",
    "sk-",
    "xox",
    "AIza",
    "-----BEGIN",
    "eyJ",
];

/// The length of the shortest secret [`secrets_in`] reports (an AWS access key id).
const SHORTEST_SECRET: usize = 20;

/// Whether `s` may hold a secret, URL or IP address (a cheap filter for pickle strings).
///
/// It runs on every string constant of a pickle, millions in a vocabulary, so it is kept to a
/// few byte searches: prefixes only in strings long enough to be a secret, an IPv4 address only
/// where there are three dots.
pub fn worth_checking(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() < 7 {
        return false;
    }
    if memchr::memchr_iter(b':', b).any(|i| b[i + 1..].starts_with(b"//")) {
        return true;
    }
    // No secret format is shorter than an AWS key id (20 bytes): a shorter string can only
    // hold a URL or an address.
    if b.len() >= SHORTEST_SECRET && b.iter().enumerate().any(|(i, &c)| prefix_at(b, i, c)) {
        return true;
    }
    memchr::memchr_iter(b'.', b).nth(2).is_some()
        && s.split([':', '/']).any(|part| is_ipv4(part.trim()))
}

/// Whether one of [`PREFIXES`] starts at `b[i]` (which is `c`): compared only where the first
/// two bytes are a prefix's (the test below holds this to `PREFIXES`).
fn prefix_at(b: &[u8], i: usize, c: u8) -> bool {
    matches!(
        (c, b.get(i + 1).copied().unwrap_or(0)),
        (b'A', b'K' | b'S' | b'B' | b'C' | b'I')
            | (b'a', b'p')
            | (b'g', b'h' | b'i')
            | (b'h', b'f')
            | (b's', b'k')
            | (b'x', b'o')
            | (b'-', b'-')
            | (b'e', b'y')
    ) && PREFIXES.iter().any(|p| b[i..].starts_with(p.as_bytes()))
}

fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-'
}

/// The end of the token run (`[A-Za-z0-9_-]`) starting at `i`.
fn token_end(b: &[u8], i: usize) -> usize {
    let mut j = i;
    while j < b.len() && is_token_byte(b[j]) {
        j += 1;
    }
    j
}

fn starts_token(b: &[u8], i: usize) -> bool {
    i == 0 || !is_token_byte(b[i - 1])
}

/// The redacted form of a secret: its `prefix` (a format's fixed start) and two more
/// characters, an ellipsis, and its last four characters. Nothing else of the value is kept.
pub fn redact(secret: &str, prefix: usize) -> String {
    let chars: Vec<char> = secret.chars().collect();
    let keep_head = (prefix + 2)
        .min(chars.len() / 3)
        .max(prefix.min(chars.len()));
    let keep_tail = 4.min(chars.len().saturating_sub(keep_head) / 2);
    let head: String = chars[..keep_head].iter().collect();
    let tail: String = chars[chars.len() - keep_tail..].iter().collect();
    format!("{head}…{tail}")
}

const BASE62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

fn base62_value(s: &[u8]) -> Option<u64> {
    s.iter().try_fold(0u64, |acc, c| {
        let d = BASE62.iter().position(|x| x == c)? as u64;
        acc.checked_mul(62)?.checked_add(d)
    })
}

/// GitHub `gh?_` tokens: 30 random base62 characters and a 6-character base62 CRC32 of them.
fn github_checksum_ok(body: &[u8]) -> bool {
    body.len() == 36
        && body.iter().all(u8::is_ascii_alphanumeric)
        && base62_value(&body[30..]) == Some(u64::from(crc32fast::hash(&body[..30])))
}

fn base64url_decode(s: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s.trim_end_matches('='))
        .ok()
}

/// Every credential in `text`, in order.
pub fn secrets_in(text: &str) -> Vec<SecretHit> {
    let b = text.as_bytes();
    let mut hits = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if let Some(hit) = secret_at(text, i) {
            // `worth_checking` skips shorter strings.
            debug_assert!(hit.end - hit.start >= SHORTEST_SECRET);
            i = hit.end;
            hits.push(hit);
        } else {
            i += 1;
        }
    }
    hits
}

fn hit(text: &str, kind: &'static str, start: usize, end: usize, prefix: usize) -> SecretHit {
    SecretHit {
        kind,
        start,
        end,
        redacted: redact(&text[start..end], prefix),
    }
}

fn secret_at(text: &str, i: usize) -> Option<SecretHit> {
    let b = text.as_bytes();
    let rest = &b[i..];
    let c = *rest.first()?;
    if !matches!(c, b'A' | b'g' | b'h' | b'a' | b's' | b'x' | b'-' | b'e') {
        return None;
    }
    if c == b'-' {
        return if rest.starts_with(b"-----BEGIN ") {
            private_key_at(text, i)
        } else {
            None
        };
    }
    if !starts_token(b, i) {
        return None;
    }
    let end = token_end(b, i);
    let tok = &text[i..end];
    let tb = tok.as_bytes();
    // AWS access key ids: a 4-letter type prefix and 16 base32 characters.
    if ["AKIA", "ASIA", "ABIA", "ACCA"]
        .iter()
        .any(|p| tok.starts_with(p))
        && tb.len() == 20
        && tb[4..]
            .iter()
            .all(|c| c.is_ascii_uppercase() || (b'2'..=b'7').contains(c))
        && !tok.ends_with("EXAMPLE")
    {
        return Some(hit(text, "AWS access key id", i, end, 4));
    }
    // GitHub classic tokens with their checksum; fine-grained tokens by their exact shape.
    if let Some(body) = ["ghp_", "gho_", "ghu_", "ghs_", "ghr_"]
        .iter()
        .find_map(|p| tok.strip_prefix(p))
        && github_checksum_ok(body.as_bytes())
    {
        return Some(hit(text, "GitHub token", i, end, 4));
    }
    if let Some(body) = tok.strip_prefix("github_pat_")
        && let Some((a, z)) = body.split_once('_')
        && a.len() == 22
        && z.len() == 59
        && a.bytes()
            .chain(z.bytes())
            .all(|c| c.is_ascii_alphanumeric())
    {
        return Some(hit(text, "GitHub fine-grained token", i, end, 11));
    }
    // Hugging Face user access tokens (`hf_` + 34 letters) and organisation API tokens.
    for (prefix, kind) in [
        ("hf_", "Hugging Face token"),
        ("api_org_", "Hugging Face organization token"),
    ] {
        if let Some(body) = tok.strip_prefix(prefix)
            && body.len() == 34
            && body.bytes().all(|c| c.is_ascii_alphabetic())
            && body.bytes().any(|c| c.is_ascii_uppercase())
            && body.bytes().any(|c| c.is_ascii_lowercase())
        {
            return Some(hit(text, kind, i, end, prefix.len()));
        }
    }
    // OpenAI keys carry `T3BlbkFJ` (base64 of "OpenAI") between two random halves.
    if let Some(body) = tok.strip_prefix("sk-") {
        let (prefix, body) = ["proj-", "svcacct-", "admin-", "None-"]
            .iter()
            .find_map(|p| body.strip_prefix(p).map(|b| (3 + p.len(), b)))
            .unwrap_or((3, body));
        if let Some(at) = body.find("T3BlbkFJ") {
            let (l, r) = (&body[..at], &body[at + 8..]);
            let legacy = l.len() == 20
                && r.len() == 20
                && l.bytes()
                    .chain(r.bytes())
                    .all(|c| c.is_ascii_alphanumeric());
            let project = prefix > 3 && l.len() >= 20 && r.len() >= 20 && l.len() <= 200;
            if legacy || project {
                return Some(hit(text, "OpenAI API key", i, end, prefix));
            }
        }
    }
    // Slack tokens: xoxb/xoxp/xoxa/xoxs, numeric ids, a long random tail.
    if tok.len() > 5
        && tok.starts_with("xox")
        && matches!(tb[3], b'b' | b'p' | b'a' | b's')
        && tb[4] == b'-'
    {
        let parts: Vec<&str> = tok[5..].split('-').collect();
        let numeric = parts
            .iter()
            .take_while(|p| (8..=13).contains(&p.len()) && p.bytes().all(|c| c.is_ascii_digit()))
            .count();
        if let Some(last) = parts.last()
            && parts.len() >= 3
            && numeric >= 2
            && numeric == parts.len() - 1
            && (24..=64).contains(&last.len())
            && last.bytes().all(|c| c.is_ascii_alphanumeric())
        {
            return Some(hit(text, "Slack token", i, end, 5));
        }
    }
    // Google API keys: `AIza` + 35 characters.
    if tok.starts_with("AIza") && tok.len() == 39 {
        return Some(hit(text, "Google API key", i, end, 4));
    }
    // JWTs: three base64url parts, the header a JSON object with `alg`.
    if tok.starts_with("eyJ") {
        return jwt_at(text, i);
    }
    None
}

fn jwt_at(text: &str, i: usize) -> Option<SecretHit> {
    let b = text.as_bytes();
    let mut end = i;
    while end < b.len() && (is_token_byte(b[end]) || b[end] == b'.') {
        end += 1;
    }
    let parts: Vec<&str> = text[i..end].split('.').collect();
    if parts.len() != 3 || parts[1].len() < 8 || parts[2].len() < 16 {
        return None;
    }
    let header = base64url_decode(parts[0])?;
    let header: serde_json::Value = serde_json::from_slice(&header).ok()?;
    header.get("alg")?.as_str()?;
    let payload = base64url_decode(parts[1])?;
    serde_json::from_slice::<serde_json::Value>(&payload)
        .ok()?
        .as_object()?;
    Some(hit(text, "JSON Web Token", i, end, 3))
}

fn private_key_at(text: &str, i: usize) -> Option<SecretHit> {
    let rest = &text[i..];
    let line_end = rest.find('\n').unwrap_or(rest.len());
    let header = rest[..line_end].trim_end();
    let label = header.strip_prefix("-----BEGIN ")?.strip_suffix("-----")?;
    if !label.ends_with("PRIVATE KEY") && !label.ends_with("PRIVATE KEY BLOCK") {
        return None;
    }
    // A header alone is documentation; a key has a base64 body after it.
    let body = &rest[line_end..];
    let mut chars = 0;
    let mut body_end = line_end;
    for (at, c) in body.char_indices() {
        if c == '-' {
            break;
        }
        if c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '=') {
            chars += 1;
        } else if !c.is_whitespace() && c != ':' && c != ',' {
            break;
        }
        body_end = line_end + at + c.len_utf8();
    }
    if chars < 40 {
        return None;
    }
    let footer = format!("-----END {label}-----");
    let end = rest[body_end..]
        .find(&footer)
        .filter(|&at| at < 8)
        .map_or(body_end, |at| body_end + at + footer.len());
    let last: String = rest[..body_end]
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '='))
        .rev()
        .take(4)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    Some(SecretHit {
        kind: "private key",
        start: i,
        end: i + end,
        redacted: format!("{header}…{last}"),
    })
}

/// `text` with every secret replaced by its redacted form (what goes into messages,
/// indicators and metadata).
pub fn redact_text(text: &str) -> String {
    let hits = secrets_in(text);
    if hits.is_empty() {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for h in hits {
        out.push_str(&text[at..h.start]);
        out.push_str(&h.redacted);
        at = h.end;
    }
    out.push_str(&text[at..]);
    out
}

/// At most 200 characters of `s`.
fn clip(s: &str) -> String {
    match s.char_indices().nth(200) {
        Some((at, _)) => format!("{}…", &s[..at]),
        None => s.to_string(),
    }
}

/// Whether `s` is a dotted-quad IPv4 address.
fn is_ipv4(s: &str) -> bool {
    let parts: Vec<&str> = s.split('.').collect();
    parts.len() == 4
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.len() <= 3 && p.bytes().all(|c| c.is_ascii_digit()))
        && parts
            .iter()
            .all(|p| p.parse::<u16>().is_ok_and(|v| v <= 255))
}

/// A URL or IP address in a text, and how bad it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Indicator {
    /// The URL (credentials and secrets in it redacted) or `ip:port`.
    pub text: String,
    /// Info for a URL to a host outside [`BENIGN_HOSTS`] in metadata, low for an IP host or any
    /// such URL in a pickle string.
    pub severity: Severity,
}

fn host_is_benign(host: &str) -> bool {
    let host = host.to_ascii_lowercase();
    BENIGN_HOSTS
        .iter()
        .any(|b| host == *b || host.ends_with(&format!(".{b}")))
}

/// URLs and IP addresses in `text` worth reporting from `place`.
pub fn indicators_in(text: &str, place: Place) -> Vec<Indicator> {
    let mut out: Vec<Indicator> = Vec::new();
    let lower = text.to_ascii_lowercase();
    fn push(out: &mut Vec<Indicator>, ind: Indicator) {
        if out.len() < 8 && !out.iter().any(|o| o.text == ind.text) {
            out.push(ind);
        }
    }
    for scheme in [
        "http://", "https://", "ftp://", "tcp://", "udp://", "ws://", "wss://",
    ] {
        let mut from = 0;
        while let Some(found) = lower.get(from..).and_then(|t| t.find(scheme)) {
            let start = from + found;
            let end = text[start..]
                .find(|c: char| c.is_whitespace() || "'\"<>|;`)(]{}\\,".contains(c))
                .map_or(text.len(), |e| start + e);
            from = end.max(start + scheme.len());
            let url = &text[start..end];
            let authority = url[scheme.len()..]
                .split(['/', '?', '#'])
                .next()
                .unwrap_or("");
            let (userinfo, hostport) = match authority.rsplit_once('@') {
                Some((u, h)) => (Some(u), h),
                None => (None, authority),
            };
            let host = hostport.split(':').next().unwrap_or("");
            if host.is_empty() {
                continue;
            }
            let ip = is_ipv4(host);
            let severity = if ip {
                Severity::Low
            } else if host_is_benign(host) || !host.contains('.') {
                // Hub and paper links are provenance; a bare name (`http://localhost`) no
                // indicator.
                continue;
            } else if place == Place::PickleString {
                Severity::Low
            } else {
                Severity::Info
            };
            let mut shown = url.to_string();
            if let Some(u) = userinfo
                && let Some((user, _)) = u.split_once(':')
            {
                shown = format!("{}{user}:…@{hostport}{}", &url[..scheme.len()], {
                    let path_at = scheme.len() + authority.len();
                    &url[path_at..]
                });
            }
            push(
                &mut out,
                Indicator {
                    text: clip(&redact_text(&shown)),
                    severity,
                },
            );
        }
    }
    // A value that is an IP address (with a port) on its own.
    let t = text.trim();
    let host = t.rsplit_once(':').map_or(t, |(h, p)| {
        if p.bytes().all(|c| c.is_ascii_digit()) && !p.is_empty() {
            h
        } else {
            t
        }
    });
    if is_ipv4(host) && !host.starts_with("0.") {
        push(
            &mut out,
            Indicator {
                text: t.to_string(),
                severity: Severity::Low,
            },
        );
    }
    out
}

/// Most metadata findings one file gets (each rule): past it, one more says how many were left.
const MAX_PER_FILE: usize = 16;

/// Reports the secrets and indicators in one metadata value: `field` names where it is (a GGUF
/// key, a JSON path, `pickle string`), `offset` its byte offset when known.
pub fn check_value(cx: &mut Context<'_>, place: Place, field: &str, text: &str, at: Option<u64>) {
    if text.len() < 7 {
        return;
    }
    check_secrets(cx, field, text, at);
    check_indicators(cx, place, field, text, at);
}

/// Reports the secrets in one metadata value (see [`check_value`]).
pub fn check_secrets(cx: &mut Context<'_>, field: &str, text: &str, at: Option<u64>) {
    let field = clip(&redact_text(field));
    for secret in secrets_in(text) {
        let count = cx
            .findings()
            .iter()
            .filter(|f| f.rule_id == RuleId::MetadataSecret)
            .count();
        if count >= MAX_PER_FILE {
            break;
        }
        let finding = Finding::new(
            RuleId::MetadataSecret,
            format!(
                "{} embedded in {field}: {} (redacted)",
                secret.kind, secret.redacted
            ),
        )
        .with_indicators(vec![secret.redacted.clone()]);
        cx.record(finding, at);
    }
}

/// Reports the URLs and IP addresses in one metadata value (see [`check_value`]).
pub fn check_indicators(
    cx: &mut Context<'_>,
    place: Place,
    field: &str,
    text: &str,
    at: Option<u64>,
) {
    let field = clip(&redact_text(field));
    let indicators = indicators_in(text, place);
    if indicators.is_empty() {
        return;
    }
    let count = cx
        .findings()
        .iter()
        .filter(|f| f.rule_id == RuleId::MetadataNetworkIndicator)
        .count();
    if count >= MAX_PER_FILE {
        return;
    }
    let severity = indicators
        .iter()
        .map(|i| i.severity)
        .max()
        .unwrap_or(Severity::Info);
    let list: Vec<String> = indicators.into_iter().map(|i| i.text).collect();
    let finding = Finding::new(
        RuleId::MetadataNetworkIndicator,
        format!("network address in {field}: {}", list.join(", ")),
    )
    .with_severity(severity)
    .with_indicators(list);
    cx.record(finding, at);
}

/// Walks a JSON value and checks every string (keys included) with [`check_value`]; `path` is
/// where the value is (`config.json`), extended by keys (`config.json: a.b`).
pub fn check_json(cx: &mut Context<'_>, path: &str, value: &serde_json::Value) {
    fn walk(cx: &mut Context<'_>, path: &str, key: &str, v: &serde_json::Value, budget: &mut u32) {
        if *budget == 0 {
            return;
        }
        *budget -= 1;
        match v {
            serde_json::Value::String(s) => {
                let field = if key.is_empty() {
                    path.to_string()
                } else {
                    format!("{path} `{key}`")
                };
                check_value(cx, Place::Metadata, &field, s, None);
            }
            serde_json::Value::Array(items) => {
                for item in items {
                    walk(cx, path, key, item, budget);
                }
            }
            serde_json::Value::Object(map) => {
                for (k, item) in map {
                    if worth_checking(k) {
                        check_value(cx, Place::Metadata, &format!("{path} key"), k, None);
                    }
                    let sub = if key.is_empty() {
                        k.clone()
                    } else {
                        format!("{key}.{k}")
                    };
                    walk(cx, path, &sub, item, budget);
                }
            }
            _ => {}
        }
    }
    let mut budget = 100_000;
    walk(cx, path, "", value, &mut budget);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worth_checking_sees_every_prefix_url_and_address_anywhere() {
        for p in PREFIXES {
            assert!(worth_checking(&format!("zz {p}zzzzzzzzzzzzzzzzzz")), "{p}");
            assert!(worth_checking(&format!("{p}zzzzzzzzzzzzzzzzzzzz")), "{p}");
        }
        assert!(worth_checking("see ftp://x"));
        assert!(worth_checking("10.0.0.1:8080"));
        assert!(worth_checking("tcp/192.168.1.20"));
        assert!(!worth_checking("tok123_deadbeef"));
        assert!(!worth_checking("version 1.2.3"));
        assert!(!worth_checking("ab:/c"));
        assert!(!worth_checking("hf_x"));
    }

    fn github(random: &str) -> String {
        let mut n = u64::from(crc32fast::hash(random.as_bytes()));
        let mut check = Vec::new();
        for _ in 0..6 {
            check.push(BASE62[(n % 62) as usize]);
            n /= 62;
        }
        check.reverse();
        format!("ghp_{random}{}", String::from_utf8_lossy(&check))
    }

    fn kinds(text: &str) -> Vec<&'static str> {
        secrets_in(text).into_iter().map(|h| h.kind).collect()
    }

    #[test]
    fn each_format_is_found_with_its_exact_shape() {
        let gh = github("A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5");
        assert_eq!(kinds(&format!("token={gh}")), ["GitHub token"]);
        // One character changed: the checksum no longer matches.
        let bad = gh.replace("A1b2", "A1b3");
        assert!(kinds(&bad).is_empty());
        assert_eq!(
            kinds("aws AKIAZ7XQ4PLMN2RSTUVW here"),
            ["AWS access key id"]
        );
        assert!(
            kinds("AKIAIOSFODNN7EXAMPLE").is_empty(),
            "documented example"
        );
        assert!(kinds("AKIAZ7XQ4PLMN2RSTUV").is_empty(), "19 characters");
        assert!(kinds("AKIAZ7XQ4PLMN2RSTU01").is_empty(), "not base32");
        assert_eq!(
            kinds("hf_AbCdEfGhIjKlMnOpQrStUvWxYzAbCdEfGh"),
            ["Hugging Face token"]
        );
        assert!(kinds("hf_abcdefghijklmnopqrstuvwxyzabcdefgh").is_empty());
        assert!(kinds("hf_AbCdEfGhIjKlMnOpQrStUvWxYzAbCdEfG1").is_empty());
        assert_eq!(
            kinds("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"),
            ["OpenAI API key"]
        );
        assert!(
            kinds("use sk-learn and sk-proj-notes for the task-specific sk-xxxxxxxx").is_empty()
        );
        assert_eq!(
            kinds("xoxb-1234567890-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx"),
            ["Slack token"]
        );
        assert_eq!(
            kinds("AIzaSyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q"),
            ["Google API key"]
        );
        let pem = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8S9t0U\nabcd\n-----END RSA PRIVATE KEY-----";
        let hits = secrets_in(pem);
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].redacted, "-----BEGIN RSA PRIVATE KEY-----…abcd");
        assert!(kinds("-----BEGIN PRIVATE KEY----- goes here").is_empty());
        // {"alg":"HS256","typ":"JWT"} . {"sub":"1234567890"} . signature
        let jwt = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c";
        assert_eq!(kinds(jwt), ["JSON Web Token"]);
        assert!(kinds("eyJub3QiOiJhIGp3dCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV").is_empty());
    }

    #[test]
    fn look_alikes_are_silent() {
        for text in [
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            "SGVsbG8gd29ybGQsIHRoaXMgaXMgYSBiYXNlNjQgYmxvYiBvZiBzb21lIGxlbmd0aA==",
            "the sk- prefix marks a key; our task-sk-aware model",
            "AKIAIOSFODNN7EXAMPLE",
            "ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
            "layers.0.self_attn.q_proj.weight",
        ] {
            assert!(secrets_in(text).is_empty(), "{text}");
        }
    }

    #[test]
    fn redaction_keeps_prefix_and_last_four() {
        assert_eq!(
            redact("hf_AbCdEfGhIjKlMnOpQrStUvWxYzAbCdwxyz", 3),
            "hf_Ab…wxyz"
        );
        let text = "key hf_AbCdEfGhIjKlMnOpQrStUvWxYzAbCdwxyz end";
        assert_eq!(redact_text(text), "key hf_Ab…wxyz end");
    }

    #[test]
    fn urls_are_rated_by_host_and_place() {
        assert!(indicators_in("see https://huggingface.co/org/model", Place::Metadata).is_empty());
        assert!(indicators_in("https://arxiv.org/abs/1", Place::PickleString).is_empty());
        let m = indicators_in("fetch https://evil.example.net/x", Place::Metadata);
        assert_eq!(m[0].severity, Severity::Info);
        let p = indicators_in("fetch https://evil.example.net/x", Place::PickleString);
        assert_eq!(p[0].severity, Severity::Low);
        let ip = indicators_in("http://10.1.2.3:8080/beacon", Place::Metadata);
        assert_eq!(ip[0].severity, Severity::Low);
        assert_eq!(
            indicators_in("203.0.113.7:4444", Place::Metadata)[0].text,
            "203.0.113.7:4444"
        );
        assert!(indicators_in("version 1.2.3", Place::Metadata).is_empty());
        let creds = indicators_in("https://bob:hunter2@files.example.org/a", Place::Metadata);
        assert_eq!(creds[0].text, "https://bob:…@files.example.org/a");
    }
}
