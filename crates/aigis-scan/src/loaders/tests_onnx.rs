//! The ONNX loader differential: every case of `fixtures/differential/onnx.jsonl.gz` (made by
//! `scripts/differential/onnx_protobuf.py`, which records how `onnx.load` — protobuf's
//! `ParseFromString` — reads generated and wire-mutated `ModelProto`s) must be read by aigis as
//! the loader reads it:
//! - what the loader parses, aigis's reader parses to the same model: the same nodes (domain,
//!   op type) in the main graph, in subgraphs at any depth, in training graphs and functions, the
//!   same opset imports and functions, and every tensor's external-data `location` as onnx's
//!   `ExternalDataInfo` takes it (the last `location` entry);
//! - every location the loader would read that leaves the model folder is flagged
//!   (`ONNX-EXTERNAL-DATA-ESCAPE`), every operator outside the stock domains that no model-local
//!   function defines is named (`ONNX-CUSTOM-OP`);
//! - what the loader parses is not invalid for aigis, with one deliberate strictness: ONNX has
//!   no magic number, so aigis takes bytes for a model only when their head fits `ModelProto` and
//!   the model is plausible (an `ir_version` in 1..=32, and nodes or an opset import). A file
//!   named `.onnx` that is not is `MODEL-UNRECOGNISED` (invalid: failing closed), and nothing else
//!   may be;
//! - what the loader refuses is invalid for aigis.

use super::tests::{b64, cases, report};
use crate::analyzer::Analyzer;
use crate::analyzers::OnnxAnalyzer;
use crate::{Format, MemorySource, RuleId, Status};
use aigis_proto::onnx::{GraphProto, ModelProto, NodeProto, TensorProto};
use serde_json::Value;

/// The reading `onnx_protobuf.py` records, computed from the model aigis decoded.
#[derive(Default)]
struct Reading {
    nodes: Vec<(String, String)>,
    opsets: Vec<String>,
    functions: Vec<(String, String)>,
    /// (tensor name, location): the last `location` entry, `""` without one.
    tensors: Vec<(String, String)>,
}

impl Reading {
    fn of(model: &ModelProto) -> Reading {
        let mut r = Reading::default();
        let training = model
            .training_info
            .iter()
            .flat_map(|t| t.initialization.iter().chain(&t.algorithm));
        for graph in model.graph.iter().chain(training) {
            r.graph(graph);
        }
        for function in &model.functions {
            for node in &function.node {
                r.node(node);
            }
        }
        r.nodes.sort();
        r.tensors.sort();
        r.opsets = model
            .opset_import
            .iter()
            .map(|o| o.domain.clone())
            .collect();
        r.functions = model
            .functions
            .iter()
            .map(|f| (f.domain.clone(), f.name.clone()))
            .collect();
        r.functions.sort();
        r
    }

    fn graph(&mut self, graph: &GraphProto) {
        for tensor in &graph.initializer {
            self.tensor(tensor);
        }
        for sparse in &graph.sparse_initializer {
            for tensor in sparse.values.iter().chain(&sparse.indices) {
                self.tensor(tensor);
            }
        }
        for node in &graph.node {
            self.node(node);
        }
    }

    fn node(&mut self, node: &NodeProto) {
        self.nodes.push((node.domain.clone(), node.op_type.clone()));
        for a in &node.attribute {
            let sparse = a.sparse_tensor.iter().chain(&a.sparse_tensors);
            let sparse = sparse.flat_map(|s| s.values.iter().chain(&s.indices));
            for tensor in a.t.iter().chain(&a.tensors).chain(sparse) {
                self.tensor(tensor);
            }
        }
        for a in &node.attribute {
            for graph in a.g.iter().chain(&a.graphs) {
                self.graph(graph);
            }
        }
    }

    fn tensor(&mut self, tensor: &TensorProto) {
        if tensor.external_data.is_empty() {
            return;
        }
        let location = tensor
            .external_data
            .iter()
            .rfind(|e| e.key == "location")
            .map_or("", |e| e.value.as_str());
        self.tensors
            .push((tensor.name.clone(), location.to_string()));
    }
}

fn pairs(v: &Value) -> Vec<(String, String)> {
    let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
    let items = v.as_array().into_iter().flatten();
    items.map(|p| (text(&p[0]), text(&p[1]))).collect()
}

/// Whether the loader, resolving `location` against the model's folder, leaves it: an absolute
/// or drive path, a `..` component, a URL or a NUL (which ends the path for the C library).
fn escapes(location: &str) -> bool {
    let b = location.as_bytes();
    location.starts_with(['/', '\\'])
        || (b.len() >= 2 && b[0].is_ascii_alphabetic() && b[1] == b':')
        || location.contains("://")
        || location.contains('\0')
        || location.split(['/', '\\']).any(|part| part == "..")
}

/// The model-level reading of a case the loader parsed is plausible for aigis.
fn plausible(case: &Value) -> bool {
    let ir = case["ir_version"].as_i64().unwrap_or(0);
    let nodes = case["graph_nodes"].as_u64().unwrap_or(0);
    let opsets = case["opsets"].as_array().map_or(0, Vec::len);
    (1..=32).contains(&ir) && (nodes > 0 || opsets > 0)
}

#[test]
fn onnx_models_are_read_as_onnx_load_reads_them() {
    let scanner = crate::Scanner::new(crate::ScanOptions::default());
    let all = cases("onnx.jsonl.gz");
    let mut divergences = Vec::new();
    let (mut parsed, mut declined, mut escapes_flagged, mut custom_named) = (0, 0, 0, 0);
    for case in &all {
        let bytes = b64(&case["b"]);
        let why = case["why"].as_str().unwrap_or("");
        let mut diverge = |what: String| divergences.push(format!("{why}: {what}"));
        let result = scanner.scan_source("model.onnx".into(), &MemorySource::new(bytes.clone()));
        let ours = OnnxAnalyzer::read(&MemorySource::new(bytes.clone()));
        let messages = |rule: RuleId| -> Vec<&str> {
            let found = result.findings.iter().filter(|f| f.rule_id == rule);
            found.map(|f| f.message.as_str()).collect()
        };
        if case["ok"] != Value::Bool(true) {
            if result.status != Status::Invalid {
                let error = case["error"].as_str().unwrap_or("");
                diverge(format!(
                    "onnx.load refuses ({error}), aigis reads {} {:?}",
                    result.format, result.status
                ));
            }
            continue;
        }
        parsed += 1;
        let model = match ours {
            Ok(model) => model,
            Err(err) => {
                diverge(format!(
                    "onnx.load parses it, aigis's reader refuses: {err}"
                ));
                continue;
            }
        };
        let reading = Reading::of(&model);
        let theirs_nodes = {
            let mut n = pairs(&case["nodes"]);
            n.sort();
            n
        };
        if reading.nodes != theirs_nodes {
            diverge(format!(
                "nodes: onnx.load {theirs_nodes:?}, aigis {:?}",
                reading.nodes
            ));
        }
        let theirs_opsets: Vec<String> = super::tests::strings(&case["opsets"]);
        if reading.opsets != theirs_opsets {
            diverge(format!(
                "opsets: onnx.load {theirs_opsets:?}, aigis {:?}",
                reading.opsets
            ));
        }
        let theirs_functions = pairs(&case["functions"]);
        if reading.functions != theirs_functions {
            diverge(format!(
                "functions: onnx.load {theirs_functions:?}, aigis {:?}",
                reading.functions
            ));
        }
        let theirs_tensors = pairs(&case["tensors"]);
        if reading.tensors != theirs_tensors {
            diverge(format!(
                "external data: onnx.load {theirs_tensors:?}, aigis {:?}",
                reading.tensors
            ));
        }

        // Acceptance: read as a model, or declined for a reason stated above.
        let head = &bytes[..bytes.len().min(crate::analyzer::HEAD_LEN)];
        let sniffed = OnnxAnalyzer.sniff(head, bytes.len() as u64);
        match (result.format, result.status) {
            (Format::Onnx, Status::Ok) => {}
            (Format::Unknown, Status::Invalid)
                if (!sniffed || !plausible(case))
                    && result
                        .findings
                        .iter()
                        .all(|f| f.rule_id == RuleId::ModelUnrecognised) =>
            {
                declined += 1;
                continue;
            }
            (format, status) => {
                let findings: Vec<String> = result
                    .findings
                    .iter()
                    .map(|f| format!("{}: {}", f.rule_id, f.message))
                    .collect();
                diverge(format!(
                    "onnx.load parses it (sniffed {sniffed}, plausible {}), aigis: {format} \
                     {status:?} {findings:?}",
                    plausible(case)
                ));
                continue;
            }
        }

        // Every escaping location a loader reads (data_location EXTERNAL) is flagged.
        let escape_messages = messages(RuleId::OnnxExternalDataEscape);
        for row in case["tensors"].as_array().into_iter().flatten() {
            let location = row[1].as_str().unwrap_or_default();
            if row[2] != Value::Bool(true) || !escapes(location) {
                continue;
            }
            let quoted = format!("`{location}`");
            if escape_messages.iter().any(|m| m.contains(&quoted)) {
                escapes_flagged += 1;
            } else {
                diverge(format!("location {location:?} escapes and is not flagged"));
            }
        }
        // Every operator outside the stock domains that no local function defines is named.
        let custom_messages = messages(RuleId::OnnxCustomOp);
        for (domain, op) in &theirs_nodes {
            let local = theirs_functions.contains(&(domain.clone(), op.clone()));
            if OnnxAnalyzer::KNOWN_DOMAINS.contains(&domain.as_str()) || local {
                continue;
            }
            let quoted = format!("`{domain}.{op}`");
            if custom_messages.iter().any(|m| m.contains(&quoted)) {
                custom_named += 1;
            } else {
                diverge(format!("custom operator {quoted} not reported"));
            }
        }
    }
    eprintln!(
        "onnx: {parsed} parsed by onnx.load, {declined} of them not taken for a model (head or \
         plausibility), {escapes_flagged} escaping locations flagged, {custom_named} custom \
         operators named"
    );
    report("onnx", all.len(), &divergences);
}
