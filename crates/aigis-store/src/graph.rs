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

impl Store {
    /// The graph of what the inventory holds now.
    pub async fn graph(&self) -> Result<Graph> {
        let mut nodes: BTreeMap<String, Node> = BTreeMap::new();
        let mut edges: BTreeSet<(String, String, String, String)> = BTreeSet::new();
        let mut add = |id: String, kind: &str, label: String, severity: Option<String>| {
            nodes.entry(id.clone()).or_insert(Node {
                id,
                kind: kind.to_owned(),
                label,
                severity,
            });
        };
        // Locations and the content they hold now.
        let held = sqlx::query_as::<_, (i64, String, i64, Option<String>, String, String, i64)>(
            "SELECT l.id, l.uri, f.id, f.sha256, f.format, f.verdict, o.last_scan FROM occurrences o \
             JOIN locations l ON l.id = o.location_id JOIN files f ON f.id = o.file_id WHERE o.current = 1",
        )
        .fetch_all(&self.pool)
        .await?;
        for (location, uri, file, sha, format, verdict, scan) in &held {
            let lid = format!("location:{location}");
            add(lid.clone(), "location", uri.clone(), None);
            if let Some((cid, kind)) = container_of(uri) {
                let label = cid
                    .split_once(':')
                    .map_or(cid.clone(), |(_, l)| l.to_owned());
                add(cid.clone(), &kind, label, None);
                edges.insert((cid, lid.clone(), "contains".into(), String::new()));
            }
            let fid = format!("file:{file}");
            let label = match sha {
                Some(sha) => format!("{format} sha256:{}", &sha[..sha.len().min(12)]),
                None => format!("{format} (unhashed)"),
            };
            add(fid.clone(), "file", label, Some(verdict.clone()));
            edges.insert((lid, fid, "holds".into(), format!("scan {scan}")));
        }
        // Exposures.
        let exposures = sqlx::query_as::<_, (i64, i64, String, String, i64)>(
            "SELECT e.id, e.location_id, e.rule_id, e.severity, e.last_scan FROM exposures e",
        )
        .fetch_all(&self.pool)
        .await?;
        for (id, location, rule, severity, scan) in exposures {
            let eid = format!("exposure:{id}");
            add(eid.clone(), "exposure", rule.clone(), Some(severity));
            edges.insert((
                eid,
                format!("location:{location}"),
                "exposes".into(),
                format!("{rule}, scan {scan}"),
            ));
        }
        // Models where they are now, and their files.
        let models = sqlx::query_as::<_, (i64, String, String, i64)>(
            "SELECT m.id, m.name, m.verdict, ml.location_id FROM models m \
             JOIN model_locations ml ON ml.model_id = m.id WHERE ml.current = 1",
        )
        .fetch_all(&self.pool)
        .await?;
        for (id, name, verdict, location) in &models {
            let mid = format!("model:{id}");
            add(mid.clone(), "model", name.clone(), Some(verdict.clone()));
            edges.insert((
                mid,
                format!("location:{location}"),
                "located_at".into(),
                String::new(),
            ));
        }
        let parts = sqlx::query_as::<_, (i64, i64)>(
            "SELECT DISTINCT mf.model_id, mf.file_id FROM model_files mf \
             JOIN model_locations ml ON ml.model_id = mf.model_id WHERE ml.current = 1",
        )
        .fetch_all(&self.pool)
        .await?;
        for (model, file) in parts {
            edges.insert((
                format!("file:{file}"),
                format!("model:{model}"),
                "part_of".into(),
                String::new(),
            ));
        }
        // Open findings on content held now.
        let findings = sqlx::query_as::<_, (i64, i64, String, String)>(
            "SELECT fi.id, fi.file_id, fi.rule_id, fi.severity FROM findings fi \
             WHERE fi.severity IN ('critical', 'high', 'medium') \
             AND EXISTS (SELECT 1 FROM occurrences o WHERE o.file_id = fi.file_id AND o.current = 1)",
        )
        .fetch_all(&self.pool)
        .await?;
        for (id, file, rule, severity) in findings {
            let fid = format!("finding:{id}");
            add(fid.clone(), "finding", rule.clone(), Some(severity));
            edges.insert((format!("file:{file}"), fid, "has_finding".into(), rule));
        }
        // Keep edges whose ends exist (a model file no location holds now).
        let edges = edges
            .into_iter()
            .filter(|(from, to, _, _)| nodes.contains_key(from) && nodes.contains_key(to))
            .map(|(from, to, kind, evidence)| Edge {
                from,
                to,
                kind,
                evidence,
            })
            .collect();
        Ok(Graph {
            nodes: nodes.into_values().collect(),
            edges,
        })
    }

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
