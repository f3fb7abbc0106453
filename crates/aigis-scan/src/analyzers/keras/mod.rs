//! Keras models: the Keras 3 `.keras` zip (`config.json`, `metadata.json`, `model.weights.h5`)
//! and the legacy HDF5 file (root attributes `model_config`, `training_config`,
//! `keras_version`, `backend`). Both carry a JSON config that the loader turns into objects by
//! importing what it names; [`config`] judges it.
//!
//! An HDF5 file without Keras attributes (plain weights, a scientific data set) is declined:
//! it is not a format that runs code, and `.keras` archives hold exactly such a weights file.
//! An HDF5 file that does not parse, or whose superblock says it is longer than it is, is an
//! invalid `keras-h5`: the HDF5 magic is its claim (found where libhdf5 finds it, past a user
//! block of any size). The root attributes are read as h5py and the loader read them ([`hdf5`]):
//! a config the loader cannot read makes the file invalid, and is judged all the same.

mod config;
pub(crate) mod hdf5;
pub(crate) mod marshal;
mod prune;

pub(crate) use config::{check_keras2_objects, parse_python_json};

/// Reads JSON from a stream with the bounded pruning reader ([`prune`]): every object kept,
/// bulk array data dropped. `None` when the result is not JSON or the input is cut by the
/// output or input cap.
pub(crate) fn parse_json_stream(reader: impl std::io::Read, max_input: u64) -> Option<Value> {
    let pruned = prune::prune(reader, 100, max_input);
    if pruned.capped || pruned.read >= max_input {
        return None;
    }
    parse_python_json(&pruned.text).ok().map(|(value, _)| value)
}

use crate::analyzer::{Analyzer, Context, Input};
use crate::analyzers::zip::analyze_index;
use crate::archive::member;
use crate::archive::zip_index::{self, ZipEntry, ZipIndex};
use crate::{ByteSource, Format, RuleId};
use serde_json::Value;

/// Largest `config.json` / `metadata.json` read from a `.keras` zip.
const MAX_CONFIG_BYTES: u64 = 64 << 20;
/// HDF5 members up to this size are read whole; larger ones only when their head mentions a
/// Keras attribute.
const H5_READ_WHOLE: u64 = 16 << 20;
/// Bytes of a large HDF5 member searched for `model_config`.
const H5_PEEK: usize = 1 << 20;
/// HDF5 signature.
const HDF5_MAGIC: &[u8; 8] = b"\x89HDF\r\n\x1a\n";

/// Analyzer for Keras 3 `.keras` zips. Runs before the generic zip analyzer and declines zips
/// that are not Keras models.
pub struct KerasV3Analyzer;

/// Analyzer for legacy Keras HDF5 models.
pub struct KerasH5Analyzer;

/// The member a loader reads as `name`: the one `zipfile` opens, else one a lenient reader
/// takes (see [`ZipIndex::entries_named`]).
fn root_member<'a>(index: &'a ZipIndex, name: &str) -> Option<&'a ZipEntry> {
    index.entries_named(name).into_iter().next()
}

/// A config member read whole, or `TooLarge` without inflating it when its declared size is
/// already past [`MAX_CONFIG_BYTES`] (the caller then walks it as a stream, once). A member
/// whose declared size understates it is still cut at the cap by the read.
fn read_config(source: &dyn ByteSource, entry: &ZipEntry) -> Result<Vec<u8>, member::MemberError> {
    if entry.uncompressed_size > MAX_CONFIG_BYTES {
        return Err(member::MemberError::TooLarge(MAX_CONFIG_BYTES));
    }
    member::read_to_vec(source, entry, MAX_CONFIG_BYTES)
}

fn json_member(source: &dyn ByteSource, index: &ZipIndex, name: &str) -> Option<Value> {
    let entry = root_member(index, name)?;
    let bytes = read_config(source, entry).ok()?;
    parse_python_json(&bytes).ok().map(|(value, _)| value)
}

/// Whether Python's `zipfile` finds an archive in `input` (wherever it starts, whatever
/// follows it): the zip-based model formats are sniffed where their loader finds them.
pub(crate) fn zipfile_finds_archive(input: &Input<'_>, limits: &crate::Limits) -> bool {
    if !zip_index::zipfile_locates(input.source) {
        return false;
    }
    let index = input.zip_index(limits);
    index.entries.iter().any(|e| e.zipfile_order.is_some())
}

/// Whether a zip is a Keras v3 model: `metadata.json` with a `keras_version`, or a
/// `config.json` holding a serialized Keras object (`load_model` reads it first).
pub(crate) fn is_keras_zip(source: &dyn ByteSource, index: &ZipIndex) -> bool {
    let version = json_member(source, index, "metadata.json")
        .is_some_and(|m| m.get("keras_version").and_then(Value::as_str).is_some());
    version
        || index
            .entries_named("config.json")
            .into_iter()
            .any(|e| match read_config(source, e) {
                Ok(bytes) => parse_python_json(&bytes)
                    .is_ok_and(|(v, _)| v.get("class_name").is_some() && v.get("config").is_some()),
                Err(member::MemberError::TooLarge(_)) => true,
                Err(_) => false,
            })
}

fn record_facts(facts: &config::ConfigFacts, cx: &mut Context<'_>) {
    let model = cx.model();
    model.set_framework("keras");
    if let Some(arch) = &facts.architecture {
        model.architecture.get_or_insert_with(|| arch.clone());
    }
    if let Some(name) = &facts.name {
        model
            .metadata
            .entry("model_name".into())
            .or_insert_with(|| name.clone());
    }
    model.operators.extend(facts.layers.iter().cloned());
}

impl Analyzer for KerasV3Analyzer {
    fn id(&self) -> &'static str {
        "keras-v3"
    }

    fn version(&self) -> u32 {
        3
    }

    fn sniff(&self, head: &[u8], _len: u64) -> bool {
        head.starts_with(b"PK\x03\x04") || head.starts_with(b"PK\x05\x06")
    }

    fn sniff_embedded(&self, input: &Input<'_>, limits: &crate::Limits) -> bool {
        zipfile_finds_archive(input, limits) && is_keras_zip(input.source, input.zip_index(limits))
    }

    fn analyze(&self, input: &Input<'_>, cx: &mut Context<'_>) -> Option<Format> {
        let source = input.source;
        let index = input.zip_index(cx.limits());
        let metadata = json_member(source, index, "metadata.json");
        let keras_version = metadata
            .as_ref()
            .and_then(|m| m.get("keras_version"))
            .and_then(Value::as_str)
            .map(str::to_string);
        // Every `config.json`: with duplicates, Python's zipfile reads the last one listed, a
        // lenient reader may take another, so all are judged.
        // The one `zipfile` opens comes first (`ZipIndex::entries_named`), then the members other
        // readers may take for it (a name cut at a NUL, a hidden local entry).
        let configs: Vec<(&ZipEntry, Result<Vec<u8>, member::MemberError>)> = index
            .entries_named("config.json")
            .into_iter()
            .map(|e| (e, read_config(source, e)))
            .collect();
        let zipfile_config = index.zipfile_entry("config.json");
        // `keras.saving.load_model` deserializes `config.json` before it looks at anything
        // else in the zip, so a serialized Keras object there is a Keras model even without
        // `metadata.json` or weights.
        let config_looks_keras = configs.iter().any(|(_, read)| match read {
            Ok(bytes) => parse_python_json(bytes)
                .is_ok_and(|(v, _)| v.get("class_name").is_some() && v.get("config").is_some()),
            // Too large to read whole: its first bytes say whether it is a serialized object.
            Err(member::MemberError::TooLarge(_)) => true,
            Err(_) => false,
        });
        if keras_version.is_none() && !config_looks_keras {
            return None;
        }
        analyze_index(source, index, cx);
        if let Some(version) = &keras_version {
            cx.model()
                .metadata
                .insert("keras_version".into(), version.clone());
        }
        cx.model().set_framework("keras");
        if configs.is_empty() {
            cx.malformed(
                RuleId::FormatMalformed,
                "`.keras` archive has no config.json: Keras cannot load it",
                None,
            );
        }
        if zipfile_config.is_none() && !configs.is_empty() {
            cx.malformed(
                RuleId::FormatMalformed,
                "Python's zipfile lists no `config.json`: keras.saving.load_model fails on this file (another reader may take the member judged below)",
                None,
            );
        }
        for (entry, config) in configs {
            let read_by_zipfile = zipfile_config.is_some_and(|z| std::ptr::eq(z, entry));
            if read_by_zipfile
                && let Ok(bytes) = &config
                && let Some(err) = zip_index::zipfile_read_error(entry, bytes)
            {
                let msg = format!(
                    "Python's zipfile refuses `config.json` ({err}): keras.saving.load_model fails on this file"
                );
                cx.malformed(RuleId::FormatMalformed, msg, None);
            }
            let member_name = if entry.name == "config.json" {
                "config.json".to_string()
            } else {
                entry.name.clone()
            };
            let facts = match config {
                Ok(bytes) => cx.with_member(&member_name, |cx| {
                    config::check_config_text(&bytes, config::Dialect::Keras3, cx)
                }),
                // Larger than any config should be: walked as a stream, never held whole.
                Err(member::MemberError::TooLarge(_)) => match member::stream(source, entry) {
                    Ok(reader) => cx.with_member("config.json", |cx| {
                        let max = cx.limits().max_member_bytes.saturating_mul(4);
                        config::check_config_stream(reader, max, config::Dialect::Keras3, cx)
                    }),
                    Err(err) => {
                        let msg = format!("`config.json` could not be read: {err}");
                        cx.malformed(RuleId::ArchiveMalformed, msg, None);
                        None
                    }
                },
                Err(err) => {
                    cx.malformed(
                        RuleId::ArchiveMalformed,
                        format!("`config.json` could not be read: {err}"),
                        None,
                    );
                    None
                }
            };
            if let Some(facts) = facts {
                record_facts(&facts, cx);
            }
        }
        Some(Format::KerasV3)
    }
}

fn hdf5_start(head: &[u8]) -> Option<u64> {
    [0usize, 512, 1024, 2048]
        .into_iter()
        .find(|at| head.get(*at..at + 8) == Some(HDF5_MAGIC))
        .map(|at| at as u64)
}

fn open_hdf5(input: &Input<'_>, cx: &Context<'_>) -> Option<Result<hdf5_reader::Hdf5File, String>> {
    let source = input.source;
    let options = hdf5_reader::OpenOptions::default();
    if cx.depth() == 0
        && source.as_slice().is_none()
        && let Some(path) = cx.file_path()
    {
        return Some(
            hdf5_reader::Hdf5File::open_with_options(path, options).map_err(|e| e.to_string()),
        );
    }
    if source.len() > H5_READ_WHOLE {
        let head = source.read_vec(0, H5_PEEK).ok()?;
        if !head.windows(12).any(|w| w == b"model_config") {
            return None;
        }
    }
    let cap = usize::try_from(cx.limits().max_member_bytes).unwrap_or(usize::MAX);
    let bytes = match source.read_vec(0, cap) {
        Ok(bytes) => bytes,
        Err(err) => return Some(Err(err.to_string())),
    };
    Some(hdf5_reader::Hdf5File::from_vec_with_options(bytes, options).map_err(|e| e.to_string()))
}

/// Where libhdf5 finds the signature past the head [`Analyzer::sniff`] sees: it searches offset
/// 0 and every power of two from 512 while the signature fits in the file (`H5FD_locate_signature`),
/// so a user block of 4 KiB or more puts it out of the head's reach.
fn hdf5_start_past_head(source: &dyn crate::ByteSource) -> Option<u64> {
    let mut at = crate::analyzer::HEAD_LEN as u64;
    while at.checked_add(8).is_some_and(|end| end <= source.len()) {
        if source.probe(at, 8).ok().as_deref() == Some(&HDF5_MAGIC[..]) {
            return Some(at);
        }
        at = at.checked_mul(2)?;
    }
    None
}

/// Judges the config the loader reads from root attribute `name` ([`hdf5::RootAttributes::reading`]),
/// reporting the file invalid where the loader fails on it, and whatever else the attribute holds
/// (array elements, a second attribute of the name, text the loader refuses to decode) as a
/// lenient reader would take it.
fn judge_attribute(
    attributes: &hdf5::RootAttributes,
    name: &str,
    required: bool,
    cx: &mut Context<'_>,
) -> Option<config::ConfigFacts> {
    let copies = attributes.count(name);
    if copies > 1 {
        let msg = format!(
            "{copies} root attributes are named {name}: libhdf5 reads the first, another reader may take another (all are judged)"
        );
        cx.malformed(RuleId::FormatMalformed, msg, None);
    }
    let mut judged: Option<Vec<u8>> = None;
    let facts = match attributes.reading(name) {
        hdf5::Reading::Absent => {
            if required {
                let msg = format!("Keras HDF5 file has no {name} attribute: load_model fails");
                cx.malformed(RuleId::FormatMalformed, msg, None);
            }
            None
        }
        hdf5::Reading::Refused(why) => {
            let msg = format!("Keras cannot read the {name} attribute: {why}");
            cx.malformed(RuleId::FormatMalformed, msg, None);
            None
        }
        hdf5::Reading::Text(text) => match hdf5::json_loads_str(&text) {
            Ok(json) => {
                let facts = cx.with_member(name, |cx| {
                    config::check_config_text(&json, config::Dialect::Keras2, cx)
                });
                judged = Some(text);
                facts
            }
            Err(why) => {
                let msg = format!("the {name} attribute is not JSON to json.loads: {why}");
                cx.malformed(RuleId::FormatMalformed, msg, None);
                None
            }
        },
    };
    for text in attributes.lenient_texts(name) {
        if judged.as_ref() == Some(&text) {
            continue;
        }
        if let Ok((value, _)) = parse_python_json(&text) {
            cx.with_member(name, |cx| {
                config::check_config(&value, config::Dialect::Keras2, cx)
            });
        }
    }
    facts
}

impl Analyzer for KerasH5Analyzer {
    fn id(&self) -> &'static str {
        "keras-h5"
    }

    fn version(&self) -> u32 {
        4
    }

    fn sniff(&self, head: &[u8], _len: u64) -> bool {
        hdf5_start(head).is_some()
    }

    fn sniff_embedded(&self, input: &Input<'_>, _limits: &crate::Limits) -> bool {
        hdf5_start_past_head(input.source).is_some()
    }

    fn analyze(&self, input: &Input<'_>, cx: &mut Context<'_>) -> Option<Format> {
        let file = match open_hdf5(input, cx)? {
            Ok(file) => file,
            Err(err) => {
                let msg = format!("HDF5 file does not parse: {err}");
                cx.malformed(RuleId::FormatMalformed, msg, None);
                return Some(Format::KerasH5);
            }
        };
        // The stored end-of-file address counts from the start of the file, user block included
        // (libhdf5 writes `eoa + base_addr` and refuses a file shorter than it).
        let claimed = file.superblock().eof_address;
        let attributes = match hdf5::root_attributes(&file) {
            Ok(attributes) => attributes,
            Err(err) => {
                let msg = format!("HDF5 root group attributes do not parse: {err}");
                cx.malformed(RuleId::FormatMalformed, msg, None);
                return Some(Format::KerasH5);
            }
        };
        let truncated = claimed > input.source.len();
        if !attributes.has("model_config") && !attributes.has("keras_version") {
            if truncated {
                let msg = format!(
                    "HDF5 file is truncated: its superblock says {claimed} bytes, the file has {}",
                    input.source.len()
                );
                cx.malformed(RuleId::FormatMalformed, msg, None);
                return Some(Format::KerasH5);
            }
            return None;
        }
        if truncated {
            let msg = format!(
                "Keras HDF5 file is truncated: its superblock says {claimed} bytes, the file has {}",
                input.source.len()
            );
            cx.malformed(RuleId::FormatMalformed, msg, None);
        }
        let text = |name: &str| match attributes.reading(name) {
            hdf5::Reading::Text(text) => String::from_utf8(text).ok(),
            _ => None,
        };
        if let Some(err) = attributes.strict_error() {
            let msg = format!(
                "HDF5 root group attributes do not read as libhdf5 reads them ({err}); what they hold is judged all the same"
            );
            cx.malformed(RuleId::FormatMalformed, msg, None);
        }
        let model = cx.model();
        model.set_framework("keras");
        if let Some(version) = text("keras_version") {
            model.metadata.insert("keras_version".into(), version);
        }
        if let Some(backend) = text("backend") {
            model.metadata.insert("backend".into(), backend);
        }
        if let Some(facts) = judge_attribute(&attributes, "model_config", true, cx) {
            record_facts(&facts, cx);
        }
        judge_attribute(&attributes, "training_config", false, cx);
        Some(Format::KerasH5)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every committed Keras/skops/NeMo/Flax fixture, truncated at many points and with bytes
    /// flipped, is scanned without a panic, and every truncation of a model is reported.
    #[test]
    fn corrupted_fixtures_never_panic() {
        use crate::{MemorySource, ScanOptions, Scanner, Status};
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures");
        let scanner = Scanner::new(ScanOptions::default());
        let mut files = 0;
        for dir in ["keras", "skops", "nemo", "flax"] {
            let Ok(entries) = std::fs::read_dir(root.join(dir)) else {
                continue;
            };
            for entry in entries.flatten() {
                let Ok(data) = std::fs::read(entry.path()) else {
                    continue;
                };
                files += 1;
                let step = (data.len() / 97).max(1);
                for cut in (0..data.len()).step_by(step) {
                    let result =
                        scanner.scan_source("t".into(), &MemorySource::new(data[..cut].to_vec()));
                    assert_ne!(result.status, Status::Error);
                    let mut flipped = data.clone();
                    if let Some(b) = flipped.get_mut(cut) {
                        *b ^= 0x5a;
                    }
                    scanner.scan_source("t".into(), &MemorySource::new(flipped));
                }
            }
        }
        assert!(files >= 15, "fixtures missing: {files}");
    }

    /// Numbers padding a `config.json` past the size read whole (the shape a fuzzer found slow)
    /// neither hide the Lambda layer after them nor cost more than a scan of the text.
    #[test]
    fn a_config_padded_past_the_whole_read_is_walked_to_its_layers() {
        use crate::archive::zip_index::tests::stored_zip;
        use crate::{MemorySource, ScanOptions, Scanner, Severity};
        use std::io::Write;
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../fixtures/keras/lambda_os_system.keras");
        let source = MemorySource::new(std::fs::read(&path).unwrap_or_default());
        let index = zip_index::read_index(&source, 100);
        let read = |name: &str| {
            root_member(&index, name)
                .and_then(|e| member::read_to_vec(&source, e, 64 << 20).ok())
                .unwrap_or_default()
        };
        let (config, metadata, weights) = (
            read("config.json"),
            read("metadata.json"),
            read("model.weights.h5"),
        );
        assert!(config.starts_with(b"{") && !weights.is_empty(), "{path:?}");
        let mut padded = b"{\"padding\": [".to_vec();
        let mut i = 0u64;
        while (padded.len() as u64) < MAX_CONFIG_BYTES + (1 << 20) {
            let _ = write!(padded, "{i}, ");
            i += 1;
        }
        padded.extend_from_slice(b"0], ");
        padded.extend_from_slice(&config[1..]);
        let zip = stored_zip(&[
            ("metadata.json", "metadata.json", &metadata),
            ("config.json", "config.json", &padded),
            ("model.weights.h5", "model.weights.h5", &weights),
        ]);
        // The same zip with the central directory declaring 100 bytes for `config.json`: a
        // size that understates the member does not let it skip the cap.
        let mut understated = zip.clone();
        let at = understated
            .windows(4)
            .enumerate()
            .filter(|(_, w)| *w == b"PK\x01\x02")
            .map(|(i, _)| i)
            .find(|&i| understated.get(i + 46..i + 57) == Some(&b"config.json"[..]))
            .expect("central entry of config.json");
        understated[at + 24..at + 28].copy_from_slice(&100u32.to_le_bytes());
        for zip in [zip, understated] {
            let result = Scanner::new(ScanOptions::default())
                .scan_source("padded.keras".into(), &MemorySource::new(zip));
            assert_eq!(result.format, Format::KerasV3);
            assert!(
                result
                    .findings
                    .iter()
                    .any(|f| f.rule_id == RuleId::KerasLambda
                        && f.severity == Severity::Critical
                        && f.message.contains("evil_lambda")),
                "{:#?}",
                result.findings
            );
        }
    }

    #[test]
    fn hdf5_magic_at_user_block_offsets() {
        let mut head = vec![0u8; 600];
        head[512..520].copy_from_slice(HDF5_MAGIC);
        assert_eq!(hdf5_start(&head), Some(512));
        assert_eq!(hdf5_start(b"\x89HDF"), None);
    }
}
