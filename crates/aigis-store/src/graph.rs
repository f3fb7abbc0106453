//! The security graph over the inventory as it is now, and the attack paths through it: from
//! an exposure that lets others replace what a location holds, through the content there, to
//! code that runs when it is loaded.
//!
//! Nodes: `host` / `bucket` / `repo` (where locations live), `location`, `file` (content),
//! `model`, `exposure`, `finding`. Edges carry their evidence (the rule, the scan that saw it).

use crate::{Result, Store, severity_rank};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// One node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Node {
    /// Unique id (`location:12`, `file:3`, `host:build-01`, …).
    pub id: String,
    /// `host`, `bucket`, `repo`, `location`, `file`, `model`, `exposure`, `finding`.
    pub kind: String,
    /// What to show.
    pub label: String,
    /// Severity, for exposures, findings and the verdicts of files and models.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub severity: Option<String>,
}

/// One edge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Edge {
    /// From node id.
    pub from: String,
    /// To node id.
    pub to: String,
    /// `contains`, `holds`, `part_of`, `located_at`, `exposes`, `has_finding`.
    pub kind: String,
    /// Why: the rule or the scan that said so.
    pub evidence: String,
}

/// The graph (schema: `{"nodes": [Node], "edges": [Edge]}`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Graph {
    /// Nodes, by id.
    pub nodes: Vec<Node>,
    /// Edges.
    pub edges: Vec<Edge>,
}

/// One attack path: exposure → location → content → what loading it does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AttackPath {
    /// Higher is worse.
    pub score: u32,
    /// The overall severity.
    pub severity: String,
    /// The exposure rule (`STORAGE-PUBLIC-WRITE`, `HOST-WRITABLE-PATH`).
    pub exposure: String,
    /// Its severity.
    pub exposure_severity: String,
    /// The location.
    pub location: String,
    /// The content's format.
    pub format: String,
    /// The content's SHA-256.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// Models the content belongs to.
    pub models: Vec<String>,
    /// The worst open finding on the content, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finding: Option<String>,
    /// Its severity (`none` without one).
    pub finding_severity: String,
    /// The path in words.
    pub steps: Vec<String>,
}

/// Exposures that let others put other content at a location.
const WRITE_EXPOSURES: &[&str] = &["STORAGE-PUBLIC-WRITE", "HOST-WRITABLE-PATH"];

/// Formats whose loaders run code named by the file: replacing one runs the replacer's code
/// even when today's content is clean.
const CODE_ON_LOAD: &[&str] = &[
    "pickle",
    "pytorch-zip",
    "pytorch-legacy",
    "pytorch-tar",
    "torchscript",
    "joblib",
    "numpy",
    "numpy-npz",
    "keras-h5",
    "keras-v3",
    "tf-savedmodel",
    "skops",
    "nemo",
    "mlflow",
    "transformers-config",
    "executable",
];

/// Where a location lives: its host, bucket or repository node.
fn container_of(uri: &str) -> Option<(String, String)> {
    let (scheme, rest) = uri.split_once("://")?;
    let first = rest.split('/').next().unwrap_or(rest);
    Some(match scheme {
        "file" => (format!("host:{first}"), "host".to_owned()),
        "hf" => {
            let repo: Vec<&str> = rest.splitn(3, '/').take(2).collect();
            (format!("repo:{}", repo.join("/")), "repo".to_owned())
        }
        "http" | "https" => (format!("site:{scheme}://{first}"), "site".to_owned()),
        _ => (format!("bucket:{scheme}://{first}"), "bucket".to_owned()),
    })
}

type PathRow = (
    i64,
    String,
    String,
    String,
    i64,
    String,
    Option<String>,
    String,
    Option<String>,
);

/// Nodes and edges as they are found; edges whose ends are not nodes are dropped at the end.
#[derive(Default)]
struct Builder {
    nodes: BTreeMap<String, Node>,
    edges: BTreeSet<(String, String, String, String)>,
}

impl Builder {
    fn node(&mut self, id: String, kind: &str, label: String, severity: Option<String>) -> String {
        self.nodes.entry(id.clone()).or_insert(Node {
            id: id.clone(),
            kind: kind.to_owned(),
            label,
            severity,
        });
        id
    }

    fn edge(&mut self, from: &str, to: &str, kind: &str, evidence: String) {
        self.edges
            .insert((from.to_owned(), to.to_owned(), kind.to_owned(), evidence));
    }

    /// A location, with the host, bucket or repository that contains it.
    fn location(&mut self, id: i64, uri: &str) -> String {
        let lid = self.node(format!("location:{id}"), "location", uri.to_owned(), None);
        if let Some((cid, kind)) = container_of(uri) {
            let label = cid
                .split_once(':')
                .map_or(cid.clone(), |(_, l)| l.to_owned());
            let cid = self.node(cid, &kind, label, None);
            self.edge(&cid, &lid, "contains", String::new());
        }
        lid
    }

    fn file(&mut self, id: i64, sha: Option<&str>, format: &str, verdict: &str) -> String {
        let label = match sha {
            Some(sha) => format!("{format} sha256:{}", &sha[..sha.len().min(12)]),
            None => format!("{format} (unhashed)"),
        };
        self.node(
            format!("file:{id}"),
            "file",
            label,
            Some(verdict.to_owned()),
        )
    }

    fn model(&mut self, id: i64, name: &str, verdict: &str) -> String {
        self.node(
            format!("model:{id}"),
            "model",
            name.to_owned(),
            Some(verdict.to_owned()),
        )
    }

    fn exposure(&mut self, id: i64, rule: &str, severity: &str) -> String {
        self.node(
            format!("exposure:{id}"),
            "exposure",
            rule.to_owned(),
            Some(severity.to_owned()),
        )
    }

    fn finding(&mut self, id: i64, rule: &str, severity: &str) -> String {
        self.node(
            format!("finding:{id}"),
            "finding",
            rule.to_owned(),
            Some(severity.to_owned()),
        )
    }

    /// The graph, keeping only the nodes `keep` accepts and the edges between them.
    fn finish(self, keep: impl Fn(&str) -> bool) -> Graph {
        let nodes = self.nodes;
        let edges = self
            .edges
            .into_iter()
            .filter(|(from, to, _, _)| {
                nodes.contains_key(from) && nodes.contains_key(to) && keep(from) && keep(to)
            })
            .map(|(from, to, kind, evidence)| Edge {
                from,
                to,
                kind,
                evidence,
            })
            .collect();
        Graph {
            nodes: nodes.into_values().filter(|n| keep(&n.id)).collect(),
            edges,
        }
    }
}

/// A location is in the graph while it holds content or a model.
const LOCATION_HELD: &str = "(EXISTS (SELECT 1 FROM occurrences o WHERE o.location_id = l.id AND o.current = 1) \
     OR EXISTS (SELECT 1 FROM model_locations ml WHERE ml.location_id = l.id AND ml.current = 1))";
/// Content is in the graph while some location holds it.
const FILE_HELD: &str =
    "EXISTS (SELECT 1 FROM occurrences o WHERE o.file_id = f.id AND o.current = 1)";
/// A model is in the graph while some location holds it.
const MODEL_HELD: &str =
    "EXISTS (SELECT 1 FROM model_locations ml WHERE ml.model_id = m.id AND ml.current = 1)";
/// Findings drawn: those that matter on load.
const DRAWN_FINDINGS: &str = "fi.severity IN ('critical', 'high', 'medium')";

/// `$1, $2, …` for `n` values.
fn placeholders(n: usize) -> String {
    (1..=n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

type HeldRow = (i64, String, i64, Option<String>, String, String, i64);
type ExposureRow = (i64, i64, String, String, String, i64);
type ModelAtRow = (i64, String, String, i64, String);
type PartRow = (i64, Option<String>, String, String, i64, String, String);
type FindingOfRow = (i64, i64, String, String, Option<String>, String, String);

impl Builder {
    fn held(&mut self, rows: Vec<HeldRow>) {
        for (location, uri, file, sha, format, verdict, scan) in rows {
            let lid = self.location(location, &uri);
            let fid = self.file(file, sha.as_deref(), &format, &verdict);
            self.edge(&lid, &fid, "holds", format!("scan {scan}"));
        }
    }

    fn exposures(&mut self, rows: Vec<ExposureRow>) {
        for (id, location, uri, rule, severity, scan) in rows {
            let eid = self.exposure(id, &rule, &severity);
            let lid = self.location(location, &uri);
            self.edge(&eid, &lid, "exposes", format!("{rule}, scan {scan}"));
        }
    }

    fn models_at(&mut self, rows: Vec<ModelAtRow>) {
        for (id, name, verdict, location, uri) in rows {
            let mid = self.model(id, &name, &verdict);
            let lid = self.location(location, &uri);
            self.edge(&mid, &lid, "located_at", String::new());
        }
    }

    fn parts(&mut self, rows: Vec<PartRow>) {
        for (file, sha, format, verdict, model, name, model_verdict) in rows {
            let fid = self.file(file, sha.as_deref(), &format, &verdict);
            let mid = self.model(model, &name, &model_verdict);
            self.edge(&fid, &mid, "part_of", String::new());
        }
    }

    fn findings(&mut self, rows: Vec<FindingOfRow>) {
        for (id, file, rule, severity, sha, format, verdict) in rows {
            let fid = self.file(file, sha.as_deref(), &format, &verdict);
            let nid = self.finding(id, &rule, &severity);
            self.edge(&fid, &nid, "has_finding", rule);
        }
    }
}

/// The SELECTs a graph is built from; `{where}` narrows each to some ids.
const HELD_SQL: &str = "SELECT l.id, l.uri, f.id, f.sha256, f.format, f.verdict, o.last_scan FROM occurrences o \
     JOIN locations l ON l.id = o.location_id JOIN files f ON f.id = o.file_id WHERE o.current = 1";
const EXPOSURES_SQL: &str = "SELECT e.id, e.location_id, l.uri, e.rule_id, e.severity, e.last_scan FROM exposures e \
     JOIN locations l ON l.id = e.location_id WHERE ";
const MODELS_AT_SQL: &str = "SELECT m.id, m.name, m.verdict, l.id, l.uri FROM models m \
     JOIN model_locations ml ON ml.model_id = m.id JOIN locations l ON l.id = ml.location_id WHERE ml.current = 1";
const PARTS_SQL: &str = "SELECT f.id, f.sha256, f.format, f.verdict, m.id, m.name, m.verdict FROM model_files mf \
     JOIN files f ON f.id = mf.file_id JOIN models m ON m.id = mf.model_id WHERE ";
const FINDINGS_SQL: &str = "SELECT fi.id, f.id, fi.rule_id, fi.severity, f.sha256, f.format, f.verdict FROM findings fi \
     JOIN files f ON f.id = fi.file_id WHERE ";

impl Store {
    /// The graph of what the inventory holds now.
    pub async fn graph(&self) -> Result<Graph> {
        let mut graph = Builder::default();
        graph.held(sqlx::query_as(HELD_SQL).fetch_all(&self.pool).await?);
        graph.exposures(
            sqlx::query_as(&format!("{EXPOSURES_SQL}{LOCATION_HELD}"))
                .fetch_all(&self.pool)
                .await?,
        );
        graph.models_at(sqlx::query_as(MODELS_AT_SQL).fetch_all(&self.pool).await?);
        graph.parts(
            sqlx::query_as(&format!("{PARTS_SQL}{FILE_HELD} AND {MODEL_HELD}"))
                .fetch_all(&self.pool)
                .await?,
        );
        graph.findings(
            sqlx::query_as(&format!("{FINDINGS_SQL}{DRAWN_FINDINGS} AND {FILE_HELD}"))
                .fetch_all(&self.pool)
                .await?,
        );
        Ok(graph.finish(|_| true))
    }

    /// The part of the graph within `depth` edges of `start` (either direction), the same as
    /// [`Graph::neighbourhood`] of [`Store::graph`], but read outwards from `start` in SQL, a
    /// ring at a time, so it costs what it shows, not the size of the inventory. Empty when
    /// `start` is not a node.
    pub async fn neighbourhood(&self, start: &str, depth: usize) -> Result<Graph> {
        let Some((kind, id)) = start.split_once(':') else {
            return Ok(Graph::default());
        };
        let Ok(id) = id.parse::<i64>() else {
            // Hosts, buckets and repositories are named, not numbered: from one of them the
            // whole place is the neighbourhood's first ring anyway.
            return Ok(self.graph().await?.neighbourhood(start, depth));
        };
        let mut graph = Builder::default();
        // The start itself, if it is a node.
        let found = match kind {
            "model" => self.ring_of_models(&mut graph, &[id]).await?,
            "location" => self.ring_of_locations(&mut graph, &[id]).await?,
            "file" => self.ring_of_files(&mut graph, &[id]).await?,
            "exposure" => self.ring_of_exposures(&mut graph, &[id]).await?,
            "finding" => self.ring_of_findings(&mut graph, &[id]).await?,
            _ => return Ok(Graph::default()),
        };
        if !found || !graph.nodes.contains_key(start) {
            return Ok(Graph::default());
        }
        let mut seen: BTreeSet<String> = BTreeSet::from([start.to_owned()]);
        let mut frontier: Vec<String> = vec![start.to_owned()];
        // Ring by ring; the last pass only finds the edges between nodes already reached.
        for ring in 0..=depth {
            if ring > 0 {
                let mut by_kind: BTreeMap<&str, Vec<i64>> = BTreeMap::new();
                for node in &frontier {
                    if let Some((kind, id)) = node.split_once(':')
                        && let Ok(id) = id.parse::<i64>()
                    {
                        by_kind.entry(kind).or_default().push(id);
                    }
                }
                for (kind, ids) in by_kind {
                    match kind {
                        "model" => self.ring_of_models(&mut graph, &ids).await?,
                        "location" => self.ring_of_locations(&mut graph, &ids).await?,
                        "file" => self.ring_of_files(&mut graph, &ids).await?,
                        "exposure" => self.ring_of_exposures(&mut graph, &ids).await?,
                        "finding" => self.ring_of_findings(&mut graph, &ids).await?,
                        _ => false,
                    };
                }
            }
            if ring == depth {
                break;
            }
            // Hosts, buckets and repositories hold everything there: the path stops at them.
            let open: BTreeSet<&str> = frontier
                .iter()
                .map(String::as_str)
                .filter(|id| {
                    *id == start
                        || !matches!(
                            graph.nodes.get(*id).map(|n| n.kind.as_str()),
                            Some("host" | "bucket" | "repo")
                        )
                })
                .collect();
            let mut reached = Vec::new();
            for (from, to, _, _) in &graph.edges {
                for (here, there) in [(from, to), (to, from)] {
                    if open.contains(here.as_str())
                        && graph.nodes.contains_key(there)
                        && seen.insert(there.clone())
                    {
                        reached.push(there.clone());
                    }
                }
            }
            // A ring's nodes are read in the next pass, so their edges (and the edges between
            // them) are known before the graph is cut.
            frontier = reached;
            if frontier.is_empty() {
                break;
            }
        }
        Ok(graph.finish(|id| seen.contains(id)))
    }

    /// Runs `sql` (ending in `IN (`…`)`, written as `{ids}`) for `ids`, 500 at a time.
    async fn rows_for<T>(&self, sql: &str, ids: &[i64]) -> Result<Vec<T>>
    where
        T: for<'r> sqlx::FromRow<'r, sqlx::any::AnyRow> + Send + Unpin,
    {
        let mut out = Vec::new();
        for chunk in ids.chunks(500) {
            let sql = sql.replace("{ids}", &placeholders(chunk.len()));
            let mut query = sqlx::query_as::<_, T>(&sql);
            for id in chunk {
                query = query.bind(*id);
            }
            out.extend(query.fetch_all(&self.pool).await?);
        }
        Ok(out)
    }

    /// Models `ids` (those held now): where they are and their content held now.
    async fn ring_of_models(&self, graph: &mut Builder, ids: &[i64]) -> Result<bool> {
        let at: Vec<ModelAtRow> = self
            .rows_for(&format!("{MODELS_AT_SQL} AND m.id IN ({{ids}})"), ids)
            .await?;
        let found = !at.is_empty();
        graph.models_at(at);
        graph.parts(
            self.rows_for(
                &format!("{PARTS_SQL}mf.model_id IN ({{ids}}) AND {FILE_HELD} AND {MODEL_HELD}"),
                ids,
            )
            .await?,
        );
        Ok(found)
    }

    /// Locations `ids` (those holding something now): what they hold, who can write them.
    async fn ring_of_locations(&self, graph: &mut Builder, ids: &[i64]) -> Result<bool> {
        let held: Vec<HeldRow> = self
            .rows_for(&format!("{HELD_SQL} AND o.location_id IN ({{ids}})"), ids)
            .await?;
        let at: Vec<ModelAtRow> = self
            .rows_for(
                &format!("{MODELS_AT_SQL} AND ml.location_id IN ({{ids}})"),
                ids,
            )
            .await?;
        let found = !held.is_empty() || !at.is_empty();
        graph.held(held);
        graph.models_at(at);
        graph.exposures(
            self.rows_for(
                &format!("{EXPOSURES_SQL}e.location_id IN ({{ids}}) AND {LOCATION_HELD}"),
                ids,
            )
            .await?,
        );
        Ok(found)
    }

    /// Content `ids` (held now): where it is, the models it is part of, its findings.
    async fn ring_of_files(&self, graph: &mut Builder, ids: &[i64]) -> Result<bool> {
        let held: Vec<HeldRow> = self
            .rows_for(&format!("{HELD_SQL} AND o.file_id IN ({{ids}})"), ids)
            .await?;
        let found = !held.is_empty();
        graph.held(held);
        graph.parts(
            self.rows_for(
                &format!("{PARTS_SQL}mf.file_id IN ({{ids}}) AND {FILE_HELD} AND {MODEL_HELD}"),
                ids,
            )
            .await?,
        );
        graph.findings(
            self.rows_for(
                &format!(
                    "{FINDINGS_SQL}fi.file_id IN ({{ids}}) AND {DRAWN_FINDINGS} AND {FILE_HELD}"
                ),
                ids,
            )
            .await?,
        );
        Ok(found)
    }

    /// Exposures `ids`: the location each is about.
    async fn ring_of_exposures(&self, graph: &mut Builder, ids: &[i64]) -> Result<bool> {
        let rows: Vec<ExposureRow> = self
            .rows_for(
                &format!("{EXPOSURES_SQL}e.id IN ({{ids}}) AND {LOCATION_HELD}"),
                ids,
            )
            .await?;
        let found = !rows.is_empty();
        graph.exposures(rows);
        Ok(found)
    }

    /// Findings `ids` (drawn ones on content held now): the content each is about.
    async fn ring_of_findings(&self, graph: &mut Builder, ids: &[i64]) -> Result<bool> {
        let rows: Vec<FindingOfRow> = self
            .rows_for(
                &format!("{FINDINGS_SQL}fi.id IN ({{ids}}) AND {DRAWN_FINDINGS} AND {FILE_HELD}"),
                ids,
            )
            .await?;
        let found = !rows.is_empty();
        graph.findings(rows);
        Ok(found)
    }
}

impl Store {
    /// Attack paths, worst first: an exposure that lets others write a location → the content
    /// there → code on load (a finding today, or a format whose loader runs code: anyone who
    /// can replace it can make it run theirs).
    pub async fn attack_paths(&self) -> Result<Vec<AttackPath>> {
        let rows = sqlx::query_as::<_, PathRow>(
            "SELECT l.id, l.uri, e.rule_id, e.severity, f.id, f.format, f.sha256, f.verdict, \
             CASE WHEN f.incomplete IS NOT NULL THEN f.incomplete \
                  WHEN f.status IN ('error', 'invalid') THEN f.status END \
             FROM exposures e JOIN locations l ON l.id = e.location_id \
             JOIN occurrences o ON o.location_id = l.id AND o.current = 1 \
             JOIN files f ON f.id = o.file_id \
             WHERE e.rule_id IN ($1, $2) ORDER BY l.uri",
        )
        .bind(WRITE_EXPOSURES[0])
        .bind(WRITE_EXPOSURES[1])
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::new();
        for (_location, uri, rule, exposure_severity, file, format, sha256, verdict, unfinished) in
            rows
        {
            let worst = sqlx::query_as::<_, (String, String, String)>(
                "SELECT rule_id, severity, message FROM findings WHERE file_id = $1 \
                 AND severity IN ('critical', 'high') AND rule_id <> 'MODEL-REPLACED' \
                 AND (triage_state IS NULL OR (triage_expires IS NOT NULL AND triage_expires <= $2))",
            )
            .bind(file)
            .bind(crate::query::now())
            .fetch_all(&self.pool)
            .await?
            .into_iter()
            .max_by_key(|(_, s, _)| severity_rank(s));
            let code_on_load = CODE_ON_LOAD.contains(&format.as_str());
            // Content aigis could not finish analysing at a place others can write is a path
            // too: what it does on load is unknown, and whoever writes there decides.
            if worst.is_none() && !code_on_load && unfinished.is_none() {
                continue;
            }
            let models: Vec<String> = sqlx::query_scalar(
                "SELECT DISTINCT m.name FROM models m JOIN model_files mf ON mf.model_id = m.id \
                 JOIN model_locations ml ON ml.model_id = m.id AND ml.current = 1 \
                 WHERE mf.file_id = $1 ORDER BY m.name",
            )
            .bind(file)
            .fetch_all(&self.pool)
            .await?;
            let exposure_rank = u32::from(severity_rank(&exposure_severity));
            let finding_rank = worst
                .as_ref()
                .map_or(0, |(_, s, _)| u32::from(severity_rank(s)));
            let score = exposure_rank * 20
                + finding_rank * 10
                + if code_on_load { 5 } else { 0 }
                + if rule == "STORAGE-PUBLIC-WRITE" { 3 } else { 0 };
            let severity = if finding_rank >= u32::from(severity_rank("high"))
                || exposure_rank >= u32::from(severity_rank("critical"))
            {
                "critical"
            } else {
                "high"
            };
            let who = if rule == "STORAGE-PUBLIC-WRITE" {
                "anyone on the internet can write"
            } else {
                "other users of the host can write"
            };
            let mut steps = vec![
                format!("{who} {uri} ({rule}, {exposure_severity})"),
                format!(
                    "it holds {format}{}{}",
                    if models.is_empty() {
                        String::new()
                    } else {
                        format!(" of model {}", models.join(", "))
                    },
                    if code_on_load {
                        ", whose loader runs code the file names"
                    } else {
                        ""
                    }
                ),
            ];
            match &worst {
                Some((rule, severity, message)) => {
                    steps.push(format!("loading it today: {rule} ({severity}): {message}"))
                }
                None => match &unfinished {
                    Some(why) => steps.push(format!(
                        "aigis could not finish analysing it ({why}): what it does on load is unknown"
                    )),
                    None => steps.push(format!(
                        "clean today ({verdict}), but whoever replaces it runs their code on load"
                    )),
                },
            }
            out.push(AttackPath {
                score,
                severity: severity.to_owned(),
                exposure: rule,
                exposure_severity,
                location: uri,
                format,
                sha256,
                models,
                finding_severity: worst
                    .as_ref()
                    .map_or("none".to_owned(), |(_, s, _)| s.clone()),
                finding: worst.map(|(rule, _, _)| rule),
                steps,
            });
        }
        out.sort_by(|a, b| b.score.cmp(&a.score).then(a.location.cmp(&b.location)));
        Ok(out)
    }
}

impl Graph {
    /// The part of the graph within `depth` edges of `start` (either direction), without
    /// passing through a host, bucket or repo (they hold everything there, so passing through
    /// them would draw the whole place). Empty when `start` is not a node.
    pub fn neighbourhood(&self, start: &str, depth: usize) -> Graph {
        let kinds: BTreeMap<&str, &str> = self
            .nodes
            .iter()
            .map(|n| (n.id.as_str(), n.kind.as_str()))
            .collect();
        if !kinds.contains_key(start) {
            return Graph::default();
        }
        let mut next: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for edge in &self.edges {
            next.entry(&edge.from).or_default().push(&edge.to);
            next.entry(&edge.to).or_default().push(&edge.from);
        }
        let mut seen: BTreeSet<&str> = BTreeSet::from([start]);
        let mut frontier = vec![start];
        for _ in 0..depth {
            let mut reached = Vec::new();
            for id in frontier {
                if id != start && matches!(kinds.get(id), Some(&("host" | "bucket" | "repo"))) {
                    continue;
                }
                for &other in next.get(id).into_iter().flatten() {
                    if seen.insert(other) {
                        reached.push(other);
                    }
                }
            }
            frontier = reached;
        }
        Graph {
            nodes: self
                .nodes
                .iter()
                .filter(|n| seen.contains(n.id.as_str()))
                .cloned()
                .collect(),
            edges: self
                .edges
                .iter()
                .filter(|e| seen.contains(e.from.as_str()) && seen.contains(e.to.as_str()))
                .cloned()
                .collect(),
        }
    }

    /// Graphviz DOT.
    pub fn to_dot(&self) -> String {
        let quote = |s: &str| {
            let mut out = String::from("\"");
            for c in s.chars() {
                match c {
                    '"' | '\\' => {
                        out.push('\\');
                        out.push(c);
                    }
                    c if c.is_control() => out.push(' '),
                    c => out.push(c),
                }
            }
            out.push('"');
            out
        };
        let mut out = String::from("digraph aigis {\n  rankdir=LR;\n  node [shape=box];\n");
        for node in &self.nodes {
            let label = match &node.severity {
                Some(s) => format!("{}: {} [{s}]", node.kind, node.label),
                None => format!("{}: {}", node.kind, node.label),
            };
            out.push_str(&format!(
                "  {} [label={}];\n",
                quote(&node.id),
                quote(&label)
            ));
        }
        for edge in &self.edges {
            out.push_str(&format!(
                "  {} -> {} [label={}];\n",
                quote(&edge.from),
                quote(&edge.to),
                quote(&edge.kind)
            ));
        }
        out.push_str("}\n");
        out
    }

    /// GraphML.
    pub fn to_graphml(&self) -> String {
        let esc = |s: &str| {
            let mut out = String::new();
            for c in s.chars() {
                match c {
                    '&' => out.push_str("&amp;"),
                    '<' => out.push_str("&lt;"),
                    '>' => out.push_str("&gt;"),
                    '"' => out.push_str("&quot;"),
                    '\'' => out.push_str("&apos;"),
                    c if c.is_control() && c != '\t' => out.push(' '),
                    c => out.push(c),
                }
            }
            out
        };
        let mut out = String::from(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<graphml xmlns=\"http://graphml.graphdrawing.org/xmlns\">\n  \
             <key id=\"kind\" for=\"all\" attr.name=\"kind\" attr.type=\"string\"/>\n  \
             <key id=\"label\" for=\"node\" attr.name=\"label\" attr.type=\"string\"/>\n  \
             <key id=\"severity\" for=\"node\" attr.name=\"severity\" attr.type=\"string\"/>\n  \
             <key id=\"evidence\" for=\"edge\" attr.name=\"evidence\" attr.type=\"string\"/>\n  \
             <graph id=\"aigis\" edgedefault=\"directed\">\n",
        );
        for node in &self.nodes {
            out.push_str(&format!(
                "    <node id=\"{}\"><data key=\"kind\">{}</data><data key=\"label\">{}</data>{}</node>\n",
                esc(&node.id),
                esc(&node.kind),
                esc(&node.label),
                node.severity
                    .as_deref()
                    .map(|s| format!("<data key=\"severity\">{}</data>", esc(s)))
                    .unwrap_or_default()
            ));
        }
        for edge in &self.edges {
            out.push_str(&format!(
                "    <edge source=\"{}\" target=\"{}\"><data key=\"kind\">{}</data><data key=\"evidence\">{}</data></edge>\n",
                esc(&edge.from),
                esc(&edge.to),
                esc(&edge.kind),
                esc(&edge.evidence)
            ));
        }
        out.push_str("  </graph>\n</graphml>\n");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn containers_follow_the_uri() {
        assert_eq!(
            container_of("file://box/srv/m.pt"),
            Some(("host:box".into(), "host".into()))
        );
        assert_eq!(
            container_of("s3://ml/resnet.pt"),
            Some(("bucket:s3://ml".into(), "bucket".into()))
        );
        assert_eq!(
            container_of("hf://org/name/model.bin"),
            Some(("repo:org/name".into(), "repo".into()))
        );
    }

    #[test]
    fn hostile_labels_stay_inside_their_quotes() {
        let graph = Graph {
            nodes: vec![Node {
                id: "location:1".into(),
                kind: "location".into(),
                label: "x\"];\n evil -> pwn; \"<&>".into(),
                severity: None,
            }],
            edges: vec![],
        };
        let dot = graph.to_dot();
        assert!(dot.contains("x\\\"];  evil -> pwn; \\\"<&>"), "{dot}");
        let xml = graph.to_graphml();
        assert!(
            xml.contains("x&quot;];  evil -&gt; pwn; &quot;&lt;&amp;&gt;"),
            "{xml}"
        );
    }
}
