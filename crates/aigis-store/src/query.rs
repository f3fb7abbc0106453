//! Reading the inventory: what changed, the scans, the models, the findings — and triage.

use crate::{Result, Store, StoreError};
use serde::Serialize;
use sqlx::AnyConnection;
use std::collections::HashMap;

/// Seconds since the Unix epoch, now.
pub(crate) fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// The columns a [`FindingRow`] is read from (`fi` the finding, `f` its file), up to `WHERE`.
pub(crate) const FINDING_COLUMNS: &str = "SELECT fi.id, fi.rule_id, fi.severity, fi.message, fi.location_in_file, f.sha256, \
     fi.triage_state, fi.triage_reason, fi.triage_expires, fi.first_scan, fi.last_scan, f.id \
     FROM findings fi JOIN files f ON f.id = fi.file_id";

pub(crate) type FindingTuple = (
    i64,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<i64>,
    i64,
    i64,
    i64,
);

/// (file id, location) rows as each file's locations.
fn held_by(rows: Vec<(i64, String)>) -> HashMap<i64, Vec<String>> {
    let mut held = HashMap::<i64, Vec<String>>::new();
    for (file, uri) in rows {
        held.entry(file).or_default().push(uri);
    }
    held
}

/// A finding as read by [`FINDING_COLUMNS`], with its file's id; a triage mark that expired
/// before `now` is not shown.
pub(crate) fn finding_row(
    row: FindingTuple,
    now: i64,
    held: &HashMap<i64, Vec<String>>,
) -> (i64, FindingRow) {
    let (
        id,
        rule_id,
        severity,
        message,
        location_in_file,
        sha256,
        state,
        reason,
        expires,
        first_scan,
        last_scan,
        file_id,
    ) = row;
    let active = state.filter(|_| expires.is_none_or(|at| at > now));
    (
        file_id,
        FindingRow {
            id,
            rule_id,
            severity,
            message,
            location_in_file,
            sha256,
            locations: held.get(&file_id).cloned().unwrap_or_default(),
            triage_reason: reason.filter(|_| active.is_some()),
            triage_expires: expires.filter(|_| active.is_some()),
            triage: active,
            first_scan,
            last_scan,
        },
    )
}

/// From when on changes are wanted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Since {
    /// Events of this scan and later ones.
    Scan(i64),
    /// Events at or after this time (seconds since the epoch).
    Time(i64),
}

/// One change event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EventRow {
    /// Event id.
    pub id: i64,
    /// The scan that saw it.
    pub scan_id: i64,
    /// When (seconds since the epoch).
    pub at: i64,
    /// `NEW_UNSAFE_MODEL`, `MODEL_REPLACED`, `MODEL_DISAPPEARED`.
    pub kind: String,
    /// How bad.
    pub severity: String,
    /// The location (URI).
    pub location: String,
    /// The content before.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old_sha256: Option<String>,
    /// The content now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new_sha256: Option<String>,
    /// Its verdict before.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old_verdict: Option<String>,
    /// Its verdict now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new_verdict: Option<String>,
    /// In words.
    pub message: String,
}

type EventTuple = (
    i64,
    i64,
    i64,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    String,
);

pub(crate) async fn events(conn: &mut AnyConnection, since: Since) -> Result<Vec<EventRow>> {
    let (clause, value) = match since {
        Since::Scan(id) => ("e.scan_id >= $1", id),
        Since::Time(at) => ("e.at >= $1", at),
    };
    events_where(conn, clause, value).await
}

/// Events matching `clause` (SQL over `e`, the events table, with `$1` bound to `value`),
/// oldest first.
pub(crate) async fn events_where(
    conn: &mut AnyConnection,
    clause: &str,
    value: i64,
) -> Result<Vec<EventRow>> {
    let sql = format!(
        "SELECT e.id, e.scan_id, e.at, e.kind, e.severity, l.uri, fo.sha256, fn.sha256, e.old_verdict, e.new_verdict, e.message \
         FROM events e JOIN locations l ON l.id = e.location_id \
         LEFT JOIN files fo ON fo.id = e.old_file_id LEFT JOIN files fn ON fn.id = e.new_file_id \
         WHERE {clause} ORDER BY e.id"
    );
    let rows = sqlx::query_as::<_, EventTuple>(&sql)
        .bind(value)
        .fetch_all(&mut *conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(
            |(
                id,
                scan_id,
                at,
                kind,
                severity,
                location,
                old_sha256,
                new_sha256,
                old_verdict,
                new_verdict,
                message,
            )| EventRow {
                id,
                scan_id,
                at,
                kind,
                severity,
                location,
                old_sha256,
                new_sha256,
                old_verdict,
                new_verdict,
                message,
            },
        )
        .collect())
}

/// One recorded scan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ScanRow {
    /// Scan id.
    pub id: i64,
    /// When it started (seconds since the epoch).
    pub started_at: i64,
    /// Where it ran.
    pub host: String,
    /// `scan`, `discover`, `bom`, `ingest`.
    pub collector: String,
    /// The aigis version.
    pub tool_version: String,
    /// Results recorded.
    pub files: i64,
    /// Results that were not analysed to their end.
    pub incomplete: i64,
    /// Events it caused.
    pub events: i64,
}

/// One model, as last seen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ModelRow {
    /// Model id.
    pub id: i64,
    /// Digest over its files' digests.
    pub identity: String,
    /// Name.
    pub name: String,
    /// How its files were grouped.
    pub layout: String,
    /// Its worst content verdict.
    pub verdict: String,
    /// License, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub license: Option<String>,
    /// Files.
    pub files: i64,
    /// Where it is now (where it was, when no location holds it any more).
    pub locations: Vec<String>,
    /// Whether some location holds it now.
    pub current: bool,
    /// First and last scan that saw it.
    pub first_scan: i64,
    /// Last scan that saw it.
    pub last_scan: i64,
}

/// One finding about content, with its triage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FindingRow {
    /// Finding id (what `triage` takes).
    pub id: i64,
    /// Rule id.
    pub rule_id: String,
    /// Severity.
    pub severity: String,
    /// What it says.
    pub message: String,
    /// Where in the file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location_in_file: Option<String>,
    /// The content it is about.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// Where that content currently is.
    pub locations: Vec<String>,
    /// Triage state, when marked and not expired.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub triage: Option<String>,
    /// Why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub triage_reason: Option<String>,
    /// Until when (seconds since the epoch).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub triage_expires: Option<i64>,
    /// First scan that saw it.
    pub first_scan: i64,
    /// Last scan that saw it.
    pub last_scan: i64,
}

/// A triage mark.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TriageState {
    /// Being looked at.
    InTriage,
    /// Not a real problem.
    FalsePositive,
    /// Real, but does not affect us.
    NotAffected,
    /// Risk accepted (with a reason and, usually, an expiry).
    Accepted,
}

impl TriageState {
    /// The stored word.
    pub fn as_str(self) -> &'static str {
        match self {
            TriageState::InTriage => "in_triage",
            TriageState::FalsePositive => "false_positive",
            TriageState::NotAffected => "not_affected",
            TriageState::Accepted => "accepted",
        }
    }
}

impl std::str::FromStr for TriageState {
    type Err = String;
    fn from_str(text: &str) -> std::result::Result<TriageState, String> {
        Ok(match text.replace('-', "_").as_str() {
            "in_triage" => TriageState::InTriage,
            "false_positive" => TriageState::FalsePositive,
            "not_affected" => TriageState::NotAffected,
            "accepted" => TriageState::Accepted,
            _ => {
                return Err(format!(
                    "unknown triage state `{text}` (in_triage, false_positive, not_affected, accepted)"
                ));
            }
        })
    }
}

impl Store {
    /// Change events since a scan or a time, oldest first.
    pub async fn changes(&self, since: Since) -> Result<Vec<EventRow>> {
        let mut conn = self.pool.acquire().await?;
        events(&mut conn, since).await
    }

    /// Whether scan `id` was recorded.
    pub async fn scan_exists(&self, id: i64) -> Result<bool> {
        let found: Option<i64> = sqlx::query_scalar("SELECT id FROM scans WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(found.is_some())
    }

    /// The recorded scans, newest first (at most `limit`).
    pub async fn scans(&self, limit: i64) -> Result<Vec<ScanRow>> {
        let rows = sqlx::query_as::<_, (i64, i64, String, String, String, i64, i64, i64)>(
            "SELECT s.id, s.started_at, s.host, s.collector, s.tool_version, s.files, s.incomplete, \
             (SELECT COUNT(*) FROM events e WHERE e.scan_id = s.id) \
             FROM scans s ORDER BY s.id DESC LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(
                |(id, started_at, host, collector, tool_version, files, incomplete, events)| {
                    ScanRow {
                        id,
                        started_at,
                        host,
                        collector,
                        tool_version,
                        files,
                        incomplete,
                        events,
                    }
                },
            )
            .collect())
    }

    /// The models some location holds now, worst verdict first; with `include_gone`, also
    /// those no location holds any more (replaced or removed), with where they were.
    pub async fn models(&self, include_gone: bool) -> Result<Vec<ModelRow>> {
        let rows = sqlx::query_as::<_, (i64, String, String, String, String, Option<String>, i64, i64, i64)>(
            "SELECT m.id, m.identity, m.name, m.layout, m.verdict, m.license, \
             (SELECT COUNT(*) FROM model_files mf WHERE mf.model_id = m.id), m.first_scan, m.last_scan \
             FROM models m ORDER BY m.id",
        )
        .fetch_all(&self.pool)
        .await?;
        // Every model's places in one query, not one query per model.
        let mut places_of: HashMap<i64, Vec<(String, i64)>> = HashMap::new();
        for (model, uri, current) in sqlx::query_as::<_, (i64, String, i64)>(
            "SELECT ml.model_id, l.uri, ml.current FROM model_locations ml \
             JOIN locations l ON l.id = ml.location_id \
             ORDER BY ml.model_id, ml.current DESC, ml.last_scan DESC, l.uri",
        )
        .fetch_all(&self.pool)
        .await?
        {
            places_of.entry(model).or_default().push((uri, current));
        }
        let mut out = Vec::with_capacity(rows.len());
        for (id, identity, name, layout, verdict, license, files, first_scan, last_scan) in rows {
            let places = places_of.remove(&id).unwrap_or_default();
            let current = places.iter().any(|(_, c)| *c == 1);
            if !current && !include_gone {
                continue;
            }
            let locations = places
                .into_iter()
                .filter(|(_, c)| *c == 1 || !current)
                .map(|(uri, _)| uri)
                .collect();
            out.push(ModelRow {
                id,
                identity,
                name,
                layout,
                verdict,
                license,
                files,
                locations,
                current,
                first_scan,
                last_scan,
            });
        }
        out.sort_by(|a, b| {
            crate::severity_rank(&b.verdict)
                .cmp(&crate::severity_rank(&a.verdict))
                .then(a.id.cmp(&b.id))
        });
        Ok(out)
    }

    /// Findings about content that some location holds now, most severe first; `rule`
    /// narrows to one rule, `include_triaged` keeps the ones marked (and not expired) too.
    /// All of them: [`Store::findings_page`] a page at a time.
    pub async fn findings(
        &self,
        rule: Option<&str>,
        include_triaged: bool,
    ) -> Result<Vec<FindingRow>> {
        let filter = crate::FindingFilter {
            rule: rule.map(str::to_owned),
            include_triaged,
        };
        let now = now();
        let mut out = Vec::new();
        let mut cursor = None;
        loop {
            let page = self
                .findings_page(&filter, cursor.as_deref(), 500, now)
                .await?;
            out.extend(page.items);
            match page.next {
                Some(next) => cursor = Some(next),
                None => return Ok(out),
            }
        }
    }

    /// Where each of `files` is now, in one query per 500 files.
    pub(crate) async fn held_by_files(&self, files: &[i64]) -> Result<HashMap<i64, Vec<String>>> {
        let mut rows = Vec::new();
        for chunk in files.chunks(500) {
            let list = (1..=chunk.len())
                .map(|i| format!("${i}"))
                .collect::<Vec<_>>()
                .join(", ");
            let sql = format!(
                "SELECT o.file_id, l.uri FROM occurrences o JOIN locations l ON l.id = o.location_id \
                 WHERE o.current = 1 AND o.file_id IN ({list}) ORDER BY l.uri"
            );
            let mut query = sqlx::query_as::<_, (i64, String)>(&sql);
            for id in chunk {
                query = query.bind(*id);
            }
            rows.extend(query.fetch_all(&self.pool).await?);
        }
        rows.sort_by(|a, b| a.1.cmp(&b.1));
        Ok(held_by(rows))
    }

    /// The findings on a model's files, as (file id, finding), triaged ones included and marked.
    pub(crate) async fn findings_of_model(&self, model: i64) -> Result<Vec<(i64, FindingRow)>> {
        let rows = sqlx::query_as::<_, FindingTuple>(&format!(
            "{FINDING_COLUMNS} \
             WHERE f.id IN (SELECT mf.file_id FROM model_files mf WHERE mf.model_id = $1) ORDER BY fi.id"
        ))
        .bind(model)
        .fetch_all(&self.pool)
        .await?;
        let held = held_by(
            sqlx::query_as::<_, (i64, String)>(
                "SELECT o.file_id, l.uri FROM occurrences o JOIN locations l ON l.id = o.location_id \
                 WHERE o.current = 1 AND o.file_id IN (SELECT mf.file_id FROM model_files mf WHERE mf.model_id = $1) \
                 ORDER BY l.uri",
            )
            .bind(model)
            .fetch_all(&self.pool)
            .await?,
        );
        let now = now();
        let mut out: Vec<(i64, FindingRow)> = rows
            .into_iter()
            .map(|row| finding_row(row, now, &held))
            .collect();
        out.sort_by(|(_, a), (_, b)| {
            crate::severity_rank(&b.severity)
                .cmp(&crate::severity_rank(&a.severity))
                .then(a.id.cmp(&b.id))
        });
        Ok(out)
    }

    /// Marks a finding. The mark belongs to the finding on that content, so it holds for every
    /// later scan that sees the same content, until `expires` (seconds since the epoch).
    pub async fn triage(
        &self,
        finding: i64,
        state: TriageState,
        reason: &str,
        expires: Option<i64>,
        by: &str,
    ) -> Result<()> {
        if state == TriageState::Accepted && reason.trim().is_empty() {
            return Err(StoreError::Invalid(
                "accepting a risk needs a reason".into(),
            ));
        }
        let done = sqlx::query(
            "UPDATE findings SET triage_state = $1, triage_reason = $2, triage_expires = $3, triage_at = $4, triage_by = $5 WHERE id = $6",
        )
        .bind(state.as_str())
        .bind(reason)
        .bind(expires)
        .bind(now())
        .bind(by)
        .bind(finding)
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("no finding {finding}")));
        }
        Ok(())
    }
}

/// The UTC calendar date of a time (seconds since the epoch): (year, month, day).
fn civil(at: i64) -> (i64, i64, i64) {
    // Days to a proleptic Gregorian date (the era-based conversion of H. Hinnant's calendar
    // algorithms).
    let z = at.div_euclid(86_400) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// `YYYY-MM-DD` (UTC) of a time in seconds since the epoch.
pub(crate) fn utc_date(at: i64) -> String {
    let (y, m, d) = civil(at);
    format!("{y:04}-{m:02}-{d:02}")
}

/// RFC 3339 (UTC, seconds) of a time in seconds since the epoch.
pub(crate) fn utc_timestamp(at: i64) -> String {
    let secs = at.rem_euclid(86_400);
    format!(
        "{}T{:02}:{:02}:{:02}Z",
        utc_date(at),
        secs / 3_600,
        secs / 60 % 60,
        secs % 60
    )
}

#[cfg(test)]
mod dates {
    #[test]
    fn utc_dates_match_the_calendar() {
        assert_eq!(super::utc_timestamp(0), "1970-01-01T00:00:00Z");
        assert_eq!(super::utc_timestamp(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(super::utc_timestamp(1_796_380_245), "2026-12-04T10:30:45Z");
        assert_eq!(super::utc_date(-86_400), "1969-12-31");
    }
}
