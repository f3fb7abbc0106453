//! What the server's pages read: models a page at a time (worst verdict first, filtered in SQL,
//! with a cursor, so a page costs the same with ten or a hundred thousand models), and one
//! model in full — its files and their findings, where it is and was, and its history.

use crate::query::{EventRow, FINDING_COLUMNS, FindingRow, FindingTuple, ModelRow, finding_row};
use crate::{Result, Store};
use serde::Serialize;
use serde_json::Value;

/// Which models a page lists.
#[derive(Debug, Clone, Default)]
pub struct ModelFilter {
    /// Only this verdict (`critical` … `none`, `incomplete`).
    pub verdict: Option<String>,
    /// Only names (or identities) containing this, case-insensitively.
    pub search: Option<String>,
    /// Also models no location holds any more.
    pub include_gone: bool,
}

/// Which findings a page lists.
#[derive(Debug, Clone, Default)]
pub struct FindingFilter {
    /// Only this rule id (case-insensitive).
    pub rule: Option<String>,
    /// Also findings marked in triage (and not expired).
    pub include_triaged: bool,
}

/// Severities in the order pages list them (worst first); findings with any other severity
/// come last.
const SEVERITY_ORDER: [&str; 6] = [
    "critical",
    "high",
    "medium",
    crate::INCOMPLETE,
    "low",
    "info",
];

/// One page of a list and the cursor of the next (absent on the last page).
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Page<T> {
    /// The items.
    pub items: Vec<T>,
    /// Pass it back as `cursor` for the next page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

/// One model in full.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ModelDetail {
    /// What the list shows.
    pub model: ModelRow,
    /// Framework, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub framework: Option<String>,
    /// Architecture, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub architecture: Option<String>,
    /// Provenance as collected (hub repo, revision, base model, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub provenance: Option<Value>,
    /// Its files, worst first.
    pub files: Vec<ModelFile>,
    /// Everywhere it was seen.
    pub places: Vec<Place>,
    /// What changed where it is (replacements, disappearances), oldest first.
    pub history: Vec<EventRow>,
}

/// One file of a model.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ModelFile {
    /// Content id.
    pub id: i64,
    /// SHA-256, when hashed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// Size in bytes.
    pub size: i64,
    /// Format.
    pub format: String,
    /// `ok`, `invalid`, `error`, …
    pub status: String,
    /// Its verdict.
    pub verdict: String,
    /// Why its analysis did not finish.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub incomplete: Option<String>,
    /// Its findings, most severe first (triaged ones included, marked).
    pub findings: Vec<FindingRow>,
}

/// A place a model was seen.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Place {
    /// The location.
    pub uri: String,
    /// Whether it holds the model now.
    pub current: bool,
    /// First scan that saw it there.
    pub first_scan: i64,
    /// Last scan that saw it there.
    pub last_scan: i64,
}

/// `verdict`'s rank in SQL (the same order as [`crate::severity_rank`]).
fn rank_sql(column: &str) -> String {
    let mut sql = format!("(CASE {column}");
    for word in SEVERITY_ORDER {
        sql.push_str(&format!(
            " WHEN '{word}' THEN {}",
            crate::severity_rank(word)
        ));
    }
    sql.push_str(" ELSE 0 END)");
    sql
}

/// A `LIKE` pattern matching `text` anywhere, with `\` escaping the wildcards.
fn contains_pattern(text: &str) -> String {
    let mut out = String::from("%");
    for c in text.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

/// A cursor: the rank and id of the last item of the page before.
fn parse_cursor(cursor: Option<&str>) -> Option<(i64, i64)> {
    let (rank, id) = cursor?.split_once('.')?;
    Some((rank.parse().ok()?, id.parse().ok()?))
}

impl Store {
    /// One page of models (at most `limit`, 1–500), worst verdict first, then oldest first.
    /// `cursor` is the `next` of the page before; a cursor that does not parse starts over.
    pub async fn models_page(
        &self,
        filter: &ModelFilter,
        cursor: Option<&str>,
        limit: i64,
    ) -> Result<Page<ModelRow>> {
        let limit = limit.clamp(1, 500);
        let rank = rank_sql("m.verdict");
        let (after_rank, after_id) = parse_cursor(cursor).unwrap_or((i64::MAX, 0));
        let sql = format!(
            "SELECT m.id, m.identity, m.name, m.layout, m.verdict, m.license, \
             (SELECT COUNT(*) FROM model_files mf WHERE mf.model_id = m.id), m.first_scan, m.last_scan, \
             {rank}, \
             (SELECT COUNT(*) FROM model_locations ml WHERE ml.model_id = m.id AND ml.current = 1) \
             FROM models m \
             WHERE ({rank} < $1 OR ({rank} = $1 AND m.id > $2)) \
             AND ($3 = '' OR m.verdict = $3) \
             AND ($4 = '' OR LOWER(m.name) LIKE $4 ESCAPE '\\' OR m.identity LIKE $4 ESCAPE '\\') \
             AND ($5 = 1 OR EXISTS (SELECT 1 FROM model_locations ml WHERE ml.model_id = m.id AND ml.current = 1)) \
             ORDER BY {rank} DESC, m.id LIMIT $6"
        );
        type Row = (
            i64,
            String,
            String,
            String,
            String,
            Option<String>,
            i64,
            i64,
            i64,
            i64,
            i64,
        );
        let rows: Vec<Row> = sqlx::query_as(&sql)
            .bind(after_rank)
            .bind(after_id)
            .bind(filter.verdict.clone().unwrap_or_default())
            .bind(
                filter
                    .search
                    .as_deref()
                    .filter(|s| !s.is_empty())
                    .map(contains_pattern)
                    .unwrap_or_default(),
            )
            .bind(i64::from(filter.include_gone))
            .bind(limit + 1)
            .fetch_all(&self.pool)
            .await?;
        let more = rows.len() > usize::try_from(limit).unwrap_or(usize::MAX);
        let rows: Vec<Row> = rows
            .into_iter()
            .take(usize::try_from(limit).unwrap_or(usize::MAX))
            .collect();
        let ids: Vec<i64> = rows.iter().map(|r| r.0).collect();
        let places = self.places_of(&ids).await?;
        let next = more
            .then(|| rows.last().map(|r| format!("{}.{}", r.9, r.0)))
            .flatten();
        let items = rows
            .into_iter()
            .map(
                |(id, identity, name, layout, verdict, license, files, first, last, _, current)| {
                    let current = current > 0;
                    let locations = places
                        .iter()
                        .filter(|(model, place)| *model == id && (place.current || !current))
                        .map(|(_, place)| place.uri.clone())
                        .collect();
                    ModelRow {
                        id,
                        identity,
                        name,
                        layout,
                        verdict,
                        license,
                        files,
                        locations,
                        current,
                        first_scan: first,
                        last_scan: last,
                    }
                },
            )
            .collect();
        Ok(Page { items, next })
    }

    /// One page of findings about content some location holds now (at most `limit`, 1–500),
    /// most severe first, then oldest first; a triage mark that expired before `now` counts as
    /// no mark. `cursor` is the `next` of the page before; one that does not parse starts over.
    ///
    /// Read a severity at a time in id order (an index range each), so a page costs the same
    /// with a hundred or a million findings.
    pub async fn findings_page(
        &self,
        filter: &FindingFilter,
        cursor: Option<&str>,
        limit: i64,
        now: i64,
    ) -> Result<Page<FindingRow>> {
        let limit = usize::try_from(limit.clamp(1, 500)).unwrap_or(500);
        let (after_rank, after_id) = parse_cursor(cursor).unwrap_or((i64::MAX, 0));
        let rule = filter
            .rule
            .as_deref()
            .map(str::to_ascii_uppercase)
            .filter(|r| !r.is_empty());
        let mut rows: Vec<(i64, FindingTuple)> = Vec::new();
        let buckets = SEVERITY_ORDER.iter().map(|s| Some(*s)).chain([None]);
        for severity in buckets {
            let rank = i64::from(severity.map_or(0, crate::severity_rank));
            if rank > after_rank {
                continue;
            }
            let after = if rank == after_rank { after_id } else { 0 };
            let wanted = limit + 1 - rows.len();
            let mut sql = format!("{FINDING_COLUMNS} WHERE fi.id > $1");
            let mut next = 2;
            match severity {
                Some(_) => {
                    sql.push_str(&format!(" AND fi.severity = ${next}"));
                    next += 1;
                }
                None => sql.push_str(&format!(
                    " AND fi.severity NOT IN ({})",
                    SEVERITY_ORDER
                        .iter()
                        .map(|s| format!("'{s}'"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
            }
            if rule.is_some() {
                sql.push_str(&format!(" AND fi.rule_id = ${next}"));
                next += 1;
            }
            if !filter.include_triaged {
                sql.push_str(&format!(
                    " AND (fi.triage_state IS NULL OR (fi.triage_expires IS NOT NULL AND fi.triage_expires <= ${next}))"
                ));
                next += 1;
            }
            sql.push_str(&format!(
                " AND EXISTS (SELECT 1 FROM occurrences o WHERE o.file_id = fi.file_id AND o.current = 1) \
                 ORDER BY fi.id LIMIT ${next}"
            ));
            let mut query = sqlx::query_as::<_, FindingTuple>(&sql).bind(after);
            if let Some(severity) = severity {
                query = query.bind(severity);
            }
            if let Some(rule) = &rule {
                query = query.bind(rule.clone());
            }
            if !filter.include_triaged {
                query = query.bind(now);
            }
            let found = query
                .bind(i64::try_from(wanted).unwrap_or(i64::MAX))
                .fetch_all(&self.pool)
                .await?;
            rows.extend(found.into_iter().map(|row| (rank, row)));
            if rows.len() > limit {
                break;
            }
        }
        let more = rows.len() > limit;
        rows.truncate(limit);
        let next = more
            .then(|| rows.last().map(|(rank, row)| format!("{rank}.{}", row.0)))
            .flatten();
        let mut files: Vec<i64> = rows.iter().map(|(_, row)| row.11).collect();
        files.sort_unstable();
        files.dedup();
        let held = self.held_by_files(&files).await?;
        let items = rows
            .into_iter()
            .map(|(_, row)| finding_row(row, now, &held).1)
            .collect();
        Ok(Page { items, next })
    }

    /// Where each of `models` was seen, in one query.
    async fn places_of(&self, models: &[i64]) -> Result<Vec<(i64, Place)>> {
        if models.is_empty() {
            return Ok(Vec::new());
        }
        let list = (1..=models.len())
            .map(|i| format!("${i}"))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "SELECT ml.model_id, l.uri, ml.current, ml.first_scan, ml.last_scan FROM model_locations ml \
             JOIN locations l ON l.id = ml.location_id WHERE ml.model_id IN ({list}) \
             ORDER BY ml.model_id, ml.current DESC, ml.last_scan DESC, l.uri"
        );
        let mut query = sqlx::query_as::<_, (i64, String, i64, i64, i64)>(&sql);
        for id in models {
            query = query.bind(*id);
        }
        Ok(query
            .fetch_all(&self.pool)
            .await?
            .into_iter()
            .map(|(model, uri, current, first_scan, last_scan)| {
                (
                    model,
                    Place {
                        uri,
                        current: current == 1,
                        first_scan,
                        last_scan,
                    },
                )
            })
            .collect())
    }

    /// One model in full, or `None` when there is no model `id`.
    pub async fn model(&self, id: i64) -> Result<Option<ModelDetail>> {
        type Head = (
            String,
            String,
            String,
            String,
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
            i64,
            i64,
        );
        let head: Option<Head> = sqlx::query_as(
            "SELECT identity, name, layout, verdict, license, framework, architecture, provenance, \
             first_scan, last_scan FROM models WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        let Some((
            identity,
            name,
            layout,
            verdict,
            license,
            framework,
            architecture,
            provenance,
            first,
            last,
        )) = head
        else {
            return Ok(None);
        };
        let places: Vec<Place> = self
            .places_of(&[id])
            .await?
            .into_iter()
            .map(|(_, p)| p)
            .collect();
        let current = places.iter().any(|p| p.current);
        type FileRow = (
            i64,
            Option<String>,
            i64,
            String,
            String,
            String,
            Option<String>,
        );
        let file_rows: Vec<FileRow> =
            sqlx::query_as(
                "SELECT f.id, f.sha256, f.size, f.format, f.status, f.verdict, f.incomplete \
                 FROM model_files mf JOIN files f ON f.id = mf.file_id WHERE mf.model_id = $1 ORDER BY f.id",
            )
            .bind(id)
            .fetch_all(&self.pool)
            .await?;
        let findings = self.findings_of_model(id).await?;
        let mut files: Vec<ModelFile> = file_rows
            .into_iter()
            .map(
                |(fid, sha256, size, format, status, verdict, incomplete)| ModelFile {
                    findings: findings
                        .iter()
                        .filter(|(file, _)| *file == fid)
                        .map(|(_, f)| f.clone())
                        .collect(),
                    id: fid,
                    sha256,
                    size,
                    format,
                    status,
                    verdict,
                    incomplete,
                },
            )
            .collect();
        files.sort_by(|a, b| {
            crate::severity_rank(&b.verdict)
                .cmp(&crate::severity_rank(&a.verdict))
                .then(a.id.cmp(&b.id))
        });
        let mut conn = self.pool.acquire().await?;
        let history = crate::query::events_where(
            &mut conn,
            "e.location_id IN (SELECT ml.location_id FROM model_locations ml WHERE ml.model_id = $1) \
             OR e.new_file_id IN (SELECT mf.file_id FROM model_files mf WHERE mf.model_id = $1) \
             OR e.old_file_id IN (SELECT mf.file_id FROM model_files mf WHERE mf.model_id = $1)",
            id,
        )
        .await?;
        drop(conn);
        let locations = places
            .iter()
            .filter(|p| p.current || !current)
            .map(|p| p.uri.clone())
            .collect();
        Ok(Some(ModelDetail {
            model: ModelRow {
                id,
                identity,
                name,
                layout,
                verdict,
                license,
                files: i64::try_from(files.len()).unwrap_or(i64::MAX),
                locations,
                current,
                first_scan: first,
                last_scan: last,
            },
            framework,
            architecture,
            provenance: provenance.and_then(|p| serde_json::from_str(&p).ok()),
            files,
            places,
            history,
        }))
    }
}

/// How many of something there are, by a key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Count {
    /// The key (a verdict, a kind of location, a rule).
    pub key: String,
    /// How many.
    pub count: i64,
}

/// What the dashboard's first page shows: the inventory now, in numbers, and what the last
/// scan changed.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Overview {
    /// Models some location holds now.
    pub models: i64,
    /// Those models by verdict, worst first.
    pub by_verdict: Vec<Count>,
    /// Those models by the kind of place that holds them (`host`, `s3`, `huggingface`, …); a
    /// model in two kinds of place counts in both.
    pub by_source: Vec<Count>,
    /// Those models at a location with an exposure (others can write it, the public can read
    /// it), by exposure rule.
    pub by_exposure: Vec<Count>,
    /// Open (untriaged) findings on content some location holds, by severity, worst first.
    pub open_findings: Vec<Count>,
    /// The latest scan.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_scan: Option<crate::query::ScanRow>,
    /// What the latest scan changed, oldest first.
    pub changes: Vec<EventRow>,
}

impl Store {
    /// The dashboard's overview, in a handful of grouped queries.
    pub async fn overview(&self, now: i64) -> Result<Overview> {
        let rank = |word: &str| crate::severity_rank(word);
        let counts = |rows: Vec<(String, i64)>| -> Vec<Count> {
            rows.into_iter()
                .map(|(key, count)| Count { key, count })
                .collect()
        };
        const CURRENT: &str =
            "EXISTS (SELECT 1 FROM model_locations ml WHERE ml.model_id = m.id AND ml.current = 1)";
        let mut by_verdict = counts(
            sqlx::query_as(&format!(
                "SELECT m.verdict, COUNT(*) FROM models m WHERE {CURRENT} GROUP BY m.verdict"
            ))
            .fetch_all(&self.pool)
            .await?,
        );
        by_verdict.sort_by(|a, b| rank(&b.key).cmp(&rank(&a.key)).then(a.key.cmp(&b.key)));
        let models = by_verdict.iter().map(|c| c.count).sum();
        let mut by_source = counts(
            sqlx::query_as(
                "SELECT l.kind, COUNT(DISTINCT ml.model_id) FROM model_locations ml \
                 JOIN locations l ON l.id = ml.location_id WHERE ml.current = 1 GROUP BY l.kind",
            )
            .fetch_all(&self.pool)
            .await?,
        );
        by_source.sort_by(|a, b| b.count.cmp(&a.count).then(a.key.cmp(&b.key)));
        let mut by_exposure = counts(
            sqlx::query_as(
                "SELECT e.rule_id, COUNT(DISTINCT ml.model_id) FROM exposures e \
                 JOIN model_locations ml ON ml.location_id = e.location_id AND ml.current = 1 \
                 GROUP BY e.rule_id",
            )
            .fetch_all(&self.pool)
            .await?,
        );
        by_exposure.sort_by(|a, b| b.count.cmp(&a.count).then(a.key.cmp(&b.key)));
        let mut open_findings = counts(
            sqlx::query_as(
                "SELECT fi.severity, COUNT(*) FROM findings fi \
                 WHERE (fi.triage_state IS NULL OR (fi.triage_expires IS NOT NULL AND fi.triage_expires <= $1)) \
                 AND EXISTS (SELECT 1 FROM occurrences o WHERE o.file_id = fi.file_id AND o.current = 1) \
                 GROUP BY fi.severity",
            )
            .bind(now)
            .fetch_all(&self.pool)
            .await?,
        );
        open_findings.sort_by(|a, b| rank(&b.key).cmp(&rank(&a.key)).then(a.key.cmp(&b.key)));
        let last_scan = self.scans(1).await?.into_iter().next();
        let changes = match &last_scan {
            Some(scan) => {
                let mut conn = self.pool.acquire().await?;
                crate::query::events_where(&mut conn, "e.scan_id = $1", scan.id).await?
            }
            None => Vec::new(),
        };
        Ok(Overview {
            models,
            by_verdict,
            by_source,
            by_exposure,
            open_findings,
            last_scan,
            changes,
        })
    }
}
