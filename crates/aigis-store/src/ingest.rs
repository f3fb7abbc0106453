//! Recording one run: every result becomes content (a file row per distinct digest) at a
//! location, with its findings and the location's exposure; the models the run grouped; and
//! the events of what changed since the location was last seen. One transaction per run: a
//! document that fails half way changes nothing.

use crate::document::{ResultDoc, ScanDocument, ScanMeta};
use crate::query::EventRow;
use crate::{Backend, INCOMPLETE, Result, Store, StoreError, severity_rank};
use aigis_scan::RuleId;
use serde_json::Value;
use sha2::{Digest as _, Sha256};
use sqlx::{AnyConnection, Executor as _};
use std::collections::HashMap;

/// What one ingest recorded.
#[derive(Debug, Clone, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct IngestSummary {
    /// The new scan's id.
    pub scan_id: i64,
    /// Results recorded.
    pub files: usize,
    /// Models recorded.
    pub models: usize,
    /// Locations seen for the first time.
    pub new_locations: usize,
    /// What changed.
    pub events: Vec<EventRow>,
}

/// Exposures that let others replace a location's content.
const WRITABLE_BY_OTHERS: &[&str] = &["HOST-WRITABLE-PATH", "STORAGE-PUBLIC-WRITE"];

/// Whether the catalogue scopes the rule to where a file is rather than what it holds.
fn is_location_rule(rule: &str) -> bool {
    RuleId::from_id(rule).is_some_and(RuleId::is_location)
}

/// The content verdict of a result: its `content_severity`, else the highest active finding
/// that is not about the location; and never below `incomplete` when the analysis did not
/// cover the whole input (an error, an invalid file, a limit): what aigis could not determine
/// is never recorded as clean.
fn verdict(result: &ResultDoc) -> String {
    let found = match &result.content_severity {
        Some(severity) => severity.clone(),
        None => result
            .findings
            .iter()
            .filter(|f| f.suppressed.is_none() && !is_location_rule(&f.rule_id))
            .map(|f| f.severity.as_str())
            .max_by_key(|s| severity_rank(s))
            .unwrap_or("none")
            .to_owned(),
    };
    if not_fully_analysed(result) && severity_rank(&found) < severity_rank(INCOMPLETE) {
        INCOMPLETE.to_owned()
    } else {
        found
    }
}

/// Whether the result says its analysis did not cover the whole input.
fn not_fully_analysed(result: &ResultDoc) -> bool {
    result.incomplete.is_some() || matches!(result.status.as_str(), "error" | "invalid")
}

/// The inventory's location URI of a remote object, from its result's `source` (`kind`,
/// `bucket`/`key`, `repo`/`file`, `url`): what a fleet listing compares its objects with.
pub fn remote_location(source: &Value) -> Option<String> {
    let doc = ResultDoc {
        path: String::new(),
        format: String::new(),
        size: 0,
        sha256: None,
        status: String::new(),
        content_severity: None,
        findings: Vec::new(),
        source: Some(source.clone()),
        incomplete: None,
    };
    let meta = ScanMeta {
        started_at: 0,
        host: String::new(),
        collector: String::new(),
        arguments: Vec::new(),
        base_dir: None,
    };
    let (uri, kind) = location_of(&doc, &meta);
    (kind != "host").then_some(uri)
}

/// The URI prefix of the locations a remote target covers, written as the inventory writes
/// them (`az://c/p` is `azure://c/p`; `gs://` stays, `s3a://` is `s3://`); `None` for targets
/// whose locations are not written under their URL (Hub revisions, ABFS URLs with an account).
pub(crate) fn remote_target_prefix(target: &str) -> Option<String> {
    let (scheme, rest) = target.split_once("://")?;
    let rest = rest.trim_end_matches('/');
    let scheme = match scheme.to_ascii_lowercase().as_str() {
        "s3" | "s3a" => "s3",
        "gs" => "gs",
        "az" | "azure" => "azure",
        "hf" if !rest.contains('@') => "hf",
        _ => return None,
    };
    (!rest.is_empty()).then(|| format!("{scheme}://{rest}"))
}

/// Marks gone what the inventory holds under a remote `target` that its complete listing
/// (`listed`: location URIs) no longer has: `MODEL_DISAPPEARED` events, recorded as a scan of
/// their own (made only when something is gone). Returns how many.
pub(crate) async fn gone_under(
    conn: &mut AnyConnection,
    target: &str,
    listed: &std::collections::HashSet<String>,
    meta: &ScanMeta,
) -> Result<usize> {
    let Some(prefix) = remote_target_prefix(target) else {
        return Ok(0);
    };
    let held = sqlx::query_as::<_, Gone>(
        "SELECT o.id, l.id, o.file_id, f.verdict, l.uri FROM occurrences o \
         JOIN locations l ON l.id = o.location_id JOIN files f ON f.id = o.file_id \
         WHERE o.current = 1 AND (l.uri = $1 OR substr(l.uri, 1, length($2)) = $2)",
    )
    .bind(&prefix)
    .bind(format!("{prefix}/"))
    .fetch_all(&mut *conn)
    .await?;
    let gone: Vec<_> = held
        .into_iter()
        .filter(|(_, _, _, _, uri)| !listed.contains(uri))
        .collect();
    if gone.is_empty() {
        return Ok(0);
    }
    let scan_id: i64 = sqlx::query_scalar(
        "INSERT INTO scans (started_at, host, collector, tool_version, ruleset_version, arguments, targets, files, incomplete) \
         VALUES ($1, $2, $3, '', '', $4, $5, 0, 0) RETURNING id",
    )
    .bind(meta.started_at)
    .bind(&meta.host)
    .bind(&meta.collector)
    .bind(serde_json::to_string(&meta.arguments).unwrap_or_default())
    .bind(serde_json::to_string(&[target]).unwrap_or_default())
    .fetch_one(&mut *conn)
    .await?;
    for (_, location_id, ..) in &gone {
        sqlx::query(
            "UPDATE model_locations SET current = 0 WHERE current = 1 AND location_id = $1",
        )
        .bind(location_id)
        .execute(&mut *conn)
        .await?;
    }
    record_gone(conn, scan_id, meta.started_at, &gone).await?;
    Ok(gone.len())
}

/// Content a location held and no longer holds: (occurrence, location, file, its verdict, URI).
type Gone = (i64, i64, i64, String, String);

/// Ends each occurrence in `gone` and records a `MODEL_DISAPPEARED` event for it.
async fn record_gone(conn: &mut AnyConnection, scan_id: i64, at: i64, gone: &[Gone]) -> Result<()> {
    for (occurrence, location_id, file_id, old_verdict, uri) in gone {
        sqlx::query("UPDATE occurrences SET current = 0 WHERE id = $1")
            .bind(occurrence)
            .execute(&mut *conn)
            .await?;
        let message = format!("content rated {old_verdict} at {uri} is gone");
        event(
            conn,
            scan_id,
            at,
            "MODEL_DISAPPEARED",
            "info",
            *location_id,
            Some(*file_id),
            None,
            Some(old_verdict),
            None,
            &message,
        )
        .await?;
    }
    Ok(())
}

/// Where a result's content is kept, as a URI, and what kind of place that is.
pub(crate) fn location_of(result: &ResultDoc, meta: &ScanMeta) -> (String, String) {
    if let Some(source) = result.source.as_ref().and_then(Value::as_object) {
        let text = |k: &str| source.get(k).and_then(Value::as_str).unwrap_or_default();
        let kind = text("kind");
        match kind {
            "s3" | "gcs" | "azure" => {
                let scheme = if kind == "gcs" { "gs" } else { kind };
                return (
                    format!("{scheme}://{}/{}", text("bucket"), text("key")),
                    kind.to_owned(),
                );
            }
            "http" => return (text("url").to_owned(), kind.to_owned()),
            // A location already written as a URI (a CycloneDX BOM's `aigis:location`, a purl).
            "uri" => {
                let uri = text("uri");
                let kind = match uri.split_once("://").map_or(uri, |(scheme, _)| scheme) {
                    "file" => "host",
                    "s3" => "s3",
                    "gs" => "gcs",
                    "azure" | "az" => "azure",
                    "http" | "https" => "http",
                    "hf" => "huggingface",
                    _ if uri.starts_with("pkg:") => "purl",
                    _ => "uri",
                };
                return (uri.to_owned(), kind.to_owned());
            }
            "huggingface" => {
                return (
                    format!("hf://{}/{}", text("repo"), text("file")),
                    kind.to_owned(),
                );
            }
            _ => {}
        }
    }
    (host_uri(&meta.host, &result.path, meta), "host".to_owned())
}

/// The host a `file://HOST/path` location is on (`fallback` when the URI names none).
fn host_of_uri(uri: &str, fallback: &str) -> String {
    uri.strip_prefix("file://")
        .and_then(|rest| rest.split('/').next())
        .filter(|host| !host.is_empty())
        .unwrap_or(fallback)
        .to_owned()
}

/// Where a model is: a path on the run's host, or a location already written as a URI (a
/// CycloneDX BOM's `aigis:location`, a purl).
fn model_uri(path: &str, meta: &ScanMeta) -> String {
    if path.contains("://") || path.starts_with("pkg:") {
        path.to_owned()
    } else {
        host_uri(&meta.host, path, meta)
    }
}

/// `file://HOST/abs/path` for a path on a host (relative paths joined with the run's folder
/// when it is known).
pub(crate) fn host_uri(host: &str, path: &str, meta: &ScanMeta) -> String {
    let joined = if path.starts_with('/') {
        path.to_owned()
    } else if let Some(base) = &meta.base_dir {
        format!(
            "{}/{}",
            base.trim_end_matches('/'),
            path.trim_start_matches("./")
        )
    } else {
        format!("/./{path}")
    };
    format!("file://{host}{joined}")
}

/// Rows per multi-row statement of `cols` values. PostgreSQL takes 500 rows (65,535 values
/// at most). SQLite takes 32,766 values; its statements number their parameters with `?` (see
/// [`param`]), so binding is linear and a larger statement only saves round trips.
fn batch(backend: Backend, cols: usize) -> usize {
    match backend {
        Backend::Postgres => 500,
        Backend::Sqlite => (4096 / cols.max(1)).max(1),
    }
}

/// The `n`th parameter (from 1) of a statement whose parameters all appear once, in order:
/// `$n` on PostgreSQL, `?` on SQLite. SQLite names `$n` parameters, and sqlx looks each name up
/// with a walk of the statement's name list, which made binding a batch quadratic in its
/// values (70% of a recording, by perf); `?` parameters have no name and bind in order.
fn param(backend: Backend, n: usize) -> String {
    match backend {
        Backend::Postgres => format!("${n}"),
        Backend::Sqlite => "?".to_owned(),
    }
}

/// A value to bind, for statements built for a batch of rows.
#[derive(Clone)]
enum Bind {
    Int(i64),
    Text(String),
    OptText(Option<String>),
}

type Bind4 = (String, String, String, Option<String>);

/// `($1, $2, …), (…)` for `rows` rows of `cols` values (`(?, ?, …)` on SQLite).
fn values(backend: Backend, rows: usize, cols: usize) -> String {
    let mut out = String::with_capacity(rows * cols * 5);
    for r in 0..rows {
        if r > 0 {
            out.push_str(", ");
        }
        out.push('(');
        for c in 0..cols {
            if c > 0 {
                out.push_str(", ");
            }
            out.push_str(&param(backend, r * cols + c + 1));
        }
        out.push(')');
    }
    out
}

/// `INSERT … VALUES (…), (…) …` over `rows` (each a row of values), in batches.
async fn execute_rows(
    conn: &mut AnyConnection,
    backend: Backend,
    head: &str,
    tail: &str,
    rows: &[Vec<Bind>],
) -> Result<()> {
    let cols = rows.first().map_or(1, Vec::len);
    for chunk in rows.chunks(batch(backend, cols)) {
        let sql = format!(
            "{head} VALUES {} {tail}",
            values(backend, chunk.len(), cols)
        );
        let binds = chunk.iter().flatten().cloned().collect();
        bound(sqlx::query(&sql), binds).execute(&mut *conn).await?;
    }
    Ok(())
}

/// The same, collecting what its `RETURNING` clause returns.
async fn fetch_rows<T>(
    conn: &mut AnyConnection,
    backend: Backend,
    head: &str,
    tail: &str,
    rows: &[Vec<Bind>],
) -> Result<Vec<T>>
where
    T: Send + Unpin + for<'r> sqlx::FromRow<'r, sqlx::any::AnyRow>,
{
    let cols = rows.first().map_or(1, Vec::len);
    let mut out = Vec::with_capacity(rows.len());
    for chunk in rows.chunks(batch(backend, cols)) {
        let sql = format!(
            "{head} VALUES {} {tail}",
            values(backend, chunk.len(), cols)
        );
        let binds = chunk.iter().flatten().cloned().collect();
        out.extend(
            bound(sqlx::query_as::<_, T>(&sql), binds)
                .fetch_all(&mut *conn)
                .await?,
        );
    }
    Ok(out)
}

/// `{head} (…ids…)` in batches; `lead`, when given, is `$1` (the one parameter `head` has).
async fn execute_for_ids(
    conn: &mut AnyConnection,
    backend: Backend,
    head: &str,
    lead: Option<i64>,
    ids: &[i64],
) -> Result<()> {
    let first = if lead.is_some() { 2 } else { 1 };
    for chunk in ids.chunks(batch(backend, 1)) {
        let head = match backend {
            Backend::Sqlite => head.replace("$1", "?"),
            Backend::Postgres => head.to_owned(),
        };
        let sql = format!("{head} ({})", list_params(backend, first, chunk.len()));
        let mut binds: Vec<Bind> = lead.into_iter().map(Bind::Int).collect();
        binds.extend(chunk.iter().map(|id| Bind::Int(*id)));
        bound(sqlx::query(&sql), binds).execute(&mut *conn).await?;
    }
    Ok(())
}

/// `$first, $first+1, …` (`n` of them; `?, ?, …` on SQLite).
fn list_params(backend: Backend, first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| param(backend, i))
        .collect::<Vec<_>>()
        .join(", ")
}

type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>;
type AnyQueryAs<'q, T> = sqlx::query::QueryAs<'q, sqlx::Any, T, sqlx::any::AnyArguments<'q>>;

trait BindAll: Sized {
    fn bind_one(self, value: Bind) -> Self;
}

impl<'q> BindAll for AnyQuery<'q> {
    fn bind_one(self, value: Bind) -> Self {
        match value {
            Bind::Int(v) => self.bind(v),
            Bind::Text(v) => self.bind(v),
            Bind::OptText(v) => self.bind(v),
        }
    }
}

impl<'q, T> BindAll for AnyQueryAs<'q, T> {
    fn bind_one(self, value: Bind) -> Self {
        match value {
            Bind::Int(v) => self.bind(v),
            Bind::Text(v) => self.bind(v),
            Bind::OptText(v) => self.bind(v),
        }
    }
}

fn bound<Q: BindAll>(query: Q, binds: Vec<Bind>) -> Q {
    binds.into_iter().fold(query, Q::bind_one)
}

/// The URI every location under a target starts with.
fn target_prefix(target: &str, meta: &ScanMeta) -> String {
    if target.contains("://") {
        target.trim_end_matches('/').to_owned()
    } else {
        host_uri(&meta.host, target.trim_end_matches('/'), meta)
    }
}

/// An ETag as a value to compare: stores quote it in one answer and not in another (Azure's
/// listing and HEAD), and may mark it weak.
pub(crate) fn etag_value(etag: &str) -> &str {
    etag.trim().trim_start_matches("W/").trim_matches('"')
}

/// The identity of a result's content: its SHA-256; for an object aigis did not hash, what the
/// store says identifies this content at this location (its version id, else its ETag and
/// size), so an object replaced by content of the same size is new content; else the location
/// and size.
fn digest_of(result: &ResultDoc, uri: &str) -> String {
    if let Some(sha) = result.sha256.as_deref().filter(|s| !s.is_empty()) {
        return format!("sha256:{}", sha.to_ascii_lowercase());
    }
    let source = result.source.as_ref().and_then(Value::as_object);
    let text = |k: &str| {
        source
            .and_then(|s| s.get(k))
            .and_then(Value::as_str)
            .filter(|v| !v.is_empty())
    };
    match (text("version"), text("etag")) {
        (Some(version), _) => format!("version:{uri}:{version}"),
        (None, Some(etag)) => format!("etag:{uri}:{}:{}", etag_value(etag), result.size),
        (None, None) => format!("unhashed:{uri}:{}", result.size),
    }
}

fn fingerprint(rule: &str, location: Option<&str>, message: &str) -> String {
    let mut hasher = Sha256::new();
    for part in [rule, location.unwrap_or(""), message] {
        hasher.update(part.as_bytes());
        hasher.update([0]);
    }
    hex::encode(&hasher.finalize()[..16])
}

impl Store {
    /// Records one run. Returns the new scan's id and the events it caused.
    pub async fn ingest(&self, doc: &ScanDocument, meta: &ScanMeta) -> Result<IngestSummary> {
        let mut conn = self.pool.acquire().await?;
        conn.execute(sqlx::raw_sql(self.begin_sql())).await?;
        let outcome = ingest_in(&mut conn, self.backend, doc, meta).await;
        match outcome {
            Ok(summary) => {
                conn.execute(sqlx::raw_sql("COMMIT")).await?;
                Ok(summary)
            }
            Err(err) => {
                let _ = conn.execute(sqlx::raw_sql("ROLLBACK")).await;
                Err(err)
            }
        }
    }
}

struct Current {
    occurrence: i64,
    file_id: i64,
    verdict: String,
    digest: String,
}

pub(crate) async fn ingest_in(
    conn: &mut AnyConnection,
    backend: Backend,
    doc: &ScanDocument,
    meta: &ScanMeta,
) -> Result<IngestSummary> {
    let tool_version = doc
        .tool
        .as_ref()
        .map(|t| t.version.clone())
        .unwrap_or_default();
    let ruleset = format!("aigis {tool_version}");
    let incomplete = doc
        .results
        .iter()
        .filter(|r| r.incomplete.is_some())
        .count();
    let scan_id: i64 = sqlx::query_scalar(
        "INSERT INTO scans (started_at, host, collector, tool_version, ruleset_version, arguments, targets, files, incomplete) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
    )
    .bind(meta.started_at)
    .bind(&meta.host)
    .bind(&meta.collector)
    .bind(&tool_version)
    .bind(&ruleset)
    .bind(serde_json::to_string(&meta.arguments).unwrap_or_default())
    .bind(serde_json::to_string(&doc.targets).unwrap_or_default())
    .bind(i64::try_from(doc.results.len()).unwrap_or(i64::MAX))
    .bind(i64::try_from(incomplete).unwrap_or(i64::MAX))
    .fetch_one(&mut *conn)
    .await?;

    let mut summary = IngestSummary {
        scan_id,
        files: doc.results.len(),
        models: 0,
        new_locations: 0,
        events: Vec::new(),
    };
    // One pass over the results in memory, then set-based statements in batches: a query per
    // row costs a round trip (a thread hand-off for SQLite), which made recording 100,000
    // results take minutes.
    struct Row<'a> {
        result: &'a ResultDoc,
        uri: String,
        kind: String,
        digest: String,
        verdict: String,
    }
    let mut rows: Vec<Row<'_>> = Vec::with_capacity(doc.results.len());
    for result in &doc.results {
        if result.path.is_empty() {
            return Err(StoreError::Invalid("a result without a path".into()));
        }
        let (uri, kind) = location_of(result, meta);
        let digest = digest_of(result, &uri);
        rows.push(Row {
            verdict: verdict(result),
            result,
            uri,
            kind,
            digest,
        });
    }

    // Content.
    let mut file_ids: HashMap<String, i64> = HashMap::new();
    {
        let mut unique: HashMap<&str, &Row<'_>> = HashMap::new();
        for row in &rows {
            unique.insert(row.digest.as_str(), row);
        }
        let mut unique: Vec<&Row<'_>> = unique.into_values().collect();
        unique.sort_by(|a, b| a.digest.cmp(&b.digest));
        let values: Vec<Vec<Bind>> = unique
            .iter()
            .map(|row| {
                vec![
                    Bind::Text(row.digest.clone()),
                    Bind::OptText(row.result.sha256.as_deref().map(str::to_ascii_lowercase)),
                    Bind::Int(i64::try_from(row.result.size).unwrap_or(i64::MAX)),
                    Bind::Text(row.result.format.clone()),
                    Bind::Text(row.result.status.clone()),
                    Bind::Text(row.verdict.clone()),
                    Bind::OptText(row.result.incomplete.clone()),
                    Bind::Int(scan_id),
                    Bind::Int(scan_id),
                ]
            })
            .collect();
        let returned: Vec<(i64, String)> = fetch_rows(
            conn,
            backend,
            "INSERT INTO files (digest, sha256, size, format, status, verdict, incomplete, first_scan, last_scan)",
            "ON CONFLICT (digest) DO UPDATE SET format = excluded.format, status = excluded.status, \
             verdict = excluded.verdict, incomplete = excluded.incomplete, last_scan = excluded.last_scan \
             RETURNING id, digest",
            &values,
        )
        .await?;
        file_ids.extend(returned.into_iter().map(|(id, digest)| (digest, id)));
    }
    let file_of = |row: &Row<'_>| -> Result<i64> {
        file_ids
            .get(&row.digest)
            .copied()
            .ok_or_else(|| StoreError::Invalid(format!("content {} not recorded", row.digest)))
    };

    // Locations: (id, seen before this scan).
    let mut location_ids: HashMap<String, (i64, bool)> = HashMap::new();
    {
        let mut unique: Vec<&Row<'_>> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for row in &rows {
            if seen.insert(row.uri.as_str()) {
                unique.push(row);
            }
        }
        let values: Vec<Vec<Bind>> = unique
            .iter()
            .map(|row| {
                vec![
                    Bind::Text(row.uri.clone()),
                    Bind::Text(row.kind.clone()),
                    Bind::OptText((row.kind == "host").then(|| host_of_uri(&row.uri, &meta.host))),
                    Bind::Int(scan_id),
                    Bind::Int(scan_id),
                ]
            })
            .collect();
        let returned: Vec<(i64, String, i64)> = fetch_rows(
            conn,
            backend,
            "INSERT INTO locations (uri, kind, host, first_scan, last_scan)",
            "ON CONFLICT (uri) DO UPDATE SET last_scan = excluded.last_scan RETURNING id, uri, first_scan",
            &values,
        )
        .await?;
        for (id, uri, first) in returned {
            let known = first != scan_id;
            if !known {
                summary.new_locations += 1;
            }
            location_ids.insert(uri, (id, known));
        }
    }
    // Remote objects' ETags and version ids: a later listing skips what did not change.
    {
        let mut values: Vec<Vec<Bind>> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for row in &rows {
            let Some(source) = row.result.source.as_ref().and_then(Value::as_object) else {
                continue;
            };
            let text = |k: &str| source.get(k).and_then(Value::as_str).map(str::to_owned);
            let (etag, version) = (
                text("etag").map(|e| etag_value(&e).to_owned()),
                text("version"),
            );
            if (etag.is_none() && version.is_none()) || !seen.insert(row.uri.as_str()) {
                continue;
            }
            let Some((location, _)) = location_ids.get(&row.uri) else {
                continue;
            };
            values.push(vec![
                Bind::Int(*location),
                Bind::OptText(etag),
                Bind::OptText(version),
                Bind::Int(i64::try_from(row.result.size).unwrap_or(i64::MAX)),
                Bind::Int(scan_id),
            ]);
        }
        let _: Vec<(i64,)> = fetch_rows(
            conn,
            backend,
            "INSERT INTO location_stamps (location_id, etag, version, size, scan_id)",
            "ON CONFLICT (location_id) DO UPDATE SET etag = excluded.etag, version = excluded.version, \
             size = excluded.size, scan_id = excluded.scan_id RETURNING location_id",
            &values,
        )
        .await?;
    }
    // Locations seen before this scan: their stale exposures and what they held are looked up.
    let known: Vec<i64> = location_ids
        .values()
        .filter(|(_, known)| *known)
        .map(|(id, _)| *id)
        .collect();
    let location_of_row = |row: &Row<'_>| -> Result<(i64, bool)> {
        location_ids
            .get(&row.uri)
            .copied()
            .ok_or_else(|| StoreError::Invalid(format!("location {} not recorded", row.uri)))
    };

    // Exposure of each location, as this scan saw it; what a known location no longer shows
    // is gone.
    let mut writable_locations = std::collections::HashSet::new();
    {
        let mut exposures: HashMap<(i64, String), (String, String)> = HashMap::new();
        for row in &rows {
            let (location_id, _) = location_of_row(row)?;
            for finding in row
                .result
                .findings
                .iter()
                .filter(|f| is_location_rule(&f.rule_id))
            {
                let rule = finding.rule_id.to_ascii_uppercase();
                if WRITABLE_BY_OTHERS.contains(&rule.as_str()) {
                    writable_locations.insert(location_id);
                }
                exposures.insert(
                    (location_id, rule),
                    (finding.severity.clone(), finding.message.clone()),
                );
            }
        }
        let mut list: Vec<_> = exposures.into_iter().collect();
        list.sort();
        let values: Vec<Vec<Bind>> = list
            .into_iter()
            .map(|((location_id, rule), (severity, message))| {
                vec![
                    Bind::Int(location_id),
                    Bind::Text(rule),
                    Bind::Text(severity),
                    Bind::Text(message),
                    Bind::Int(scan_id),
                    Bind::Int(scan_id),
                ]
            })
            .collect();
        execute_rows(
            conn,
            backend,
            "INSERT INTO exposures (location_id, rule_id, severity, message, first_scan, last_scan)",
            "ON CONFLICT (location_id, rule_id) DO UPDATE SET severity = excluded.severity, \
             message = excluded.message, last_scan = excluded.last_scan",
            &values,
        )
        .await?;
        execute_for_ids(
            conn,
            backend,
            "DELETE FROM exposures WHERE last_scan <> $1 AND location_id IN",
            Some(scan_id),
            &known,
        )
        .await?;
    }

    // Findings about the content.
    {
        let mut findings: HashMap<(i64, String), Bind4> = HashMap::new();
        for row in &rows {
            let file_id = file_of(row)?;
            for finding in row
                .result
                .findings
                .iter()
                .filter(|f| f.suppressed.is_none() && !is_location_rule(&f.rule_id))
            {
                let rule = finding.rule_id.to_ascii_uppercase();
                let print = fingerprint(&rule, finding.location.as_deref(), &finding.message);
                findings.insert(
                    (file_id, print),
                    (
                        rule,
                        finding.severity.clone(),
                        finding.message.clone(),
                        finding.location.clone(),
                    ),
                );
            }
        }
        let mut list: Vec<_> = findings.into_iter().collect();
        list.sort_by(|a, b| a.0.cmp(&b.0));
        let values: Vec<Vec<Bind>> = list
            .into_iter()
            .map(|((file_id, print), (rule, severity, message, location))| {
                vec![
                    Bind::Int(file_id),
                    Bind::Text(print),
                    Bind::Text(rule),
                    Bind::Text(severity),
                    Bind::Text(message),
                    Bind::OptText(location),
                    Bind::Text(ruleset.clone()),
                    Bind::Int(scan_id),
                    Bind::Int(scan_id),
                ]
            })
            .collect();
        execute_rows(
            conn,
            backend,
            "INSERT INTO findings (file_id, fingerprint, rule_id, severity, message, location_in_file, ruleset_version, first_scan, last_scan)",
            "ON CONFLICT (file_id, fingerprint) DO UPDATE SET severity = excluded.severity, \
             ruleset_version = excluded.ruleset_version, last_scan = excluded.last_scan",
            &values,
        )
        .await?;
    }

    // What known locations held before.
    let mut held: HashMap<i64, Vec<Current>> = HashMap::new();
    {
        for chunk in known.chunks(batch(backend, 1)) {
            let sql = format!(
                "SELECT o.location_id, o.id, o.file_id, f.verdict, f.digest FROM occurrences o \
                 JOIN files f ON f.id = o.file_id WHERE o.current = 1 AND o.location_id IN ({})",
                list_params(backend, 1, chunk.len())
            );
            let binds = chunk.iter().map(|id| Bind::Int(*id)).collect();
            for (location, occurrence, file_id, verdict, digest) in bound(
                sqlx::query_as::<_, (i64, i64, i64, String, String)>(&sql),
                binds,
            )
            .fetch_all(&mut *conn)
            .await?
            {
                held.entry(location).or_default().push(Current {
                    occurrence,
                    file_id,
                    verdict,
                    digest,
                });
            }
        }
    }

    // Occurrences, and the events of what changed at each location.
    let mut ended: Vec<i64> = Vec::new();
    let mut occurrences: Vec<(i64, i64)> = Vec::new();
    for row in &rows {
        let file_id = file_of(row)?;
        let (location_id, _) = location_of_row(row)?;
        let uri = &row.uri;
        let verdict = &row.verdict;
        let digest = &row.digest;
        let current = held
            .get(&location_id)
            .map(Vec::as_slice)
            .unwrap_or_default();
        let same = current.iter().any(|c| c.file_id == file_id);
        if !same {
            ended.extend(current.iter().map(|c| c.occurrence));
        }
        occurrences.push((location_id, file_id));
        if let Some(old) = current.first().filter(|_| !same) {
            let old_rank = severity_rank(&old.verdict);
            let new_rank = severity_rank(verdict);
            let was_writable = writable_locations.contains(&location_id);
            let severity = if was_writable || new_rank > old_rank {
                "critical"
            } else if new_rank >= severity_rank("high") {
                "high"
            } else {
                "medium"
            };
            let message = format!(
                "content at {uri} was replaced: {} ({}) → {} ({}){}",
                short(&old.digest),
                old.verdict,
                short(digest),
                verdict,
                if was_writable {
                    "; others can write this location"
                } else {
                    ""
                }
            );
            upsert_finding(
                conn,
                file_id,
                "MODEL-REPLACED",
                severity,
                &message,
                Some(uri),
                &ruleset,
                scan_id,
            )
            .await?;
            event(
                conn,
                scan_id,
                meta.started_at,
                "MODEL_REPLACED",
                severity,
                location_id,
                Some(old.file_id),
                Some(file_id),
                Some(&old.verdict),
                Some(verdict),
                &message,
            )
            .await?;
        } else if current.is_empty() && severity_rank(verdict) >= severity_rank("high") {
            let message = format!("new content rated {verdict} at {uri}");
            event(
                conn,
                scan_id,
                meta.started_at,
                "NEW_UNSAFE_MODEL",
                verdict,
                location_id,
                None,
                Some(file_id),
                None,
                Some(verdict),
                &message,
            )
            .await?;
        }
    }
    ended.sort_unstable();
    ended.dedup();
    execute_for_ids(
        conn,
        backend,
        "UPDATE occurrences SET current = 0 WHERE id IN",
        None,
        &ended,
    )
    .await?;
    occurrences.sort_unstable();
    occurrences.dedup_by_key(|(location, _)| *location);
    let values: Vec<Vec<Bind>> = occurrences
        .into_iter()
        .map(|(location_id, file_id)| {
            vec![
                Bind::Int(location_id),
                Bind::Int(file_id),
                Bind::Int(scan_id),
                Bind::Int(scan_id),
                Bind::Int(meta.started_at),
                Bind::Int(meta.started_at),
                Bind::Int(1),
            ]
        })
        .collect();
    execute_rows(
        conn,
        backend,
        "INSERT INTO occurrences (location_id, file_id, first_scan, last_scan, first_seen, last_seen, current)",
        "ON CONFLICT (location_id, file_id) DO UPDATE SET last_scan = excluded.last_scan, \
         last_seen = excluded.last_seen, current = 1",
        &values,
    )
    .await?;

    // Content gone from under the targets this run covered.
    for target in &doc.targets {
        let prefix = target_prefix(target, meta);
        let gone = sqlx::query_as::<_, Gone>(
            "SELECT o.id, l.id, o.file_id, f.verdict, l.uri FROM occurrences o \
             JOIN locations l ON l.id = o.location_id JOIN files f ON f.id = o.file_id \
             WHERE o.current = 1 AND l.last_scan <> $1 \
             AND (l.uri = $2 OR substr(l.uri, 1, length($3)) = $3)",
        )
        .bind(scan_id)
        .bind(&prefix)
        .bind(format!("{prefix}/"))
        .fetch_all(&mut *conn)
        .await?;
        record_gone(conn, scan_id, meta.started_at, &gone).await?;
    }

    // Models gone from under the targets: their folders were not seen by this run.
    let models = doc.models.as_deref();
    if models.is_some() {
        for target in &doc.targets {
            let prefix = target_prefix(target, meta);
            sqlx::query(
                "UPDATE model_locations SET current = 0 WHERE current = 1 AND last_scan <> $1 AND location_id IN \
                 (SELECT id FROM locations WHERE uri = $2 OR substr(uri, 1, length($3)) = $3)",
            )
            .bind(scan_id)
            .bind(&prefix)
            .bind(format!("{prefix}/"))
            .execute(&mut *conn)
            .await?;
        }
    }

    // Models: identity, verdict and files from what is in memory; statements in batches.
    let path_files: HashMap<&str, (i64, &str, &str)> = rows
        .iter()
        .filter_map(|row| {
            file_ids.get(&row.digest).map(|id| {
                (
                    row.result.path.as_str(),
                    (*id, row.digest.as_str(), row.verdict.as_str()),
                )
            })
        })
        .collect();
    struct Grouped<'a> {
        model: &'a crate::document::ModelDoc,
        identity: String,
        verdict: String,
        files: Vec<i64>,
        uri: String,
    }
    let mut grouped: Vec<Grouped<'_>> = Vec::new();
    for model in models.unwrap_or_default() {
        let mut files: Vec<(i64, &str, &str)> = model
            .files
            .iter()
            .filter_map(|f| path_files.get(f.path.as_str()).copied())
            .collect();
        if files.is_empty() {
            continue;
        }
        files.sort_by(|a, b| a.1.cmp(b.1));
        files.dedup();
        let mut hasher = Sha256::new();
        for (_, digest, _) in &files {
            hasher.update(digest.as_bytes());
            hasher.update(b"\n");
        }
        let verdict = files
            .iter()
            .map(|(_, _, v)| *v)
            .max_by_key(|v| severity_rank(v))
            .unwrap_or("none")
            .to_owned();
        grouped.push(Grouped {
            model,
            identity: hex::encode(hasher.finalize()),
            verdict,
            files: files.iter().map(|(id, _, _)| *id).collect(),
            uri: model_uri(&model.path, meta),
        });
    }
    let mut model_ids: HashMap<String, i64> = HashMap::new();
    {
        let mut unique: HashMap<&str, &Grouped<'_>> = HashMap::new();
        for g in &grouped {
            unique.insert(g.identity.as_str(), g);
        }
        let mut unique: Vec<&Grouped<'_>> = unique.into_values().collect();
        unique.sort_by(|a, b| a.identity.cmp(&b.identity));
        let values: Vec<Vec<Bind>> = unique
            .iter()
            .map(|g| {
                vec![
                    Bind::Text(g.identity.clone()),
                    Bind::Text(g.model.name.clone()),
                    Bind::Text(g.model.layout.clone()),
                    Bind::OptText(g.model.framework.clone()),
                    Bind::OptText(g.model.architecture.clone()),
                    Bind::OptText(g.model.license()),
                    Bind::OptText(g.model.provenance.as_ref().map(Value::to_string)),
                    Bind::Text(g.verdict.clone()),
                    Bind::Int(scan_id),
                    Bind::Int(scan_id),
                ]
            })
            .collect();
        let returned: Vec<(i64, String)> = fetch_rows(
            conn,
            backend,
            "INSERT INTO models (identity, name, layout, framework, architecture, license, provenance, verdict, first_scan, last_scan)",
            "ON CONFLICT (identity) DO UPDATE SET name = excluded.name, layout = excluded.layout, \
             framework = excluded.framework, architecture = excluded.architecture, license = excluded.license, \
             provenance = excluded.provenance, verdict = excluded.verdict, last_scan = excluded.last_scan \
             RETURNING id, identity",
            &values,
        )
        .await?;
        model_ids.extend(returned.into_iter().map(|(id, identity)| (identity, id)));
    }
    let model_of = |g: &Grouped<'_>| -> Result<i64> {
        model_ids
            .get(&g.identity)
            .copied()
            .ok_or_else(|| StoreError::Invalid(format!("model {} not recorded", g.identity)))
    };
    // Their files.
    let mut pairs: Vec<(i64, i64)> = Vec::new();
    for g in &grouped {
        let model_id = model_of(g)?;
        pairs.extend(g.files.iter().map(|f| (model_id, *f)));
    }
    pairs.sort_unstable();
    pairs.dedup();
    let values: Vec<Vec<Bind>> = pairs
        .into_iter()
        .map(|(model_id, file_id)| vec![Bind::Int(model_id), Bind::Int(file_id)])
        .collect();
    execute_rows(
        conn,
        backend,
        "INSERT INTO model_files (model_id, file_id)",
        "ON CONFLICT DO NOTHING",
        &values,
    )
    .await?;
    // Where they are.
    let mut model_location_ids: HashMap<String, i64> = HashMap::new();
    {
        let mut uris: Vec<&str> = grouped.iter().map(|g| g.uri.as_str()).collect();
        uris.sort_unstable();
        uris.dedup();
        let values: Vec<Vec<Bind>> = uris
            .iter()
            .map(|uri| {
                vec![
                    Bind::Text((*uri).to_owned()),
                    Bind::Text("host".to_owned()),
                    Bind::OptText(Some(meta.host.clone())),
                    Bind::Int(scan_id),
                    Bind::Int(scan_id),
                ]
            })
            .collect();
        let returned: Vec<(i64, String)> = fetch_rows(
            conn,
            backend,
            "INSERT INTO locations (uri, kind, host, first_scan, last_scan)",
            "ON CONFLICT (uri) DO UPDATE SET last_scan = excluded.last_scan RETURNING id, uri",
            &values,
        )
        .await?;
        model_location_ids.extend(returned.into_iter().map(|(id, uri)| (uri, id)));
    }
    let mut placed: Vec<(i64, i64)> = Vec::new();
    for g in &grouped {
        let location = model_location_ids
            .get(&g.uri)
            .copied()
            .ok_or_else(|| StoreError::Invalid(format!("location {} not recorded", g.uri)))?;
        placed.push((model_of(g)?, location));
    }
    placed.sort_unstable();
    placed.dedup();
    let values: Vec<Vec<Bind>> = placed
        .iter()
        .map(|(model_id, location_id)| {
            vec![
                Bind::Int(*model_id),
                Bind::Int(*location_id),
                Bind::Int(scan_id),
                Bind::Int(scan_id),
                Bind::Int(1),
            ]
        })
        .collect();
    execute_rows(
        conn,
        backend,
        "INSERT INTO model_locations (model_id, location_id, first_scan, last_scan, current)",
        "ON CONFLICT (model_id, location_id) DO UPDATE SET last_scan = excluded.last_scan, current = 1",
        &values,
    )
    .await?;
    // Whatever model these locations held before, they hold these now.
    let mut places: Vec<i64> = placed.iter().map(|(_, l)| *l).collect();
    places.sort_unstable();
    places.dedup();
    execute_for_ids(
        conn,
        backend,
        "UPDATE model_locations SET current = 0 WHERE last_scan <> $1 AND location_id IN",
        Some(scan_id),
        &places,
    )
    .await?;
    summary.models = grouped.len();
    summary.events = crate::query::events(conn, crate::query::Since::Scan(scan_id)).await?;
    Ok(summary)
}

fn short(digest: &str) -> String {
    match digest.strip_prefix("sha256:") {
        Some(hex) => format!("sha256:{}", &hex[..hex.len().min(12)]),
        None => "unhashed".to_owned(),
    }
}

#[allow(clippy::too_many_arguments)]
async fn upsert_finding(
    conn: &mut AnyConnection,
    file_id: i64,
    rule: &str,
    severity: &str,
    message: &str,
    location: Option<&str>,
    ruleset: &str,
    scan_id: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO findings (file_id, fingerprint, rule_id, severity, message, location_in_file, ruleset_version, first_scan, last_scan) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) \
         ON CONFLICT (file_id, fingerprint) DO UPDATE SET severity = excluded.severity, \
         ruleset_version = excluded.ruleset_version, last_scan = excluded.last_scan",
    )
    .bind(file_id)
    .bind(fingerprint(rule, location, message))
    .bind(rule)
    .bind(severity)
    .bind(message)
    .bind(location.map(str::to_owned))
    .bind(ruleset)
    .bind(scan_id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

#[allow(clippy::too_many_arguments)]
async fn event(
    conn: &mut AnyConnection,
    scan_id: i64,
    at: i64,
    kind: &str,
    severity: &str,
    location_id: i64,
    old_file: Option<i64>,
    new_file: Option<i64>,
    old_verdict: Option<&str>,
    new_verdict: Option<&str>,
    message: &str,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO events (scan_id, at, kind, severity, location_id, old_file_id, new_file_id, old_verdict, new_verdict, message) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(scan_id)
    .bind(at)
    .bind(kind)
    .bind(severity)
    .bind(location_id)
    .bind(old_file)
    .bind(new_file)
    .bind(old_verdict.map(str::to_owned))
    .bind(new_verdict.map(str::to_owned))
    .bind(message)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_separate_their_parts() {
        assert_ne!(
            fingerprint("A", Some("bc"), "d"),
            fingerprint("A", Some("b"), "cd")
        );
        assert_eq!(fingerprint("A", None, "x"), fingerprint("A", Some(""), "x"));
    }

    #[test]
    fn host_uris_are_absolute_when_the_folder_is_known() {
        let mut meta = ScanMeta {
            started_at: 0,
            host: "box".into(),
            collector: "scan".into(),
            arguments: vec![],
            base_dir: Some("/srv/app/".into()),
        };
        assert_eq!(
            host_uri("box", "./models/a.pt", &meta),
            "file://box/srv/app/models/a.pt"
        );
        assert_eq!(host_uri("box", "/m/a.pt", &meta), "file://box/m/a.pt");
        meta.base_dir = None;
        assert_eq!(host_uri("box", "m/a.pt", &meta), "file://box/./m/a.pt");
    }
}
