//! ONNX models (`ModelProto` protobuf). ONNX has no magic number: the head must parse as the
//! start of a `ModelProto` (known field numbers with fitting wire types, readable text, nested
//! graph fields that fit `GraphProto`), and the decoded model must be plausible (a sane
//! `ir_version`, and a graph with nodes or an opset import) or the analyzer declines.
//!
//! The model is pruned (see [`super::protobuf`]) so tensor data is never read: a 1 GB model costs
//! reads of its graph structure only. It is read as `onnx.load` (protobuf) reads it: a message
//! written twice is merged, a scalar or string written twice is the last, unknown fields, groups
//! and known fields with another wire type are skipped, strings need not be UTF-8, messages nest
//! up to 100 levels, and a model corrupt anywhere (unread fields too) is refused; checked by the
//! loader differential (`loaders::tests_onnx`). Findings:
//! - a tensor whose external data `location` is absolute, climbs out with `..`, or is a URL:
//!   loading reads an arbitrary file (`ONNX-EXTERNAL-DATA-ESCAPE`, critical). `onnx.load` and ONNX
//!   Runtime take the last `location` entry, onnx's checker each: every one is judged;
//! - external data the runtime refuses: a data file missing beside the model, or a tensor's
//!   `offset` + `length` past the end of its file (`FORMAT-MALFORMED`, invalid);
//! - an operator from a domain outside [`KNOWN_DOMAINS`] that no model-local function of the same
//!   domain and name defines (it needs a custom op library loaded into the runtime), and
//!   model-local functions (`ONNX-CUSTOM-OP`, medium).
//!
//! Subgraphs (If/Loop/Scan bodies in graph attributes), training graphs and function bodies are
//! walked too, at every depth protobuf reads ([`MAX_GRAPH_DEPTH`] levels).

use super::protobuf::{self, Kind, PruneError, PruneLimits, Schema};
use crate::analyzer::{Analyzer, Context, Input};
use crate::secrets::{self, Place};
use crate::{ByteSource, Finding, Format, RuleId, Severity};
use aigis_proto::onnx::{FunctionProto, GraphProto, ModelProto, NodeProto, TensorProto};
use aigis_proto::prost::Message;
use std::collections::{BTreeMap, BTreeSet};

/// Operator domains every ONNX runtime build knows without a custom op library: the ONNX
/// standard domains and ONNX Runtime's built-in contrib domains (including the internal layout
/// domains ORT writes into optimized models it saves).
pub const KNOWN_DOMAINS: &[&str] = &[
    "",
    "ai.onnx",
    "ai.onnx.ml",
    "ai.onnx.training",
    "ai.onnx.preview.training",
    "com.microsoft",
    "com.microsoft.nchwc",
    "com.microsoft.experimental",
    "com.ms.internal.nhwc",
];

/// Highest plausible `ir_version` (ONNX 1.17 writes 10; leave room for new releases).
const MAX_IR_VERSION: i64 = 32;
/// Message nesting accepted by the pruner: protobuf (and prost) read messages nested up to 100
/// levels below the model and refuse deeper ones; `prune` refuses nesting of `max_depth`.
const MAX_MESSAGE_DEPTH: usize = 101;
/// Nesting of subgraphs walked: all that fits in protobuf's 100 levels (the main graph is one
/// level down, each subgraph three more: node, attribute, graph).
pub const MAX_GRAPH_DEPTH: usize = (MAX_MESSAGE_DEPTH - 2) / 3;
/// Findings of one kind listed individually before they are summarised.
const MAX_LISTED: usize = 32;
/// Most external-data ranges checked against their files.
const MAX_RANGES: usize = 1 << 16;
/// Hard cap on the pruned graph structure, whatever the limits say.
const MAX_STRUCTURE: u64 = 256 << 20;

// The whole `onnx.proto` (IR version 11): kept fields are what aigis reads; the others are
// still walked as `onnx.load` parses them (a model corrupt anywhere is refused), their payloads
// skipped. Strings are proto2 strings, which protobuf does not check for UTF-8 (`LossyText`).
static MODEL: Schema = Schema {
    name: "ModelProto",
    fields: &[
        (1, Kind::Varint, true),
        (2, Kind::LossyText, true),
        (3, Kind::LossyText, true),
        (4, Kind::LossyText, true),
        (5, Kind::Varint, true),
        (6, Kind::Text, false),
        (7, Kind::Message(&GRAPH), true),
        (8, Kind::Message(&OPSET), true),
        (14, Kind::Message(&ENTRY_UNREAD), false),
        (20, Kind::Message(&TRAINING), true),
        (25, Kind::Message(&FUNCTION), true),
        (26, Kind::Message(&DEVICE_CONFIGURATION), false),
    ],
    open: false,
};
static OPSET: Schema = Schema {
    name: "OperatorSetIdProto",
    fields: &[(1, Kind::LossyText, true), (2, Kind::Varint, true)],
    open: false,
};
static TRAINING: Schema = Schema {
    name: "TrainingInfoProto",
    fields: &[
        (1, Kind::Message(&GRAPH), true),
        (2, Kind::Message(&GRAPH), true),
        (3, Kind::Message(&ENTRY_UNREAD), false),
        (4, Kind::Message(&ENTRY_UNREAD), false),
    ],
    open: true,
};
static GRAPH: Schema = Schema {
    name: "GraphProto",
    fields: &[
        (1, Kind::Message(&NODE), true),
        (2, Kind::LossyText, true),
        (5, Kind::Message(&TENSOR), true),
        (10, Kind::Text, false),
        (11, Kind::Message(&VALUE_INFO), false),
        (12, Kind::Message(&VALUE_INFO), false),
        (13, Kind::Message(&VALUE_INFO), false),
        (14, Kind::Message(&TENSOR_ANNOTATION), false),
        (15, Kind::Message(&SPARSE), true),
        (16, Kind::Message(&ENTRY_UNREAD), false),
    ],
    open: false,
};
static NODE: Schema = Schema {
    name: "NodeProto",
    fields: &[
        (1, Kind::Text, false),
        (2, Kind::Text, false),
        (3, Kind::LossyText, true),
        (4, Kind::LossyText, true),
        (5, Kind::Message(&ATTRIBUTE), true),
        (6, Kind::Text, false),
        (7, Kind::LossyText, true),
        (8, Kind::Text, false),
        (9, Kind::Message(&ENTRY_UNREAD), false),
        (10, Kind::Message(&NODE_DEVICE_CONFIGURATION), false),
    ],
    open: true,
};
static ATTRIBUTE: Schema = Schema {
    name: "AttributeProto",
    fields: &[
        (1, Kind::LossyText, true),
        (2, Kind::Fixed32, false),
        (3, Kind::Varint, false),
        (4, Kind::Bytes, false),
        (5, Kind::Message(&TENSOR), true),
        (6, Kind::Message(&GRAPH), true),
        (7, Kind::Fixed32s, false),
        (8, Kind::Varints, false),
        (9, Kind::Bytes, false),
        (10, Kind::Message(&TENSOR), true),
        (11, Kind::Message(&GRAPH), true),
        (13, Kind::Bytes, false),
        (14, Kind::Message(&TYPE), false),
        (15, Kind::Message(&TYPE), false),
        (20, Kind::Varint, true),
        (21, Kind::Bytes, false),
        (22, Kind::Message(&SPARSE), true),
        (23, Kind::Message(&SPARSE), true),
    ],
    open: true,
};
static TENSOR: Schema = Schema {
    name: "TensorProto",
    fields: &[
        (1, Kind::Varints, true),
        (2, Kind::Varint, true),
        (3, Kind::Message(&SEGMENT), false),
        (4, Kind::Fixed32s, false),
        (5, Kind::Varints, false),
        (6, Kind::Bytes, false),
        (7, Kind::Varints, false),
        (8, Kind::LossyText, true),
        (9, Kind::Bytes, false),
        (10, Kind::Fixed64s, false),
        (11, Kind::Varints, false),
        (12, Kind::Bytes, false),
        (13, Kind::Message(&ENTRY), true),
        (14, Kind::Varint, true),
        (16, Kind::Message(&ENTRY_UNREAD), false),
    ],
    open: true,
};
static ENTRY: Schema = Schema {
    name: "StringStringEntryProto",
    fields: &[(1, Kind::AnyText, true), (2, Kind::AnyText, true)],
    open: true,
};
static SPARSE: Schema = Schema {
    name: "SparseTensorProto",
    fields: &[
        (1, Kind::Message(&TENSOR), true),
        (2, Kind::Message(&TENSOR), true),
        (3, Kind::Varints, true),
    ],
    open: false,
};
static FUNCTION: Schema = Schema {
    name: "FunctionProto",
    fields: &[
        (1, Kind::LossyText, true),
        (4, Kind::Bytes, false),
        (5, Kind::Bytes, false),
        (6, Kind::Bytes, false),
        (7, Kind::Message(&NODE), true),
        (8, Kind::Bytes, false),
        (9, Kind::Message(&OPSET), true),
        (10, Kind::LossyText, true),
        (11, Kind::Message(&ATTRIBUTE_UNREAD), false),
        (12, Kind::Message(&VALUE_INFO), false),
        (13, Kind::Bytes, false),
        (14, Kind::Message(&ENTRY_UNREAD), false),
    ],
    open: true,
};

/// Messages aigis does not read, walked only so that a model corrupt in them is refused.
macro_rules! unread {
    ($id:ident, $name:literal, $($field:expr),* $(,)?) => {
        static $id: Schema = Schema { name: $name, fields: &[$($field),*], open: true };
    };
}
unread!(
    ENTRY_UNREAD,
    "StringStringEntryProto",
    (1, Kind::Bytes, false),
    (2, Kind::Bytes, false)
);
unread!(
    ATTRIBUTE_UNREAD,
    "AttributeProto",
    (2, Kind::Fixed32, false),
    (3, Kind::Varint, false),
    (5, Kind::Message(&TENSOR), false),
    (6, Kind::Message(&GRAPH), false),
    (7, Kind::Fixed32s, false),
    (8, Kind::Varints, false),
    (10, Kind::Message(&TENSOR), false),
    (11, Kind::Message(&GRAPH), false),
    (14, Kind::Message(&TYPE), false),
    (15, Kind::Message(&TYPE), false),
    (20, Kind::Varint, false),
    (22, Kind::Message(&SPARSE), false),
    (23, Kind::Message(&SPARSE), false),
);
unread!(
    VALUE_INFO,
    "ValueInfoProto",
    (2, Kind::Message(&TYPE), false),
    (4, Kind::Message(&ENTRY_UNREAD), false)
);
unread!(
    TYPE,
    "TypeProto",
    (1, Kind::Message(&TYPE_TENSOR), false),
    (4, Kind::Message(&TYPE_ELEMENT), false),
    (5, Kind::Message(&TYPE_MAP), false),
    (7, Kind::Message(&ENTRY_UNREAD), false), // Opaque: two strings, like an entry
    (8, Kind::Message(&TYPE_TENSOR), false),
    (9, Kind::Message(&TYPE_ELEMENT), false),
);
unread!(
    TYPE_TENSOR,
    "TypeProto.Tensor",
    (1, Kind::Varint, false),
    (2, Kind::Message(&SHAPE), false)
);
unread!(
    TYPE_ELEMENT,
    "TypeProto.Sequence",
    (1, Kind::Message(&TYPE), false)
);
unread!(
    TYPE_MAP,
    "TypeProto.Map",
    (1, Kind::Varint, false),
    (2, Kind::Message(&TYPE), false)
);
unread!(
    SHAPE,
    "TensorShapeProto",
    (1, Kind::Message(&DIMENSION), false)
);
unread!(
    DIMENSION,
    "TensorShapeProto.Dimension",
    (1, Kind::Varint, false)
);
unread!(
    SEGMENT,
    "TensorProto.Segment",
    (1, Kind::Varint, false),
    (2, Kind::Varint, false)
);
unread!(
    TENSOR_ANNOTATION,
    "TensorAnnotation",
    (2, Kind::Message(&ENTRY_UNREAD), false)
);
unread!(
    DEVICE_CONFIGURATION,
    "DeviceConfigurationProto",
    (2, Kind::Varint, false)
);
unread!(
    NODE_DEVICE_CONFIGURATION,
    "NodeDeviceConfigurationProto",
    (2, Kind::Message(&SHARDING_SPEC), false),
    (3, Kind::Varint, false),
);
unread!(
    SHARDING_SPEC,
    "ShardingSpecProto",
    (2, Kind::Varints, false),
    (3, Kind::Message(&INT_INT_LIST), false),
    (4, Kind::Message(&SHARDED_DIM), false),
);
unread!(
    INT_INT_LIST,
    "IntIntListEntryProto",
    (1, Kind::Varint, false),
    (2, Kind::Varints, false)
);
unread!(
    SHARDED_DIM,
    "ShardedDimProto",
    (1, Kind::Varint, false),
    (2, Kind::Message(&SIMPLE_SHARDED_DIM), false),
);
unread!(
    SIMPLE_SHARDED_DIM,
    "SimpleShardedDimProto",
    (1, Kind::Varint, false),
    (3, Kind::Varint, false),
);

/// Analyzer for ONNX models.
pub struct OnnxAnalyzer;

impl Analyzer for OnnxAnalyzer {
    fn id(&self) -> &'static str {
        "onnx"
    }

    fn version(&self) -> u32 {
        2
    }

    fn sniff(&self, head: &[u8], len: u64) -> bool {
        looks_like_model(head, len)
    }

    fn analyze(&self, input: &Input<'_>, cx: &mut Context<'_>) -> Option<Format> {
        if !has_ir_version(input.source) {
            return None;
        }
        let limits = PruneLimits {
            max_depth: MAX_MESSAGE_DEPTH,
            max_output: usize::try_from(cx.limits().max_member_bytes.min(MAX_STRUCTURE))
                .unwrap_or(usize::MAX),
        };
        let model = match read_model(input.source, limits) {
            Ok(model) => model,
            Err(ReadError::Prune(err)) => {
                report_prune_error("ONNX model", &err, cx);
                return Some(Format::Onnx);
            }
            Err(ReadError::Decode(err)) => {
                let msg = format!("ONNX model does not decode: {err}");
                cx.malformed(RuleId::FormatMalformed, msg, None);
                return Some(Format::Onnx);
            }
        };
        let has_nodes = model.graph.as_ref().is_some_and(|g| !g.node.is_empty());
        let plausible = (1..=MAX_IR_VERSION).contains(&model.ir_version)
            && (has_nodes || !model.opset_import.is_empty());
        if !plausible {
            return None;
        }
        metadata_strings(input.source, cx);
        let mut walk = Walk::new(&model);
        if let Some(graph) = &model.graph {
            walk.graph(graph, 0);
        }
        for info in &model.training_info {
            for graph in [&info.initialization, &info.algorithm]
                .into_iter()
                .flatten()
            {
                walk.graph(graph, 0);
            }
        }
        for function in &model.functions {
            walk.function(function);
        }
        walk.check_external_files(cx);
        walk.report(&model, cx);
        Some(Format::Onnx)
    }
}

impl OnnxAnalyzer {
    /// The domains a stock runtime resolves ([`KNOWN_DOMAINS`]).
    #[cfg(test)]
    pub(crate) const KNOWN_DOMAINS: &[&str] = KNOWN_DOMAINS;

    /// The model as aigis reads it (what the loader differential compares with `onnx.load`).
    #[cfg(test)]
    pub(crate) fn read(source: &dyn ByteSource) -> Result<ModelProto, String> {
        let limits = PruneLimits {
            max_depth: MAX_MESSAGE_DEPTH,
            max_output: 64 << 20,
        };
        read_model(source, limits).map_err(|err| match err {
            ReadError::Prune(err) => err.to_string(),
            ReadError::Decode(err) => err.to_string(),
        })
    }
}

/// Why a model could not be read.
enum ReadError {
    Prune(PruneError),
    Decode(aigis_proto::prost::DecodeError),
}

/// The `ModelProto` in `source`, pruned to its structure (see [`protobuf::prune`]) and decoded.
fn read_model(source: &dyn ByteSource, limits: PruneLimits) -> Result<ModelProto, ReadError> {
    let pruned = protobuf::prune(source, &MODEL, limits).map_err(ReadError::Prune)?;
    ModelProto::decode(pruned.as_slice()).map_err(ReadError::Decode)
}

/// Reports why pruning a protobuf failed: a limit (`RESOURCE-LIMIT`), an I/O error, or corrupt
/// bytes (`FORMAT-MALFORMED`); all make the file invalid.
pub fn report_prune_error(what: &str, err: &PruneError, cx: &mut Context<'_>) {
    match err {
        PruneError::Io(io) => cx.read_error(io),
        PruneError::TooDeep(_) | PruneError::TooLarge(_) => {
            cx.malformed(RuleId::ResourceLimit, format!("{what}: {err}"), None);
        }
        PruneError::Corrupt { offset, .. } => {
            cx.malformed(
                RuleId::FormatMalformed,
                format!("{what}: {err}"),
                Some(*offset),
            );
        }
    }
}

/// Whether the head is the start of a `ModelProto`: every field in it fits the schema (in any
/// order: protobuf allows it and `onnx.load` reads it so). Whether the model has the
/// `ir_version` runtimes require is checked on the whole message, by [`has_ir_version`].
fn looks_like_model(head: &[u8], len: u64) -> bool {
    let Some((number, _, _)) = protobuf::first_field(head) else {
        return false;
    };
    if MODEL.field(number).is_none() {
        return false;
    }
    let Some(found) = protobuf::head_matches(head, &MODEL, 3) else {
        return false;
    };
    found.fields >= 3 || (found.complete && head.len() as u64 == len && found.fields >= 2)
}

/// Whether the message has a plausible `ir_version` (field 1) among its top-level fields,
/// wherever it stands.
fn has_ir_version(source: &dyn ByteSource) -> bool {
    protobuf::top_level_fields(source, 4096)
        .iter()
        .any(|&(number, wire, value)| {
            number == 1 && wire == 0 && (1..=MAX_IR_VERSION as u64).contains(&value)
        })
}

/// Checks the model's `doc_string` (field 6) and `metadata_props` (field 14, `key`/`value`
/// entries) for secrets and network indicators. Walks the top-level fields through small reads;
/// every other body is skipped by its length, never read.
fn metadata_strings(source: &dyn ByteSource, cx: &mut Context<'_>) {
    const MAX_BODY: u64 = 1 << 20;
    let end = source.len();
    let mut pos = 0u64;
    for _ in 0..4096 {
        if pos >= end {
            break;
        }
        let Ok(head) = source.read_vec(pos, 20) else {
            break;
        };
        let mut at = 0usize;
        let Some(key) = protobuf::read_varint(&head, &mut at) else {
            break;
        };
        let (number, wire) = (key >> 3, key & 7);
        let skip = match wire {
            0 => {
                if protobuf::read_varint(&head, &mut at).is_none() {
                    break;
                }
                0
            }
            1 => 8,
            5 => 4,
            2 => {
                let Some(len) = protobuf::read_varint(&head, &mut at) else {
                    break;
                };
                len
            }
            _ => break,
        };
        let body_at = pos + at as u64;
        if wire == 2 && (number == 6 || number == 14) && skip <= MAX_BODY {
            let Ok(body) = source.read_vec(body_at, skip as usize) else {
                break;
            };
            if number == 6 {
                let text = String::from_utf8_lossy(&body);
                secrets::check_value(cx, Place::Metadata, "ONNX doc_string", &text, Some(body_at));
            } else {
                let mut key = String::new();
                let mut value = String::new();
                let mut i = 0usize;
                while i < body.len() {
                    let Some(k) = protobuf::read_varint(&body, &mut i) else {
                        break;
                    };
                    if k & 7 != 2 {
                        break;
                    }
                    let Some(len) = protobuf::read_varint(&body, &mut i) else {
                        break;
                    };
                    let Some(bytes) = usize::try_from(len)
                        .ok()
                        .and_then(|len| body.get(i..i.checked_add(len)?))
                    else {
                        break;
                    };
                    i += bytes.len();
                    match k >> 3 {
                        1 => key = String::from_utf8_lossy(bytes).into_owned(),
                        2 => value = String::from_utf8_lossy(bytes).into_owned(),
                        _ => {}
                    }
                }
                let field = format!("ONNX metadata_props `{key}`");
                secrets::check_value(cx, Place::Metadata, &field, &value, Some(body_at));
                if secrets::worth_checking(&key) {
                    secrets::check_value(
                        cx,
                        Place::Metadata,
                        "ONNX metadata_props key",
                        &key,
                        Some(body_at),
                    );
                }
            }
        }
        pos = body_at.saturating_add(skip);
    }
}

/// Why an external-data location escapes the model folder, if it does.
pub fn location_escape(location: &str) -> Option<&'static str> {
    let bytes = location.as_bytes();
    if location.contains('\0') {
        return Some("contains a NUL byte");
    }
    if location.starts_with('/') || location.starts_with('\\') {
        return Some("is an absolute path");
    }
    if bytes.len() >= 2 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':' {
        return Some("is a Windows drive path");
    }
    if location.contains("://") {
        return Some("is a URL");
    }
    if location.split(['/', '\\']).any(|part| part == "..") {
        return Some("climbs out of the model folder with `..`");
    }
    None
}

/// ONNX `TensorProto.DataType` names.
fn dtype_name(code: i32) -> Option<&'static str> {
    Some(match code {
        1 => "float32",
        2 => "uint8",
        3 => "int8",
        4 => "uint16",
        5 => "int16",
        6 => "int32",
        7 => "int64",
        8 => "string",
        9 => "bool",
        10 => "float16",
        11 => "float64",
        12 => "uint32",
        13 => "uint64",
        14 => "complex64",
        15 => "complex128",
        16 => "bfloat16",
        17 => "float8e4m3fn",
        18 => "float8e4m3fnuz",
        19 => "float8e5m2",
        20 => "float8e5m2fnuz",
        21 => "uint4",
        22 => "int4",
        23 => "float4e2m1",
        _ => return None,
    })
}

/// What the graph walk collects.
struct Walk {
    /// Model-local functions (domain, name): nodes that call them need no custom op library.
    local_functions: BTreeSet<(String, String)>,
    operators: BTreeSet<String>,
    custom_ops: BTreeMap<String, String>,
    escapes: Vec<(String, String, &'static str)>,
    external_files: BTreeSet<String>,
    /// External data inside the model folder: tensor, location, offset, length (bounded).
    external_ranges: Vec<(String, String, u64, Option<u64>)>,
    /// Tensors whose declared dims are negative or multiply past `i64::MAX` elements.
    impossible_shapes: Vec<(String, Vec<i64>)>,
    parameters: u64,
    dtypes: BTreeSet<&'static str>,
    too_deep: bool,
}

impl Walk {
    fn new(model: &ModelProto) -> Walk {
        Walk {
            local_functions: model
                .functions
                .iter()
                .map(|f| (f.domain.clone(), f.name.clone()))
                .collect(),
            operators: BTreeSet::new(),
            custom_ops: BTreeMap::new(),
            escapes: Vec::new(),
            external_files: BTreeSet::new(),
            external_ranges: Vec::new(),
            impossible_shapes: Vec::new(),
            parameters: 0,
            dtypes: BTreeSet::new(),
            too_deep: false,
        }
    }

    fn graph(&mut self, graph: &GraphProto, depth: usize) {
        if depth > MAX_GRAPH_DEPTH {
            self.too_deep = true;
            return;
        }
        for tensor in &graph.initializer {
            self.tensor(tensor, true);
        }
        for sparse in &graph.sparse_initializer {
            for tensor in [&sparse.values, &sparse.indices].into_iter().flatten() {
                self.tensor(tensor, false);
            }
        }
        for node in &graph.node {
            self.node(node, &graph.name, depth);
        }
    }

    fn function(&mut self, function: &FunctionProto) {
        let name = format!("{}.{}", function.domain, function.name);
        for node in &function.node {
            self.node(node, &name, 0);
        }
    }

    fn node(&mut self, node: &NodeProto, graph: &str, depth: usize) {
        let standard = node.domain.is_empty() || node.domain == "ai.onnx";
        let op = if standard {
            node.op_type.clone()
        } else {
            format!("{}.{}", node.domain, node.op_type)
        };
        // A model-local function is called by its (domain, name); any other operator of its
        // domain still needs a library.
        let local = self
            .local_functions
            .iter()
            .any(|(domain, name)| *domain == node.domain && *name == node.op_type);
        if !KNOWN_DOMAINS.contains(&node.domain.as_str()) && !local {
            let name = if node.name.is_empty() {
                graph
            } else {
                &node.name
            };
            self.custom_ops
                .entry(op.clone())
                .or_insert_with(|| name.to_string());
        }
        self.operators.insert(op);
        for attribute in &node.attribute {
            let tensors = attribute.t.iter().chain(&attribute.tensors);
            let sparse = attribute
                .sparse_tensor
                .iter()
                .chain(&attribute.sparse_tensors);
            for tensor in tensors.chain(sparse.flat_map(|s| s.values.iter().chain(&s.indices))) {
                self.tensor(tensor, false);
            }
            for graph in attribute.g.iter().chain(&attribute.graphs) {
                self.graph(graph, depth + 1);
            }
        }
    }

    fn tensor(&mut self, tensor: &TensorProto, parameter: bool) {
        // ONNX caps a tensor at i64::MAX elements; runtimes multiply dims with unchecked
        // arithmetic, so a larger declared shape is how size computations are overflowed.
        let elements = tensor.dims.iter().try_fold(1i64, |acc, &d| {
            (d >= 0).then_some(()).and_then(|()| acc.checked_mul(d))
        });
        if elements.is_none() && self.impossible_shapes.len() < MAX_LISTED {
            let dims = tensor.dims.iter().take(8).copied().collect();
            self.impossible_shapes.push((tensor.name.clone(), dims));
        }
        if parameter {
            let count = tensor.dims.iter().try_fold(1u64, |acc, &d| {
                u64::try_from(d).ok().and_then(|d| acc.checked_mul(d))
            });
            self.parameters = self.parameters.saturating_add(count.unwrap_or(0));
            if let Some(name) = dtype_name(tensor.data_type) {
                self.dtypes.insert(name);
            }
        }
        // `onnx.load` (`ExternalDataInfo`) and ONNX Runtime take the last `location` entry,
        // onnx's checker resolves each: every one that escapes is reported, the last is read.
        let mut location = None;
        for entry in tensor.external_data.iter().filter(|e| e.key == "location") {
            let escape = location_escape(&entry.value);
            if let Some(why) = escape
                && self.escapes.len() < MAX_LISTED
            {
                self.escapes
                    .push((tensor.name.clone(), entry.value.clone(), why));
            }
            location = Some((entry.value.as_str(), escape));
        }
        match location {
            None | Some((_, Some(_))) => {}
            Some((location, None)) => {
                if self.external_files.len() < MAX_LISTED {
                    self.external_files.insert(location.to_string());
                }
                // `ExternalDataInfo`: `int(value)` of the `offset` and `length` entries.
                let number = |key: &str| {
                    tensor
                        .external_data
                        .iter()
                        .rev()
                        .find(|entry| entry.key == key)
                        .and_then(|entry| entry.value.trim().parse::<u64>().ok())
                };
                if self.external_ranges.len() < MAX_RANGES {
                    self.external_ranges.push((
                        tensor.name.clone(),
                        location.to_string(),
                        number("offset").unwrap_or(0),
                        number("length").filter(|&l| l > 0),
                    ));
                }
            }
        }
    }

    /// External data as the runtime reads it from the model's folder: a data file that is
    /// missing, or a tensor's `offset` + `length` past its end, makes `onnx.load` or ONNX
    /// Runtime refuse the model (invalid). Inside an archive nothing can be checked.
    fn check_external_files(&self, cx: &mut Context<'_>) {
        if cx.depth() != 0 || self.external_ranges.is_empty() {
            return;
        }
        let Some(dir) = cx
            .file_path()
            .and_then(|p| p.parent())
            .map(|d| d.to_path_buf())
        else {
            return;
        };
        let mut sizes: BTreeMap<&str, Option<u64>> = BTreeMap::new();
        let mut problems = 0usize;
        for (tensor, location, offset, length) in &self.external_ranges {
            let size = *sizes.entry(location.as_str()).or_insert_with(|| {
                let path = dir.join(location);
                cx.consult(&path);
                std::fs::metadata(&path)
                    .ok()
                    .filter(|m| m.is_file())
                    .map(|m| m.len())
            });
            let tensor = crate::analyzers::callables::clip(tensor, 100);
            let location = crate::analyzers::callables::clip(location, 200);
            let msg = match size {
                None => format!(
                    "tensor `{tensor}` takes its data from `{location}`, which is not a file beside \
                     the model: onnx.load refuses the model"
                ),
                Some(size) if offset.saturating_add(length.unwrap_or(0)) > size => format!(
                    "tensor `{tensor}` reads bytes {offset}..{} of `{location}`, which has {size} \
                     bytes: onnx.load and ONNX Runtime refuse the model",
                    offset.saturating_add(length.unwrap_or(0))
                ),
                Some(_) => continue,
            };
            problems += 1;
            if problems <= MAX_LISTED {
                cx.malformed(RuleId::FormatMalformed, msg, None);
            }
        }
    }

    fn report(self, model: &ModelProto, cx: &mut Context<'_>) {
        for (tensor, dims) in &self.impossible_shapes {
            let msg = format!(
                "tensor `{}` declares dims {dims:?}: negative or more than 2^63 elements, which no valid model has (size computations overflow)",
                crate::analyzers::callables::clip(tensor, 100)
            );
            cx.malformed(RuleId::FormatMalformed, msg, None);
        }
        for (tensor, location, why) in &self.escapes {
            let msg = format!(
                "tensor `{tensor}` takes its data from external file `{location}`, which {why}: loading the model reads an arbitrary file of the host"
            );
            cx.report(RuleId::OnnxExternalDataEscape, msg, None);
        }
        for (op, node) in self.custom_ops.iter().take(MAX_LISTED) {
            let msg = format!(
                "operator `{op}` (node `{node}`) is outside the standard ONNX and ONNX Runtime domains: running the model needs a custom op library"
            );
            cx.report(RuleId::OnnxCustomOp, msg, None);
        }
        if self.custom_ops.len() > MAX_LISTED {
            let msg = format!(
                "{} more custom operators not listed",
                self.custom_ops.len() - MAX_LISTED
            );
            cx.report(RuleId::OnnxCustomOp, msg, None);
        }
        for function in model.functions.iter().take(MAX_LISTED) {
            let msg = format!(
                "model-local function `{}.{}` ({} nodes) is defined in the file and runs as an operator",
                function.domain,
                function.name,
                function.node.len()
            );
            cx.report(RuleId::OnnxCustomOp, msg, None);
        }
        if self.too_deep {
            let finding = Finding::new(
                RuleId::ResourceLimit,
                format!("subgraphs nested deeper than {MAX_GRAPH_DEPTH} levels were not walked"),
            );
            cx.record(finding.with_severity(Severity::Medium), None);
        }
        let info = cx.model();
        info.set_framework("onnx");
        info.operators.extend(self.operators);
        info.dtypes
            .extend(self.dtypes.iter().map(|d| (*d).to_string()));
        if self.parameters > 0 {
            info.add_parameters(self.parameters);
        }
        let meta = &mut info.metadata;
        meta.insert("ir_version".into(), model.ir_version.to_string());
        let texts = [
            ("producer_name", &model.producer_name),
            ("producer_version", &model.producer_version),
            ("domain", &model.domain),
        ];
        for (key, value) in texts {
            if !value.is_empty() {
                meta.insert(key.into(), value.clone());
            }
        }
        if let Some(graph) = model.graph.as_ref().filter(|g| !g.name.is_empty()) {
            meta.insert("graph_name".into(), graph.name.clone());
        }
        let opsets: Vec<String> = model
            .opset_import
            .iter()
            .map(|o| {
                let domain = if o.domain.is_empty() {
                    "ai.onnx"
                } else {
                    &o.domain
                };
                format!("{domain}={}", o.version)
            })
            .collect();
        if !opsets.is_empty() {
            meta.insert("opset_import".into(), opsets.join(","));
        }
        if !self.external_files.is_empty() {
            let files: Vec<&str> = self.external_files.iter().map(String::as_str).collect();
            meta.insert("external_data".into(), files.join(","));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aigis_proto::onnx::{OperatorSetIdProto, StringStringEntryProto};

    fn model_bytes(location: Option<&str>, domain: &str) -> Vec<u8> {
        let tensor = TensorProto {
            dims: vec![2, 3],
            data_type: 1,
            name: "w".into(),
            external_data: location
                .map(|l| StringStringEntryProto {
                    key: "location".into(),
                    value: l.into(),
                })
                .into_iter()
                .collect(),
            data_location: i32::from(location.is_some()),
        };
        let node = NodeProto {
            name: "n".into(),
            op_type: "Relu".into(),
            domain: domain.into(),
            attribute: vec![],
        };
        ModelProto {
            ir_version: 9,
            producer_name: "test".into(),
            opset_import: vec![OperatorSetIdProto {
                domain: String::new(),
                version: 17,
            }],
            graph: Some(GraphProto {
                node: vec![node],
                name: "g".into(),
                initializer: vec![tensor],
                sparse_initializer: vec![],
            }),
            ..Default::default()
        }
        .encode_to_vec()
    }

    #[test]
    fn sniff_accepts_models_and_rejects_other_protobufs() {
        let bytes = model_bytes(None, "");
        assert!(looks_like_model(&bytes, bytes.len() as u64));
        // A SavedModel: schema version 1, then a MetaGraphDef (not text) as field 2.
        let saved = [0x08, 0x01, 0x12, 0x04, 0x0a, 0x02, 0x0a, 0x00];
        assert!(!looks_like_model(&saved, saved.len() as u64));
        assert!(!looks_like_model(b"\x08\xff\xff\x03", 4));
    }

    #[test]
    fn locations_that_escape() {
        for bad in [
            "/etc/passwd",
            "../x",
            "a/../../b",
            "..\\x",
            "C:\\x",
            "file:///x",
            "\\\\host\\x",
        ] {
            assert!(location_escape(bad).is_some(), "{bad}");
        }
        for ok in ["weights.bin", "data/weights.bin", "a..b", "./w.bin"] {
            assert!(location_escape(ok).is_none(), "{ok}");
        }
    }

    #[test]
    fn external_data_and_custom_domains_are_found_after_pruning() {
        let bytes = model_bytes(Some("../../etc/passwd"), "com.example");
        let source = crate::MemorySource::new(bytes);
        let limits = PruneLimits {
            max_depth: MAX_MESSAGE_DEPTH,
            max_output: 1 << 20,
        };
        let pruned = protobuf::prune(&source, &MODEL, limits).ok();
        let model = pruned.and_then(|p| ModelProto::decode(p.as_slice()).ok());
        let Some(model) = model else {
            panic!("model did not round-trip");
        };
        let mut walk = Walk::new(&model);
        walk.graph(model.graph.as_ref().expect("graph"), 0);
        assert_eq!(walk.escapes.len(), 1);
        assert_eq!(walk.parameters, 6);
        assert!(walk.custom_ops.contains_key("com.example.Relu"));
    }

    /// Every prefix and byte flip of a real model is pruned and decoded without panicking.
    #[test]
    fn mutated_models_never_panic() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../fixtures/onnx/external_in_if_branch.onnx"
        );
        let Ok(bytes) = std::fs::read(path) else {
            panic!("missing fixture {path}");
        };
        let limits = PruneLimits {
            max_depth: MAX_MESSAGE_DEPTH,
            max_output: 1 << 20,
        };
        let run = |data: Vec<u8>| {
            let head = data
                .get(..data.len().min(4096))
                .unwrap_or_default()
                .to_vec();
            let _ = looks_like_model(&head, data.len() as u64);
            let pruned = protobuf::prune(&crate::MemorySource::new(data), &MODEL, limits);
            if let Ok(model) = pruned.map(|p| ModelProto::decode(p.as_slice())) {
                let _ = model.map(|m| {
                    m.graph
                        .map(|g| Walk::new(&ModelProto::default()).graph(&g, 0))
                });
            }
        };
        run(bytes.clone());
        for cut in 0..bytes.len() {
            run(bytes[..cut].to_vec());
        }
        for at in 0..bytes.len() {
            let mut copy = bytes.clone();
            copy[at] ^= 0x5A;
            run(copy);
        }
    }
}
