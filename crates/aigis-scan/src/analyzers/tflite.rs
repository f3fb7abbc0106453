//! TensorFlow Lite flatbuffers (file identifier `TFL3` at offset 4).
//!
//! The reader is our own, over [`ByteSource`]: the generated code of both flatbuffer compilers
//! (`flatc` for the `flatbuffers` crate, and `planus`) contains `unsafe`, which the workspace
//! forbids. It reads this subset of the TFLite schema (field slots of `schema.fbs` v3):
//!
//! ```text
//! table Model        { version:uint; operator_codes:[OperatorCode]; subgraphs:[SubGraph]; description:string; }
//! table SubGraph     { tensors; inputs; outputs; operators:[Operator]; name:string; }   // slots 0-2 unread
//! table Operator     { opcode_index:uint; }
//! table OperatorCode { deprecated_builtin_code:byte; custom_code:string; version:int; builtin_code:int; }
//! ```
//!
//! Every offset is checked against the file length; vectors are checked against the bytes they
//! claim; the operators visited are capped ([`MAX_OPERATORS`]) because aliased vectors could make
//! a small file describe a quadratic number of them. Tensor buffers are never read.
//!
//! Findings: Flex ops (`Flex<TFOp>`, TensorFlow ops run by the Flex delegate) are judged like
//! SavedModel ops (`TF-DANGEROUS-OP` for file/network/Python ops, `TF-CUSTOM-OP` for names that
//! are not TensorFlow ops); other custom ops are `TF-CUSTOM-OP` (medium) unless they are in
//! [`KNOWN_CUSTOM_OPS`].

use super::tf;
use crate::analyzer::{Analyzer, Context, Input};
use crate::{ByteSource, Finding, Format, RuleId};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::OnceLock;

/// Custom ops that TensorFlow Lite or MediaPipe ship kernels for and that their published models
/// use; they need no third-party library.
pub const KNOWN_CUSTOM_OPS: &[&str] = &[
    // TensorFlow Lite (tensorflow/lite/kernels, registered by the default op resolvers).
    "TFLite_Detection_PostProcess",
    "AudioSpectrogram",
    "Mfcc",
    "Rfft2d",
    "ImageProjectiveTransformV2",
    "ImageProjectiveTransformV3",
    "MaxPoolWithArgmax",
    "NumericVerify",
    // MediaPipe (mediapipe/util/tflite/operations, registered by its op resolver).
    "Convolution2DTransposeBias",
    "MaxPoolingWithArgmax2D",
    "MaxUnpooling2D",
    "TransformTensorBilinear",
    "TransformLandmarks",
    "Landmarks2TransformMatrix",
];

/// Builtin code of `CUSTOM` in `BuiltinOperator`.
const CUSTOM: i32 = 32;
/// Operators visited across all subgraphs.
pub const MAX_OPERATORS: u64 = 4_000_000;
/// Subgraphs read.
const MAX_SUBGRAPHS: u32 = 100_000;
/// Operator codes read.
const MAX_CODES: u32 = 100_000;
/// Longest custom op name read.
const MAX_NAME: u32 = 4096;
/// Findings of one kind listed individually.
const MAX_LISTED: usize = 32;

/// TFLite builtin op names by code (`data/tflite_builtin_ops.txt`).
fn builtin_names() -> &'static HashMap<i32, &'static str> {
    static NAMES: OnceLock<HashMap<i32, &'static str>> = OnceLock::new();
    NAMES.get_or_init(|| {
        include_str!("data/tflite_builtin_ops.txt")
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| {
                let (code, name) = l.trim().split_once(' ')?;
                Some((code.parse().ok()?, name))
            })
            .collect()
    })
}

/// A structural error with the offset where it was found.
#[derive(Debug)]
struct Corrupt(String, u64);

type Read<T> = Result<T, Corrupt>;

/// Bounds-checked flatbuffer primitives over a byte source.
struct Flat<'a> {
    source: &'a dyn ByteSource,
}

impl Flat<'_> {
    fn bytes<const N: usize>(&self, at: u64) -> Read<[u8; N]> {
        let mut buf = [0u8; N];
        let end = at.checked_add(N as u64);
        if end.is_none_or(|end| end > self.source.len()) {
            return Err(Corrupt(format!("{N}-byte read past the end"), at));
        }
        let mut filled = 0;
        while filled < N {
            let got = self
                .source
                .read_at(at + filled as u64, &mut buf[filled..])
                .map_err(|e| Corrupt(format!("read failed: {e}"), at))?;
            if got == 0 {
                return Err(Corrupt("read past the end".into(), at));
            }
            filled += got;
        }
        Ok(buf)
    }

    fn u32(&self, at: u64) -> Read<u32> {
        self.bytes::<4>(at).map(u32::from_le_bytes)
    }

    fn u16(&self, at: u64) -> Read<u16> {
        self.bytes::<2>(at).map(u16::from_le_bytes)
    }

    /// Follows the unsigned offset stored at `at`.
    fn follow(&self, at: u64) -> Read<u64> {
        let rel = self.u32(at)?;
        let target = at + u64::from(rel);
        if rel == 0 || target >= self.source.len() {
            return Err(Corrupt(format!("offset {rel} points outside the file"), at));
        }
        Ok(target)
    }

    /// Position of field `slot` of the table at `table`, if present.
    fn field(&self, table: u64, slot: u16) -> Read<Option<u64>> {
        let soffset = i64::from(self.u32(table)? as i32);
        let vtable = u64::try_from(i64::try_from(table).unwrap_or(i64::MAX) - soffset)
            .ok()
            .filter(|v| *v < self.source.len())
            .ok_or_else(|| Corrupt("vtable outside the file".into(), table))?;
        let vtable_len = self.u16(vtable)?;
        let entry = 4 + 2 * slot;
        if entry >= vtable_len {
            return Ok(None);
        }
        let at = self.u16(vtable + u64::from(entry))?;
        Ok((at != 0).then(|| table + u64::from(at)))
    }

    /// The vector whose offset is stored in field `slot`: (first element, length).
    fn vector(&self, table: u64, slot: u16, elem: u64, max: u32) -> Read<Option<(u64, u32)>> {
        let Some(at) = self.field(table, slot)? else {
            return Ok(None);
        };
        let start = self.follow(at)?;
        let len = self.u32(start)?;
        let bytes = u64::from(len) * elem;
        if start + 4 + bytes > self.source.len() {
            return Err(Corrupt(
                format!("vector of {len} elements past the end"),
                start,
            ));
        }
        if len > max {
            return Err(Corrupt(
                format!("vector of {len} elements exceeds {max}"),
                start,
            ));
        }
        Ok(Some((start + 4, len)))
    }

    fn string(&self, table: u64, slot: u16) -> Read<Option<String>> {
        let Some((start, len)) = self.vector(table, slot, 1, MAX_NAME)? else {
            return Ok(None);
        };
        let bytes = self
            .source
            .read_vec(start, len as usize)
            .map_err(|e| Corrupt(format!("read failed: {e}"), start))?;
        Ok(Some(String::from_utf8_lossy(&bytes).into_owned()))
    }

    fn scalar_i32(&self, table: u64, slot: u16) -> Read<Option<i32>> {
        self.field(table, slot)?
            .map(|at| self.u32(at).map(|v| v as i32))
            .transpose()
    }

    fn scalar_i8(&self, table: u64, slot: u16) -> Read<Option<i8>> {
        self.field(table, slot)?
            .map(|at| self.bytes::<1>(at).map(|b| b[0] as i8))
            .transpose()
    }
}

/// What the model declares.
#[derive(Debug, Default)]
struct Model {
    /// Per operator code: builtin code and custom name.
    codes: Vec<(i32, Option<String>)>,
    /// Codes used by at least one operator.
    used: BTreeSet<u32>,
    subgraphs: u32,
    operators: u64,
    bad_index: Option<u32>,
    truncated_walk: bool,
    description: Option<String>,
}

fn read_model(source: &dyn ByteSource) -> Read<Model> {
    let flat = Flat { source };
    let root = flat.follow(0)?;
    let mut model = Model::default();
    if let Some((start, len)) = flat.vector(root, 1, 4, MAX_CODES)? {
        for i in 0..u64::from(len) {
            let code = flat.follow(start + 4 * i)?;
            let deprecated = flat.scalar_i8(code, 0)?.unwrap_or(0);
            let builtin = flat.scalar_i32(code, 3)?.unwrap_or(0);
            let custom = flat.string(code, 1)?;
            model
                .codes
                .push((builtin.max(i32::from(deprecated)), custom));
        }
    }
    if let Some((start, len)) = flat.vector(root, 2, 4, MAX_SUBGRAPHS)? {
        model.subgraphs = len;
        'subgraphs: for i in 0..u64::from(len) {
            let subgraph = flat.follow(start + 4 * i)?;
            let Some((ops, count)) = flat.vector(subgraph, 3, 4, u32::MAX)? else {
                continue;
            };
            for j in 0..u64::from(count) {
                if model.operators >= MAX_OPERATORS {
                    model.truncated_walk = true;
                    break 'subgraphs;
                }
                model.operators += 1;
                let op = flat.follow(ops + 4 * j)?;
                let index = match flat.field(op, 0)? {
                    Some(at) => flat.u32(at)?,
                    None => 0,
                };
                if index as usize >= model.codes.len() {
                    model.bad_index.get_or_insert(index);
                } else {
                    model.used.insert(index);
                }
            }
        }
    }
    model.description = flat.string(root, 3)?;
    Ok(model)
}

/// Analyzer for TensorFlow Lite models.
pub struct TfliteAnalyzer;

impl Analyzer for TfliteAnalyzer {
    fn id(&self) -> &'static str {
        "tflite"
    }

    fn version(&self) -> u32 {
        1
    }

    fn sniff(&self, head: &[u8], _len: u64) -> bool {
        head.get(4..8) == Some(b"TFL3")
    }

    fn analyze(&self, input: &Input<'_>, cx: &mut Context<'_>) -> Option<Format> {
        let model = match read_model(input.source) {
            Ok(model) => model,
            Err(Corrupt(what, at)) => {
                cx.malformed(
                    RuleId::FormatMalformed,
                    format!("TFLite flatbuffer: {what}"),
                    Some(at),
                );
                return Some(Format::Tflite);
            }
        };
        if let Some(index) = model.bad_index {
            let msg = format!(
                "TFLite flatbuffer: an operator uses opcode index {index}, but the model declares {} operator codes",
                model.codes.len()
            );
            cx.malformed(RuleId::FormatMalformed, msg, None);
        }
        if model.truncated_walk {
            let msg = format!("more than {MAX_OPERATORS} operators; the rest were not read");
            cx.malformed(RuleId::ResourceLimit, msg, None);
        }
        report(&model, cx);
        Some(Format::Tflite)
    }
}

fn report(model: &Model, cx: &mut Context<'_>) {
    let names = builtin_names();
    let mut operators = BTreeSet::new();
    let mut custom = BTreeMap::new();
    // Every declared code is judged, used or not: a converter declares only codes it uses.
    for (builtin, name) in &model.codes {
        if *builtin != CUSTOM {
            let op = names
                .get(builtin)
                .map_or_else(|| format!("BUILTIN_{builtin}"), |n| (*n).to_string());
            operators.insert(op);
            continue;
        }
        let name = name.clone().unwrap_or_default();
        operators.insert(name.clone());
        if let Some(tf_op) = name.strip_prefix("Flex") {
            if let Some((severity, what)) = tf::dangerous_op(tf_op, &HashMap::new()) {
                let msg = format!(
                    "Flex op `{name}` runs TensorFlow op `{tf_op}`, which {what}: running the model does it on the host"
                );
                cx.record(
                    Finding::new(RuleId::TfDangerousOp, msg).with_severity(severity),
                    None,
                );
                continue;
            }
            if tf::is_standard_op(tf_op) {
                continue;
            }
        } else if KNOWN_CUSTOM_OPS.contains(&name.as_str()) {
            continue;
        }
        custom.insert(name, ());
    }
    for name in custom.keys().take(MAX_LISTED) {
        let msg = format!(
            "custom op `{name}` is not part of TensorFlow Lite: running the model needs a kernel registered by native code"
        );
        cx.report(RuleId::TfCustomOp, msg, None);
    }
    if custom.len() > MAX_LISTED {
        let msg = format!("{} more custom ops not listed", custom.len() - MAX_LISTED);
        cx.report(RuleId::TfCustomOp, msg, None);
    }
    let info = cx.model();
    info.set_framework("tflite");
    info.operators.extend(operators);
    info.metadata
        .insert("subgraphs".into(), model.subgraphs.to_string());
    if let Some(description) = model.description.as_ref().filter(|d| !d.is_empty()) {
        info.metadata
            .insert("description".into(), description.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MemorySource;

    #[test]
    fn builtin_names_load() {
        assert_eq!(builtin_names().get(&0), Some(&"ADD"));
        assert_eq!(builtin_names().get(&CUSTOM), Some(&"CUSTOM"));
    }

    #[test]
    fn hostile_offsets_are_errors_not_panics() {
        let mut bytes = vec![0u8; 64];
        bytes[0..4].copy_from_slice(&u32::MAX.to_le_bytes());
        bytes[4..8].copy_from_slice(b"TFL3");
        assert!(read_model(&MemorySource::new(bytes.clone())).is_err());
        // Root table at 8 whose vtable offset points before the file.
        bytes[0..4].copy_from_slice(&8u32.to_le_bytes());
        bytes[8..12].copy_from_slice(&100i32.to_le_bytes());
        assert!(read_model(&MemorySource::new(bytes)).is_err());
    }

    /// Every prefix and byte flip of a small model must be handled without panicking.
    #[test]
    fn mutated_models_never_panic() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../fixtures/tflite/dense.tflite"
        );
        let Ok(bytes) = std::fs::read(path) else {
            panic!("missing fixture {path}");
        };
        let model = read_model(&MemorySource::new(bytes.clone()));
        assert!(model.is_ok_and(|m| !m.codes.is_empty() && !m.used.is_empty()));
        for cut in (0..bytes.len()).step_by(7) {
            let _ = read_model(&MemorySource::new(bytes[..cut].to_vec()));
        }
        for at in 0..bytes.len().min(2048) {
            let mut copy = bytes.clone();
            copy[at] ^= 0xA5;
            let _ = read_model(&MemorySource::new(copy));
        }
    }
}
