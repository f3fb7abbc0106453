//! TensorFlow protobufs: `saved_model.pb` (a `SavedModel`), frozen `.pb` graphs (a `GraphDef`)
//! and Keras 2's `keras_metadata.pb` (a `SavedMetadata`). Each is recognised from its content
//! (the head must fit the message's schema), pruned to graph structure (see
//! [`super::protobuf`]: tensor constants are never read) and decoded with `aigis-proto`.
//!
//! Every op of every graph and library function is listed in the model facts and checked:
//! - ops that touch files, the network or Python ([`DANGEROUS_OPS`], plus attribute-dependent
//!   cases such as `PrintV2` to a `file://` stream) → `TF-DANGEROUS-OP` at the op's severity;
//! - ops outside the TensorFlow op registry (`data/tf_ops.txt`) that are not functions of the
//!   graph's library → `TF-CUSTOM-OP` (medium).
//!
//! Checkpoint ops (`SaveV2`, `RestoreV2`, `MergeV2Checkpoints`, …) are in every SavedModel's
//! save/restore functions and write only the checkpoint format to a path the caller passes: they
//! are not flagged. Neither is `InitializeTableFromTextFileV2`, which reads vocabulary assets.
//!
//! In `keras_metadata.pb`, a `Lambda` layer → `TF-KERAS-LAMBDA` (critical for marshalled lambda
//! bytecode, high for a function named by module path).

use super::onnx::report_prune_error;
use super::protobuf::{self, Kind, PruneLimits, Schema};
use crate::analyzer::{Analyzer, Context, Input};
use crate::{Finding, Format, RuleId, Severity};
use aigis_proto::prost::Message;
use aigis_proto::tensorflow::attr_value::Value;
use aigis_proto::tensorflow::{AttrValue, GraphDef, NodeDef, SavedMetadata, SavedModel};
use serde_json::Value as Json;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::OnceLock;

/// Ops that read or write files, open network connections or run Python, with their severity
/// and what they do. All are registered TensorFlow ops (a unit test checks `data/tf_ops.txt`).
pub const DANGEROUS_OPS: &[(&str, Severity, &str)] = &[
    ("PyFunc", Severity::Critical, "calls a Python function"),
    (
        "PyFuncStateless",
        Severity::Critical,
        "calls a Python function",
    ),
    ("EagerPyFunc", Severity::Critical, "calls a Python function"),
    ("ReadFile", Severity::Critical, "reads a file"),
    ("WriteFile", Severity::Critical, "writes a file"),
    ("MatchingFiles", Severity::Critical, "lists files"),
    ("MatchingFilesDataset", Severity::Critical, "lists files"),
    (
        "ExperimentalMatchingFilesDataset",
        Severity::Critical,
        "lists files",
    ),
    ("WholeFileReader", Severity::Critical, "reads files"),
    ("WholeFileReaderV2", Severity::Critical, "reads files"),
    ("TextLineReader", Severity::Critical, "reads files"),
    ("TextLineReaderV2", Severity::Critical, "reads files"),
    ("FixedLengthRecordReader", Severity::Critical, "reads files"),
    (
        "FixedLengthRecordReaderV2",
        Severity::Critical,
        "reads files",
    ),
    ("TFRecordReader", Severity::Critical, "reads files"),
    ("TFRecordReaderV2", Severity::Critical, "reads files"),
    ("LMDBReader", Severity::Critical, "reads files"),
    ("TextLineDataset", Severity::Critical, "reads files"),
    ("TFRecordDataset", Severity::Critical, "reads files"),
    ("TFRecordDatasetV2", Severity::Critical, "reads files"),
    (
        "FixedLengthRecordDataset",
        Severity::Critical,
        "reads files",
    ),
    (
        "FixedLengthRecordDatasetV2",
        Severity::Critical,
        "reads files",
    ),
    ("CSVDataset", Severity::Critical, "reads files"),
    ("CSVDatasetV2", Severity::Critical, "reads files"),
    ("ExperimentalCSVDataset", Severity::Critical, "reads files"),
    ("LMDBDataset", Severity::Critical, "reads files"),
    ("ExperimentalLMDBDataset", Severity::Critical, "reads files"),
    ("SqlDataset", Severity::Critical, "reads a database file"),
    (
        "ExperimentalSqlDataset",
        Severity::Critical,
        "reads a database file",
    ),
    ("LoadDataset", Severity::Critical, "reads files"),
    ("DatasetToTFRecord", Severity::Critical, "writes a file"),
    (
        "ExperimentalDatasetToTFRecord",
        Severity::Critical,
        "writes a file",
    ),
    ("SaveDataset", Severity::Critical, "writes files"),
    ("SaveDatasetV2", Severity::Critical, "writes files"),
    (
        "DataServiceDataset",
        Severity::Critical,
        "connects to a network service",
    ),
    (
        "DataServiceDatasetV2",
        Severity::Critical,
        "connects to a network service",
    ),
    (
        "DataServiceDatasetV3",
        Severity::Critical,
        "connects to a network service",
    ),
    (
        "DataServiceDatasetV4",
        Severity::Critical,
        "connects to a network service",
    ),
    (
        "RegisterDataset",
        Severity::Critical,
        "connects to a network service",
    ),
    (
        "RegisterDatasetV2",
        Severity::Critical,
        "connects to a network service",
    ),
    (
        "RpcClient",
        Severity::Critical,
        "connects to a network service",
    ),
    ("RpcCall", Severity::Critical, "calls a network service"),
    (
        "RpcCheckStatus",
        Severity::Critical,
        "calls a network service",
    ),
    ("RpcGetValue", Severity::Critical, "calls a network service"),
    ("RpcServer", Severity::Critical, "opens a network server"),
    (
        "RpcServerStart",
        Severity::Critical,
        "opens a network server",
    ),
    (
        "RpcServerRegister",
        Severity::Critical,
        "opens a network server",
    ),
    (
        "CreateSummaryFileWriter",
        Severity::High,
        "writes event files to a folder",
    ),
    (
        "CreateSummaryDbWriter",
        Severity::High,
        "writes a database file",
    ),
    (
        "DistributedSave",
        Severity::Critical,
        "writes a dataset to a folder through a network dispatcher",
    ),
    (
        "CalibrationStatisticsSaver",
        Severity::Critical,
        "writes a file",
    ),
    (
        "SnapshotChunkDataset",
        Severity::High,
        "reads snapshot files",
    ),
    (
        "SnapshotDatasetReader",
        Severity::High,
        "reads snapshot files",
    ),
    (
        "SnapshotNestedDatasetReader",
        Severity::High,
        "reads snapshot files",
    ),
    (
        "ListSnapshotChunksDataset",
        Severity::High,
        "lists snapshot files",
    ),
    ("SnapshotDataset", Severity::High, "writes snapshot files"),
    ("SnapshotDatasetV2", Severity::High, "writes snapshot files"),
    (
        "LoadAndRemapMatrix",
        Severity::High,
        "reads a checkpoint file",
    ),
    (
        "GenerateVocabRemapping",
        Severity::High,
        "reads vocabulary files",
    ),
    (
        "FileSystemSetConfiguration",
        Severity::High,
        "reconfigures a file system",
    ),
];

/// Registered TensorFlow ops (`data/tf_ops.txt`, generated from TensorFlow's op registry).
fn standard_ops() -> &'static HashSet<&'static str> {
    static OPS: OnceLock<HashSet<&'static str>> = OnceLock::new();
    OPS.get_or_init(|| {
        include_str!("data/tf_ops.txt")
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .collect()
    })
}

/// Whether `op` is a registered TensorFlow op.
pub fn is_standard_op(op: &str) -> bool {
    standard_ops().contains(op)
}

/// The severity and effect of running `op` with attributes `attrs`, if it is dangerous.
pub fn dangerous_op(op: &str, attrs: &HashMap<String, AttrValue>) -> Option<(Severity, String)> {
    if let Some((_, severity, what)) = DANGEROUS_OPS.iter().find(|(name, _, _)| *name == op) {
        return Some((*severity, (*what).to_string()));
    }
    let text = |key: &str| match attrs.get(key).and_then(|a| a.value.as_ref()) {
        Some(Value::S(bytes)) => Some(String::from_utf8_lossy(bytes).into_owned()),
        _ => None,
    };
    match op {
        "ImmutableConst" => text("memory_region_name")
            .filter(|name| !name.starts_with("memmapped_package://"))
            .map(|name| (Severity::High, format!("maps file `{name}` into memory"))),
        "DecodeProtoV2" | "EncodeProto" => text("descriptor_source")
            .filter(|s| !s.is_empty() && s != "local://" && !s.starts_with("bytes://"))
            .map(|s| (Severity::High, format!("reads a descriptor file `{s}`"))),
        "PrintV2" => text("output_stream")
            .filter(|s| s.starts_with("file://"))
            .map(|s| (Severity::Critical, format!("writes to `{s}`"))),
        _ => {
            let urls: Vec<String> = match attrs.get("debug_urls").and_then(|a| a.value.as_ref()) {
                Some(Value::List(list)) => list
                    .s
                    .iter()
                    .map(|u| String::from_utf8_lossy(u).into_owned())
                    .filter(|u| !u.is_empty())
                    .collect(),
                _ => Vec::new(),
            };
            (!urls.is_empty()).then(|| {
                let what = format!("sends debug tensors to `{}`", urls.join("`, `"));
                (Severity::Critical, what)
            })
        }
    }
}

static SAVED_MODEL: Schema = Schema {
    name: "SavedModel",
    fields: &[
        (1, Kind::Varint, true),
        (2, Kind::Message(&META_GRAPH), true),
    ],
    open: false,
};
static META_GRAPH: Schema = Schema {
    name: "MetaGraphDef",
    fields: &[
        (1, Kind::Message(&META_INFO), true),
        (2, Kind::Message(&GRAPH_DEF), true),
        (3, Kind::Bytes, false),
        (4, Kind::Message(&COLLECTION_ENTRY), true),
        (5, Kind::Message(&SIGNATURE_ENTRY), true),
        (6, Kind::Bytes, false),
        (7, Kind::Message(&OBJECT_GRAPH), true),
    ],
    open: false,
};
static COLLECTION_ENTRY: Schema = Schema {
    name: "MetaGraphDef.CollectionDefEntry",
    fields: &[
        (1, Kind::Text, true),
        (2, Kind::Message(&COLLECTION_DEF), true),
    ],
    open: false,
};
static COLLECTION_DEF: Schema = Schema {
    name: "CollectionDef",
    fields: &[
        (1, Kind::Message(&NODE_LIST), true),
        (2, Kind::Bytes, false),
        (3, Kind::Bytes, false),
        (4, Kind::Bytes, false),
        (5, Kind::Bytes, false),
    ],
    open: false,
};
static NODE_LIST: Schema = Schema {
    name: "CollectionDef.NodeList",
    fields: &[(1, Kind::Text, true)],
    open: false,
};
static SIGNATURE_ENTRY: Schema = Schema {
    name: "MetaGraphDef.SignatureDefEntry",
    fields: &[
        (1, Kind::Text, true),
        (2, Kind::Message(&SIGNATURE_DEF), true),
    ],
    open: false,
};
static SIGNATURE_DEF: Schema = Schema {
    name: "SignatureDef",
    fields: &[
        (1, Kind::Bytes, false),
        (2, Kind::Message(&TENSOR_INFO_ENTRY), true),
        (3, Kind::Text, true),
    ],
    open: true,
};
static TENSOR_INFO_ENTRY: Schema = Schema {
    name: "SignatureDef.OutputsEntry",
    fields: &[
        (1, Kind::Text, true),
        (2, Kind::Message(&TENSOR_INFO), true),
    ],
    open: false,
};
static TENSOR_INFO: Schema = Schema {
    name: "TensorInfo",
    fields: &[(1, Kind::Text, true)],
    open: true,
};
static OBJECT_GRAPH: Schema = Schema {
    name: "SavedObjectGraph",
    fields: &[
        (1, Kind::Message(&GRAPH_OBJECT), true),
        (2, Kind::Bytes, false),
    ],
    open: true,
};
static GRAPH_OBJECT: Schema = Schema {
    name: "SavedObject",
    fields: &[
        (1, Kind::Message(&OBJECT_REFERENCE), true),
        (4, Kind::Message(&USER_OBJECT), true),
        (6, Kind::Message(&SAVED_FUNCTION), true),
        (8, Kind::Message(&BARE_FUNCTION), true),
    ],
    open: true,
};
static OBJECT_REFERENCE: Schema = Schema {
    name: "ObjectReference",
    fields: &[(1, Kind::Varint, true), (2, Kind::Text, true)],
    open: true,
};
static USER_OBJECT: Schema = Schema {
    name: "SavedUserObject",
    fields: &[(1, Kind::Text, true), (3, Kind::Bytes, true)],
    open: true,
};
static SAVED_FUNCTION: Schema = Schema {
    name: "SavedFunction",
    fields: &[(1, Kind::Text, true)],
    open: true,
};
static BARE_FUNCTION: Schema = Schema {
    name: "SavedBareConcreteFunction",
    fields: &[(1, Kind::Text, true)],
    open: true,
};
static META_INFO: Schema = Schema {
    name: "MetaInfoDef",
    fields: &[
        (1, Kind::Text, true),
        (2, Kind::Bytes, false),
        (3, Kind::Bytes, false),
        (4, Kind::Text, true),
        (5, Kind::Text, true),
        (6, Kind::Text, true),
        (7, Kind::Varint, false),
        (8, Kind::Bytes, false),
    ],
    open: true,
};
static GRAPH_DEF: Schema = Schema {
    name: "GraphDef",
    fields: &[
        (1, Kind::Message(&NODE_DEF), true),
        (2, Kind::Message(&LIBRARY), true),
        (3, Kind::Varint, false),
        (4, Kind::Message(&VERSION_DEF), true),
        (5, Kind::Bytes, false),
    ],
    open: false,
};
static VERSION_DEF: Schema = Schema {
    name: "VersionDef",
    fields: &[
        (1, Kind::Varint, true),
        (2, Kind::Varint, true),
        (3, Kind::Scalar, false),
    ],
    open: false,
};
static LIBRARY: Schema = Schema {
    name: "FunctionDefLibrary",
    fields: &[
        (1, Kind::Message(&FUNCTION_DEF), true),
        (2, Kind::Bytes, false),
        (3, Kind::Bytes, false),
    ],
    open: false,
};
static FUNCTION_DEF: Schema = Schema {
    name: "FunctionDef",
    fields: &[
        (1, Kind::Message(&OP_DEF), true),
        (3, Kind::Message(&NODE_DEF), true),
        (4, Kind::Bytes, false),
        (5, Kind::Bytes, false),
        (6, Kind::Bytes, false),
        (7, Kind::Bytes, false),
        (8, Kind::Bytes, false),
    ],
    open: true,
};
static OP_DEF: Schema = Schema {
    name: "OpDef",
    fields: &[(1, Kind::Text, true)],
    open: true,
};
static NODE_DEF: Schema = Schema {
    name: "NodeDef",
    fields: &[
        (1, Kind::Text, true),
        (2, Kind::Text, true),
        (3, Kind::Text, true),
        (4, Kind::Text, false),
        (5, Kind::Message(&ATTR_ENTRY), true),
        (6, Kind::Bytes, false),
        (7, Kind::Bytes, false),
    ],
    open: false,
};
static ATTR_ENTRY: Schema = Schema {
    name: "NodeDef.AttrEntry",
    fields: &[(1, Kind::Text, true), (2, Kind::Message(&ATTR_VALUE), true)],
    open: false,
};
static ATTR_VALUE: Schema = Schema {
    name: "AttrValue",
    fields: &[
        (1, Kind::Message(&LIST_VALUE), true),
        (2, Kind::Bytes, true),
        (3, Kind::Varint, true),
        (4, Kind::Scalar, false),
        (5, Kind::Varint, false),
        (6, Kind::Varint, false),
        (7, Kind::Bytes, false),
        (8, Kind::Bytes, false),
        (9, Kind::Text, false),
        (10, Kind::Message(&NAME_ATTR_LIST), true),
    ],
    open: false,
};
static LIST_VALUE: Schema = Schema {
    name: "AttrValue.ListValue",
    fields: &[
        (2, Kind::Bytes, true),
        (3, Kind::Scalar, false),
        (4, Kind::Scalar, false),
        (5, Kind::Scalar, false),
        (6, Kind::Scalar, false),
        (7, Kind::Bytes, false),
        (8, Kind::Bytes, false),
        (9, Kind::Message(&NAME_ATTR_LIST), true),
    ],
    open: false,
};
static NAME_ATTR_LIST: Schema = Schema {
    name: "NameAttrList",
    fields: &[(1, Kind::Text, true), (2, Kind::Bytes, false)],
    open: false,
};
static SAVED_METADATA: Schema = Schema {
    name: "SavedMetadata",
    fields: &[(1, Kind::Message(&SAVED_OBJECT), true)],
    open: false,
};
static SAVED_OBJECT: Schema = Schema {
    name: "SavedObject",
    fields: &[
        (2, Kind::Varint, true),
        (3, Kind::Text, true),
        (4, Kind::Text, true),
        (5, Kind::Text, true),
        (6, Kind::Bytes, false),
    ],
    open: false,
};

/// Message nesting accepted by the pruner.
const MAX_MESSAGE_DEPTH: usize = 24;
/// Hard cap on the pruned graph structure.
const MAX_STRUCTURE: u64 = 256 << 20;
/// Findings of one kind listed individually.
const MAX_LISTED: usize = 32;
/// Nesting of the Keras JSON walked.
const MAX_JSON_DEPTH: usize = 64;

/// Which TensorFlow message a file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TfMessage {
    SavedModel,
    KerasMetadata,
    GraphDef,
}

fn sniff_kind(head: &[u8], len: u64) -> Option<TfMessage> {
    let (number, wire, value) = protobuf::first_field(head)?;
    let enough = |schema: &Schema, depth: usize, min: usize| {
        protobuf::head_matches(head, schema, depth).is_some_and(|m| {
            m.fields >= min || (m.complete && head.len() as u64 == len && m.fields >= 2)
        })
    };
    match (number, wire) {
        (1, 0) if value == 1 && enough(&SAVED_MODEL, 4, 4) => Some(TfMessage::SavedModel),
        (2, 2) if enough(&SAVED_MODEL, 4, 5) => Some(TfMessage::SavedModel),
        (1, 2) if head.windows(9).any(|w| w == b"_tf_keras") && enough(&SAVED_METADATA, 2, 3) => {
            Some(TfMessage::KerasMetadata)
        }
        (1, 2) if enough(&GRAPH_DEF, 4, 4) => Some(TfMessage::GraphDef),
        _ => None,
    }
}

/// Analyzer for TensorFlow SavedModel, frozen GraphDef and Keras 2 metadata protobufs.
pub struct TfAnalyzer;

impl Analyzer for TfAnalyzer {
    fn id(&self) -> &'static str {
        "tf-savedmodel"
    }

    fn version(&self) -> u32 {
        2
    }

    fn sniff(&self, head: &[u8], len: u64) -> bool {
        sniff_kind(head, len).is_some()
    }

    fn analyze(&self, input: &Input<'_>, cx: &mut Context<'_>) -> Option<Format> {
        let kind = sniff_kind(input.head, input.source.len())?;
        let (schema, what) = match kind {
            TfMessage::SavedModel => (&SAVED_MODEL, "SavedModel"),
            TfMessage::KerasMetadata => (&SAVED_METADATA, "Keras metadata"),
            TfMessage::GraphDef => (&GRAPH_DEF, "GraphDef"),
        };
        let limits = PruneLimits {
            max_depth: MAX_MESSAGE_DEPTH,
            max_output: usize::try_from(cx.limits().max_member_bytes.min(MAX_STRUCTURE))
                .unwrap_or(usize::MAX),
        };
        let pruned = match protobuf::prune(input.source, schema, limits) {
            Ok(pruned) => pruned,
            Err(err) => {
                report_prune_error(&format!("TensorFlow {what}"), &err, cx);
                return Some(Format::TfSavedmodel);
            }
        };
        let decoded = match kind {
            TfMessage::SavedModel => {
                SavedModel::decode(pruned.as_slice()).map(|m| analyze_saved_model(&m, cx))
            }
            TfMessage::GraphDef => GraphDef::decode(pruned.as_slice()).map(|g| {
                let mut scan = GraphScan::default();
                scan.graph(&g);
                let plausible = !scan.ops.is_empty();
                scan.report(cx);
                plausible
            }),
            TfMessage::KerasMetadata => {
                SavedMetadata::decode(pruned.as_slice()).map(|m| analyze_keras_metadata(&m, cx))
            }
        };
        match decoded {
            Ok(true) => {
                cx.model()
                    .set_framework(if kind == TfMessage::KerasMetadata {
                        "keras"
                    } else {
                        "tensorflow"
                    });
                Some(Format::TfSavedmodel)
            }
            Ok(false) => None,
            Err(err) => {
                let msg = format!("TensorFlow {what} does not decode: {err}");
                cx.malformed(RuleId::FormatMalformed, msg, None);
                Some(Format::TfSavedmodel)
            }
        }
    }
}

fn analyze_saved_model(model: &SavedModel, cx: &mut Context<'_>) -> bool {
    if model.meta_graphs.is_empty() {
        return false;
    }
    let mut scan = GraphScan::default();
    for meta in &model.meta_graphs {
        if let Some(graph) = &meta.graph_def {
            scan.graph(graph);
        }
        if let Some(info) = &meta.meta_info_def {
            let meta = &mut cx.model().metadata;
            if !info.tensorflow_version.is_empty() {
                meta.insert("tensorflow_version".into(), info.tensorflow_version.clone());
            }
            if !info.tags.is_empty() {
                meta.insert("tags".into(), info.tags.join(","));
            }
        }
    }
    scan.report(cx);
    for meta in &model.meta_graphs {
        judge_load_time(meta, cx);
        // Keras metadata kept in the object graph (SavedModels before `keras_metadata.pb`).
        if let Some(objects) = &meta.object_graph_def {
            let nodes = objects
                .nodes
                .iter()
                .filter_map(|n| n.user_object.as_ref())
                .filter(|u| u.identifier.starts_with("_tf_keras") && !u.metadata.is_empty())
                .map(|u| (u.identifier.as_str(), u.metadata.as_bytes()));
            keras_nodes(nodes, cx);
        }
    }
    true
}

/// Collections whose ops the TF1 loader runs after restoring variables.
const LOAD_COLLECTIONS: &[&str] = &["saved_model_main_op", "legacy_init_op", "main_op"];
/// The signature whose outputs the loaders (TF1 and TF2) run at load.
const INIT_SIGNATURE: &str = "__saved_model_init_op";
/// Object-graph children whose functions `tf.saved_model.load` runs to recreate resources.
const LOAD_FUNCTIONS: &[&str] = &["_create_resource", "_initialize", "_initializer"];
/// Nodes and functions followed from the load-time roots.
const MAX_LOAD_WALK: usize = 1 << 20;

/// Effects of the ops of TensorFlow's registry that touch files, the network or Python
/// (`data/tf_op_effects.txt`, generated by `scripts/fixtures/make_tf_load_fixtures.py`).
fn op_effect(op: &str) -> Option<&'static str> {
    static EFFECTS: OnceLock<HashMap<&'static str, &'static str>> = OnceLock::new();
    EFFECTS
        .get_or_init(|| {
            include_str!("data/tf_op_effects.txt")
                .lines()
                .filter(|l| !l.starts_with('#'))
                .filter_map(|l| l.split_once('\t'))
                .collect()
        })
        .get(op)
        .copied()
}

/// What running `op` at load does, judged with the op table: `None` for ops that only compute,
/// restore the checkpoint or read vocabulary assets (what legitimate initialisers do).
fn load_time_effect(op: &str) -> Option<(Severity, &'static str)> {
    match op_effect(op)? {
        "write" => Some((Severity::Critical, "writes files")),
        "checkpoint-write" => Some((Severity::Critical, "writes checkpoint files")),
        "network" => Some((Severity::Critical, "reaches the network")),
        "python" => Some((Severity::Critical, "calls a Python function")),
        "read" if !op.starts_with("InitializeTableFromTextFile") => {
            Some((Severity::High, "reads files"))
        }
        _ => None,
    }
}

/// Judges every op that runs when the SavedModel loads: the TF1 `main_op`/`legacy_init_op`
/// collections, the `__saved_model_init_op` signature and the TF2 resource initialisers, followed
/// through node inputs and function calls.
fn judge_load_time(meta: &aigis_proto::tensorflow::MetaGraphDef, cx: &mut Context<'_>) {
    let Some(graph) = &meta.graph_def else {
        return;
    };
    let functions: HashMap<&str, &aigis_proto::tensorflow::FunctionDef> = graph
        .library
        .iter()
        .flat_map(|l| &l.function)
        .filter_map(|f| f.signature.as_ref().map(|s| (s.name.as_str(), f)))
        .collect();
    let nodes: HashMap<&str, &NodeDef> = graph.node.iter().map(|n| (n.name.as_str(), n)).collect();
    let tensor_node = |t: &str| {
        let t = t.trim_start_matches('^');
        t.split(':').next().unwrap_or(t).to_string()
    };
    let mut node_stack: Vec<(String, String)> = Vec::new();
    for key in LOAD_COLLECTIONS {
        if let Some(list) = meta
            .collection_def
            .get(*key)
            .and_then(|c| c.node_list.as_ref())
        {
            node_stack.extend(
                list.value
                    .iter()
                    .map(|v| (tensor_node(v), (*key).to_string())),
            );
        }
    }
    if let Some(sig) = meta.signature_def.get(INIT_SIGNATURE) {
        node_stack.extend(
            sig.outputs
                .values()
                .map(|t| (tensor_node(&t.name), INIT_SIGNATURE.to_string())),
        );
    }
    let mut function_stack: Vec<(String, String)> = Vec::new();
    if let Some(objects) = &meta.object_graph_def {
        for object in &objects.nodes {
            for child in &object.children {
                if !LOAD_FUNCTIONS.contains(&child.local_name.as_str()) {
                    continue;
                }
                let Some(target) = usize::try_from(child.node_id)
                    .ok()
                    .and_then(|i| objects.nodes.get(i))
                else {
                    continue;
                };
                let why = format!("resource {}", child.local_name);
                if let Some(f) = &target.function {
                    function_stack.extend(
                        f.concrete_functions
                            .iter()
                            .map(|n| (n.clone(), why.clone())),
                    );
                }
                if let Some(b) = &target.bare_concrete_function {
                    function_stack.push((b.concrete_function_name.clone(), why.clone()));
                }
            }
        }
    }
    let calls = |node: &NodeDef| -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        if functions.contains_key(node.op.as_str()) {
            out.push(node.op.clone());
        }
        for attr in node.attr.values() {
            match &attr.value {
                Some(Value::Func(f)) => out.push(f.name.clone()),
                Some(Value::List(list)) => out.extend(list.func.iter().map(|f| f.name.clone())),
                _ => {}
            }
        }
        out
    };
    let mut seen_nodes: HashSet<String> = HashSet::new();
    let mut seen_functions: HashSet<String> = HashSet::new();
    let mut found: BTreeMap<(String, String), (Severity, String)> = BTreeMap::new();
    let mut budget = MAX_LOAD_WALK;
    let judge = |node: &NodeDef, place: &str, why: &str, found: &mut BTreeMap<_, _>| {
        if let Some((severity, what)) = load_time_effect(&node.op) {
            found
                .entry((node.op.clone(), node.name.clone()))
                .or_insert((severity, format!(
                    "op `{}` (node `{}` in {place}) runs at load ({why}) and {what}: loading the SavedModel does it on the host",
                    node.op, node.name
                )));
        }
    };
    while budget > 0 && (!node_stack.is_empty() || !function_stack.is_empty()) {
        budget -= 1;
        if let Some((name, why)) = node_stack.pop() {
            if !seen_nodes.insert(name.clone()) {
                continue;
            }
            let Some(node) = nodes.get(name.as_str()) else {
                continue;
            };
            judge(node, "the graph", &why, &mut found);
            node_stack.extend(node.input.iter().map(|i| (tensor_node(i), why.clone())));
            function_stack.extend(calls(node).into_iter().map(|f| (f, why.clone())));
            continue;
        }
        if let Some((name, why)) = function_stack.pop() {
            if !seen_functions.insert(name.clone()) {
                continue;
            }
            let Some(function) = functions.get(name.as_str()) else {
                continue;
            };
            let place = format!("function `{name}`");
            for node in &function.node_def {
                judge(node, &place, &why, &mut found);
                function_stack.extend(calls(node).into_iter().map(|f| (f, why.clone())));
            }
        }
    }
    for (severity, msg) in found.into_values().take(MAX_LISTED) {
        let finding = Finding::new(RuleId::TfDangerousOp, msg);
        cx.record(finding.with_severity(severity), None);
    }
}

/// Ops seen and findings, over every graph and function of a file.
#[derive(Default)]
struct GraphScan {
    ops: BTreeSet<String>,
    dangerous: Vec<(Severity, String)>,
    custom: BTreeMap<String, String>,
    producer: Option<i32>,
}

impl GraphScan {
    fn graph(&mut self, graph: &GraphDef) {
        let functions: HashSet<&str> = graph
            .library
            .iter()
            .flat_map(|l| &l.function)
            .filter_map(|f| f.signature.as_ref().map(|s| s.name.as_str()))
            .collect();
        for node in &graph.node {
            self.node(node, "the graph", &functions);
        }
        for function in graph.library.iter().flat_map(|l| &l.function) {
            let name = function.signature.as_ref().map_or("", |s| s.name.as_str());
            let place = format!("function `{name}`");
            for node in &function.node_def {
                self.node(node, &place, &functions);
            }
        }
        if let Some(versions) = &graph.versions {
            self.producer = Some(versions.producer);
        }
    }

    fn node(&mut self, node: &NodeDef, place: &str, functions: &HashSet<&str>) {
        if functions.contains(node.op.as_str()) {
            return;
        }
        if !self.ops.contains(&node.op) {
            self.ops.insert(node.op.clone());
        }
        if let Some((severity, what)) = dangerous_op(&node.op, &node.attr) {
            if self.dangerous.len() < MAX_LISTED {
                let msg = format!(
                    "op `{}` (node `{}` in {place}) {what}: running the model does it on the host",
                    node.op, node.name
                );
                self.dangerous.push((severity, msg));
            }
        } else if !is_standard_op(&node.op) && !self.custom.contains_key(&node.op) {
            self.custom
                .insert(node.op.clone(), format!("node `{}` in {place}", node.name));
        }
    }

    fn report(self, cx: &mut Context<'_>) {
        for (severity, msg) in self.dangerous {
            cx.record(
                Finding::new(RuleId::TfDangerousOp, msg).with_severity(severity),
                None,
            );
        }
        for (op, place) in self.custom.iter().take(MAX_LISTED) {
            let msg = format!(
                "op `{op}` ({place}) is not a TensorFlow op: loading needs a custom op library"
            );
            cx.report(RuleId::TfCustomOp, msg, None);
        }
        if self.custom.len() > MAX_LISTED {
            let msg = format!(
                "{} more custom ops not listed",
                self.custom.len() - MAX_LISTED
            );
            cx.report(RuleId::TfCustomOp, msg, None);
        }
        let info = cx.model();
        info.operators.extend(self.ops);
        if let Some(producer) = self.producer {
            info.metadata
                .insert("graph_producer".into(), producer.to_string());
        }
    }
}

fn analyze_keras_metadata(metadata: &SavedMetadata, cx: &mut Context<'_>) -> bool {
    keras_nodes(
        metadata
            .nodes
            .iter()
            .map(|n| (n.identifier.as_str(), n.metadata.as_bytes())),
        cx,
    )
}

/// Keras objects (identifier, JSON metadata) of `keras_metadata.pb` or, in SavedModels written
/// before it existed (TensorFlow < 2.5), of the object graph's user objects.
fn keras_nodes<'a>(
    nodes: impl Iterator<Item = (&'a str, &'a [u8])> + Clone,
    cx: &mut Context<'_>,
) -> bool {
    if !nodes.clone().any(|(id, _)| id.starts_with("_tf_keras")) {
        return false;
    }
    let mut lambdas = BTreeMap::new();
    let mut classes = BTreeSet::new();
    for (_, metadata) in nodes {
        // Read as Python's json reads it (NaN, deep nesting), so nothing hides from the walk.
        let Ok((json, _)) = super::keras::parse_python_json(metadata) else {
            continue;
        };
        if let Some(class) = json.get("class_name").and_then(Json::as_str) {
            classes.insert(class.to_string());
        }
        find_lambdas(&json, 0, &mut lambdas);
        // Custom objects, dangerous references and file arguments, as in any Keras config
        // (identical findings from overlapping node configs are merged by the context).
        super::keras::check_keras2_objects(&json, cx);
    }
    for (name, kind) in lambdas.iter().take(MAX_LISTED) {
        let finding = if kind == "lambda" {
            Finding::new(
                RuleId::TfKerasLambda,
                format!(
                    "Lambda layer `{name}` holds marshalled Python bytecode that Keras runs when it loads the model"
                ),
            )
        } else {
            Finding::new(
                RuleId::TfKerasLambda,
                format!(
                    "Lambda layer `{name}` calls a Python function ({kind}) that Keras imports when it loads the model"
                ),
            )
            .with_severity(Severity::High)
        };
        cx.record(finding, None);
    }
    cx.model().operators.extend(classes);
    true
}

/// Collects `Lambda` layers (name → function type) anywhere in a Keras config.
fn find_lambdas(json: &Json, depth: usize, out: &mut BTreeMap<String, String>) {
    if depth > MAX_JSON_DEPTH {
        return;
    }
    match json {
        Json::Object(map) => {
            if map.get("class_name").and_then(Json::as_str) == Some("Lambda")
                && let Some(config) = map.get("config")
            {
                let name = config.get("name").and_then(Json::as_str).unwrap_or("?");
                let kind = config
                    .get("function_type")
                    .and_then(Json::as_str)
                    .unwrap_or("lambda");
                out.entry(name.to_string())
                    .or_insert_with(|| kind.to_string());
            }
            for value in map.values() {
                find_lambdas(value, depth + 1, out);
            }
        }
        Json::Array(items) => {
            for value in items {
                find_lambdas(value, depth + 1, out);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aigis_proto::tensorflow::{
        FunctionDef, FunctionDefLibrary, ListValue, MetaGraphDef, OpDef,
    };

    fn node(name: &str, op: &str) -> NodeDef {
        NodeDef {
            name: name.into(),
            op: op.into(),
            input: Vec::new(),
            attr: HashMap::new(),
        }
    }

    #[test]
    fn dangerous_ops_are_registered_tf_ops() {
        for (op, _, _) in DANGEROUS_OPS {
            assert!(is_standard_op(op), "{op} is not in data/tf_ops.txt");
        }
        for op in [
            "SaveV2",
            "RestoreV2",
            "MergeV2Checkpoints",
            "MatMul",
            "_Arg",
        ] {
            assert!(is_standard_op(op) && dangerous_op(op, &HashMap::new()).is_none());
        }
    }

    #[test]
    fn attribute_dependent_ops() {
        let s = |v: &str| AttrValue {
            value: Some(Value::S(v.as_bytes().to_vec())),
        };
        let mut attrs = HashMap::from([("output_stream".to_string(), s("stderr"))]);
        assert!(dangerous_op("PrintV2", &attrs).is_none());
        attrs.insert("output_stream".into(), s("file:///tmp/x"));
        assert_eq!(
            dangerous_op("PrintV2", &attrs).map(|d| d.0),
            Some(Severity::Critical)
        );
        let urls = AttrValue {
            value: Some(Value::List(ListValue {
                s: vec![b"grpc://192.0.2.1:80".to_vec()],
                func: vec![],
            })),
        };
        let attrs = HashMap::from([("debug_urls".to_string(), urls)]);
        assert!(dangerous_op("DebugIdentityV2", &attrs).is_some());
    }

    #[test]
    fn saved_model_sniff_and_function_calls() {
        let graph = GraphDef {
            node: vec![node("call", "my_fn"), node("x", "Placeholder")],
            library: Some(FunctionDefLibrary {
                function: vec![FunctionDef {
                    signature: Some(OpDef {
                        name: "my_fn".into(),
                    }),
                    node_def: vec![node("r", "ReadFile"), node("c", "MyCustomOp")],
                }],
            }),
            versions: None,
        };
        let model = SavedModel {
            saved_model_schema_version: 1,
            meta_graphs: vec![MetaGraphDef {
                meta_info_def: None,
                graph_def: Some(graph.clone()),
                ..Default::default()
            }],
        };
        let bytes = model.encode_to_vec();
        assert_eq!(
            sniff_kind(&bytes, bytes.len() as u64),
            Some(TfMessage::SavedModel)
        );
        let frozen = graph.encode_to_vec();
        assert_eq!(
            sniff_kind(&frozen, frozen.len() as u64),
            Some(TfMessage::GraphDef)
        );
        let mut scan = GraphScan::default();
        scan.graph(&graph);
        assert_eq!(scan.dangerous.len(), 1);
        assert!(scan.custom.contains_key("MyCustomOp"));
        assert!(!scan.ops.contains("my_fn"));
    }

    fn load_findings(meta: &MetaGraphDef) -> Vec<(Severity, String)> {
        let registry = crate::analyzers::registry();
        let options = crate::AnalysisOptions::default();
        let mut cx = Context::new(&registry, &options);
        judge_load_time(meta, &mut cx);
        cx.findings()
            .iter()
            .map(|f| (f.severity, f.message.clone()))
            .collect()
    }

    #[test]
    fn ops_that_run_at_load_are_judged_with_the_op_table() {
        use aigis_proto::tensorflow::{CollectionDef, collection_def::NodeList};
        let mut init = node("init", "NoOp");
        init.input = vec!["^plant".into(), "table_init".into()];
        let mut call = node("call", "StatefulPartitionedCall");
        call.attr.insert(
            "f".into(),
            AttrValue {
                value: Some(Value::Func(aigis_proto::tensorflow::NameAttrList {
                    name: "writer_fn".into(),
                })),
            },
        );
        let mut plant = node("plant", "SaveV2");
        plant.input = vec!["call".into()];
        let graph = GraphDef {
            node: vec![
                init,
                plant,
                call,
                node("table_init", "InitializeTableFromTextFileV2"),
                node("saver", "SaveV2"),
            ],
            library: Some(FunctionDefLibrary {
                function: vec![FunctionDef {
                    signature: Some(OpDef {
                        name: "writer_fn".into(),
                    }),
                    node_def: vec![node("w", "WriteFile"), node("c", "CacheDatasetV2")],
                }],
            }),
            versions: None,
        };
        let mut meta = MetaGraphDef {
            graph_def: Some(graph),
            ..Default::default()
        };
        // Nothing runs at load without a main op: the Save* family is then only the saver's.
        assert!(load_findings(&meta).is_empty());
        meta.collection_def.insert(
            "saved_model_main_op".into(),
            CollectionDef {
                node_list: Some(NodeList {
                    value: vec!["init".into()],
                }),
            },
        );
        let found = load_findings(&meta);
        let ops: Vec<&str> = found
            .iter()
            .filter(|(s, m)| *s == Severity::Critical && m.contains("at load"))
            .filter_map(|(_, m)| m.split('`').nth(1))
            .collect();
        assert_eq!(
            ops,
            vec!["CacheDatasetV2", "SaveV2", "WriteFile"],
            "{found:?}"
        );
        assert!(
            !found
                .iter()
                .any(|(_, m)| m.contains("`saver`") || m.contains("InitializeTable"))
        );
    }

    #[test]
    fn keras_metadata_in_the_object_graph_is_read() {
        use aigis_proto::tensorflow::{SavedGraphObject, SavedObjectGraph, SavedUserObject};
        let lambda = r#"{"class_name": "Sequential", "config": {"layers": [{"class_name": "Lambda", "config": {"name": "evil", "function": ["4wEAAAAAAAAA", null, null], "function_type": "lambda"}}]}}"#;
        let model = SavedModel {
            saved_model_schema_version: 1,
            meta_graphs: vec![MetaGraphDef {
                graph_def: Some(GraphDef {
                    node: vec![node("x", "Placeholder")],
                    library: None,
                    versions: None,
                }),
                object_graph_def: Some(SavedObjectGraph {
                    nodes: vec![SavedGraphObject {
                        user_object: Some(SavedUserObject {
                            identifier: "_tf_keras_sequential".into(),
                            metadata: lambda.into(),
                        }),
                        ..Default::default()
                    }],
                }),
                ..Default::default()
            }],
        };
        let registry = crate::analyzers::registry();
        let options = crate::AnalysisOptions::default();
        let mut cx = Context::new(&registry, &options);
        assert!(analyze_saved_model(&model, &mut cx));
        assert!(
            cx.findings()
                .iter()
                .any(|f| f.rule_id == RuleId::TfKerasLambda && f.severity == Severity::Critical),
            "{:?}",
            cx.findings()
        );
    }
}
