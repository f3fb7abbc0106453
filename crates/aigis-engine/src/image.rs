//! Container images without Docker: `docker save` tarballs (classic `<id>/layer.tar` with a
//! `manifest.json`, and the OCI layout Docker ≥ 25 writes inside) and OCI image layout folders
//! (`oci-layout`, `index.json` → manifest → `blobs/sha256/…`).
//!
//! Layers are applied in order, whiteouts included (`.wh.<name>` deletes a lower entry,
//! `.wh..wh..opq` empties a lower folder), into an in-memory map *path → (layer, offset, size)*
//! of the final file system; nothing is extracted to disk. Then every file of the final tree is
//! scanned like any file of a folder (same analyzers, limits, cache and policy): a window of the
//! layer for uncompressed layers, the file decoded into memory (or an unnamed temporary file when
//! large) for gzip/zstd layers. Each file is one result whose path names the layer that brought
//! it: `image.tar!/layer:<first 12 hex of the layer digest>/opt/models/x.pt`. A layer that cannot
//! be read is a result of its own (`image.tar!/layer:<digest>`), and the other layers are still
//! read.

use crate::file::{RunCx, read_error};
use crate::pool::{Job, JobCx};
use aigis_scan::{
    ByteSource, FileResult, FileSource, Format, MemorySource, SliceSource, SourceReader, Status,
    diagnostics,
};
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Most members indexed in one tar (the outer archive or a layer).
const MAX_ENTRIES: usize = 2_000_000;
/// Most bytes of a JSON document (manifest, index, config) read.
const MAX_JSON: u64 = 4 << 20;

/// Why an image could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// I/O error.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The image's structure is broken.
    #[error("{0}")]
    Malformed(String),
}

fn malformed(msg: impl Into<String>) -> ImageError {
    ImageError::Malformed(msg.into())
}

/// True for an OCI image layout folder.
pub fn is_oci_layout(dir: &Path) -> bool {
    dir.join("oci-layout").is_file() && dir.join("index.json").is_file()
}

/// Member name → (data offset, size) of a tar read through `source`.
fn tar_index(source: &dyn ByteSource) -> Result<BTreeMap<String, (u64, u64)>, ImageError> {
    let mut archive = tar::Archive::new(SourceReader::new(source));
    let mut index = BTreeMap::new();
    for entry in archive.entries_with_seek()?.take(MAX_ENTRIES) {
        let entry = entry?;
        if entry.header().entry_type().is_file() {
            let name = normalize(&entry.path()?.to_string_lossy());
            index.insert(name, (entry.raw_file_position(), entry.size()));
        }
    }
    Ok(index)
}

/// True for a `docker save` tarball: a tar whose `manifest.json` lists layers.
pub fn is_docker_archive(source: &dyn ByteSource) -> bool {
    let head = source.read_vec(0, 512).unwrap_or_default();
    if head.get(257..262) != Some(b"ustar") {
        return false;
    }
    let Ok(index) = tar_index(source) else {
        return false;
    };
    index
        .get("manifest.json")
        .and_then(|&(at, len)| json_at(source, at, len).ok())
        .is_some_and(|m| m.get(0).and_then(|e| e.get("Layers")).is_some())
}

fn json_at(source: &dyn ByteSource, at: u64, len: u64) -> Result<Value, ImageError> {
    if len > MAX_JSON {
        return Err(malformed("JSON document over 4 MiB"));
    }
    let bytes = source.read_vec(at, usize::try_from(len).unwrap_or(0))?;
    serde_json::from_slice(&bytes).map_err(|e| malformed(format!("bad JSON: {e}")))
}

/// `./a//b/` → `a/b`.
fn normalize(name: &str) -> String {
    name.split('/')
        .filter(|p| !p.is_empty() && *p != ".")
        .collect::<Vec<_>>()
        .join("/")
}

/// Where a layer's bytes are.
struct LayerRef {
    /// `sha256:<hex>` (declared by the manifest or config).
    digest: String,
    /// The file holding it (the image tar or a blob file).
    file: PathBuf,
    /// Window within that file.
    offset: u64,
    len: u64,
}

impl LayerRef {
    fn short(&self) -> String {
        let hex = self.digest.rsplit(':').next().unwrap_or(&self.digest);
        hex.chars().take(12).collect()
    }
}

fn blob_name(digest: &str) -> Result<String, ImageError> {
    let hex = digest
        .strip_prefix("sha256:")
        .filter(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
        .ok_or_else(|| malformed(format!("unsupported digest `{digest}`")))?;
    Ok(format!("blobs/sha256/{hex}"))
}

/// Follows an OCI index to the first image manifest and returns its layer digests.
fn oci_layers(read: &dyn Fn(&str) -> Result<Value, ImageError>) -> Result<Vec<String>, ImageError> {
    let mut doc = read("index.json")?;
    for _ in 0..4 {
        if let Some(layers) = doc.get("layers").and_then(Value::as_array) {
            return layers
                .iter()
                .map(|l| {
                    l.get("digest")
                        .and_then(Value::as_str)
                        .map(str::to_string)
                        .ok_or_else(|| malformed("layer without digest"))
                })
                .collect();
        }
        let next = doc
            .get("manifests")
            .and_then(|m| m.get(0))
            .and_then(|m| m.get("digest"))
            .and_then(Value::as_str)
            .ok_or_else(|| malformed("index without manifests"))?;
        doc = read(&blob_name(next)?)?;
    }
    Err(malformed("index nesting too deep"))
}

/// The layers of a `docker save` tarball, bottom first.
fn docker_layers(path: &Path) -> Result<Vec<LayerRef>, ImageError> {
    let source = FileSource::new(std::fs::File::open(path)?)?;
    let index = tar_index(&source)?;
    let member = |name: &str| {
        index
            .get(&normalize(name))
            .copied()
            .ok_or_else(|| malformed(format!("missing member `{name}`")))
    };
    let read = |name: &str| -> Result<Value, ImageError> {
        let (at, len) = member(name)?;
        json_at(&source, at, len)
    };
    let manifest = read("manifest.json")?;
    let entry = manifest
        .get(0)
        .ok_or_else(|| malformed("empty manifest.json"))?;
    let names: Vec<String> = entry
        .get("Layers")
        .and_then(Value::as_array)
        .ok_or_else(|| malformed("manifest.json without Layers"))?
        .iter()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect();
    let diff_ids: Vec<String> = entry
        .get("Config")
        .and_then(Value::as_str)
        .and_then(|c| read(c).ok())
        .and_then(|c| c.get("rootfs")?.get("diff_ids")?.as_array().cloned())
        .unwrap_or_default()
        .iter()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect();
    let mut layers = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let (offset, len) = member(name)?;
        // Docker ≥ 25 names layers by digest (`blobs/sha256/<hex>`); the classic format by a
        // folder, whose content digest the config lists in the same order.
        let digest = match name.strip_prefix("blobs/sha256/") {
            Some(hex) => format!("sha256:{hex}"),
            None => diff_ids
                .get(i)
                .cloned()
                .unwrap_or_else(|| format!("sha256:{}", name.split('/').next().unwrap_or(name))),
        };
        layers.push(LayerRef {
            digest,
            file: path.to_path_buf(),
            offset,
            len,
        });
    }
    Ok(layers)
}

/// The layers of an OCI layout folder, bottom first.
fn oci_dir_layers(dir: &Path) -> Result<Vec<LayerRef>, ImageError> {
    let read = |name: &str| -> Result<Value, ImageError> {
        let file = FileSource::new(std::fs::File::open(dir.join(name))?)?;
        json_at(&file, 0, file.len())
    };
    oci_layers(&read)?
        .into_iter()
        .map(|digest| {
            let file = dir.join(blob_name(&digest)?);
            let len = std::fs::metadata(&file)?.len();
            Ok(LayerRef {
                digest,
                file,
                offset: 0,
                len,
            })
        })
        .collect()
}

/// A file of the final tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Member {
    layer: usize,
    /// Data offset within the layer's (decoded) tar stream.
    offset: u64,
    size: u64,
}

/// A decoder over a layer's bytes, by magic.
fn layer_reader<'a>(layer: &'a dyn ByteSource) -> Box<dyn Read + 'a> {
    let head = layer.read_vec(0, 4).unwrap_or_default();
    let reader = SourceReader::new(layer);
    if head.starts_with(&[0x1f, 0x8b]) {
        Box::new(flate2::read::MultiGzDecoder::new(reader))
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        match ruzstd::decoding::StreamingDecoder::new(reader) {
            Ok(decoder) => Box::new(decoder),
            Err(_) => Box::new(std::io::empty()),
        }
    } else {
        Box::new(reader)
    }
}

fn is_compressed(layer: &dyn ByteSource) -> bool {
    let head = layer.read_vec(0, 4).unwrap_or_default();
    head.starts_with(&[0x1f, 0x8b]) || head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd])
}

/// Removes the entries under `under` (a folder prefix ending in `/`, or empty for all) brought by
/// layers below `index`. A range of the ordered map, so a layer full of whiteouts costs
/// O(entries removed · log n), not a pass over the whole tree per whiteout.
fn remove_lower(tree: &mut BTreeMap<String, Member>, index: usize, under: &str) {
    let doomed: Vec<String> = tree
        .range::<str, _>((std::ops::Bound::Included(under), std::ops::Bound::Unbounded))
        .take_while(|(p, _)| p.starts_with(under))
        .filter(|(_, m)| m.layer != index)
        .map(|(p, _)| p.clone())
        .collect();
    for p in doomed {
        tree.remove(&p);
    }
}

/// A decoded layer stream that fails once it has produced more than `cap` bytes: a compressed
/// layer may not expand without bound (a zstd frame of a few KiB can declare terabytes).
struct CappedReader<R> {
    inner: R,
    produced: u64,
    cap: u64,
}

impl<R: Read> Read for CappedReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.produced = self.produced.saturating_add(n as u64);
        if self.produced > self.cap {
            return Err(std::io::Error::other(format!(
                "layer decompresses past {} bytes (decompression ratio limit)",
                self.cap
            )));
        }
        Ok(n)
    }
}

/// Most bytes a layer of `compressed` bytes may decode to: the ratio limit, with a floor so that
/// small layers of text are never refused.
fn decoded_cap(compressed: u64, max_ratio: u64) -> u64 {
    compressed.saturating_mul(max_ratio).max(64 << 20)
}

/// A decoder over a layer, capped at [`decoded_cap`].
fn capped_reader<'a>(
    layer: &'a dyn ByteSource,
    max_ratio: u64,
) -> CappedReader<Box<dyn Read + 'a>> {
    CappedReader {
        inner: layer_reader(layer),
        produced: 0,
        cap: decoded_cap(layer.len(), max_ratio),
    }
}

/// Applies one layer to the tree.
fn apply(
    tree: &mut BTreeMap<String, Member>,
    index: usize,
    layer: &dyn ByteSource,
    max_ratio: u64,
) -> Result<(), ImageError> {
    let mut archive = tar::Archive::new(capped_reader(layer, max_ratio));
    for entry in archive.entries()?.take(MAX_ENTRIES) {
        let entry = entry?;
        let path = normalize(&entry.path()?.to_string_lossy());
        let (dir, name) = match path.rsplit_once('/') {
            Some((d, n)) => (d.to_string(), n.to_string()),
            None => (String::new(), path.clone()),
        };
        let prefix = |p: &str| {
            if p.is_empty() {
                String::new()
            } else {
                format!("{p}/")
            }
        };
        if name == ".wh..wh..opq" {
            remove_lower(tree, index, &prefix(&dir));
            continue;
        }
        if let Some(hidden) = name.strip_prefix(".wh.") {
            let target = format!("{}{hidden}", prefix(&dir));
            if tree.get(&target).is_some_and(|m| m.layer != index) {
                tree.remove(&target);
            }
            remove_lower(tree, index, &format!("{target}/"));
            continue;
        }
        let kind = entry.header().entry_type();
        if kind.is_file() {
            let member = Member {
                layer: index,
                offset: entry.raw_file_position(),
                size: entry.size(),
            };
            tree.insert(path, member);
        } else if kind.is_hard_link() {
            let target = entry.link_name()?.map(|t| normalize(&t.to_string_lossy()));
            match target.and_then(|t| tree.get(&t).copied()) {
                Some(member) => {
                    tree.insert(path, member);
                }
                None => {
                    tree.remove(&path);
                }
            }
        } else {
            // A link or folder replaces a lower file of the same name.
            tree.remove(&path);
        }
    }
    Ok(())
}

/// Where in its layer file a layer's member is, and what to call it.
struct Wanted {
    /// Path in the image's final file system.
    name: String,
    /// Data offset within the layer's (decoded) tar stream.
    offset: u64,
    size: u64,
}

/// Scans the image at `path` (a `docker save` tarball or an OCI layout folder; results named
/// `{display}!/layer:<digest>/<path>`): its layers are applied in order into the final file
/// system, then every file there is scanned like any other input — one job per file of an
/// uncompressed layer (a window of the layer, no copy), one job per compressed layer (decoded
/// once more as a stream, each file read and scanned in turn). A layer that cannot be read is a
/// result of its own; the other layers are still applied and scanned.
pub(crate) fn scan(cx: &Arc<RunCx>, job: &JobCx, display: &str, path: &Path) {
    let layers = if path.is_dir() {
        oci_dir_layers(path)
    } else {
        docker_layers(path)
    };
    let layers = match layers {
        Ok(layers) => layers,
        Err(err) => {
            job.emit(failed(display.to_string(), path, &err));
            return;
        }
    };
    // One open file per distinct layer file (a `docker save` tarball holds them all).
    let mut files: Vec<Arc<FileSource>> = Vec::new();
    let mut opened: BTreeMap<PathBuf, Arc<FileSource>> = BTreeMap::new();
    for layer in &layers {
        let file = match opened.get(&layer.file) {
            Some(file) => Arc::clone(file),
            None => match std::fs::File::open(&layer.file).and_then(FileSource::new) {
                Ok(file) => {
                    let file = Arc::new(file);
                    opened.insert(layer.file.clone(), Arc::clone(&file));
                    file
                }
                Err(err) => {
                    job.emit(failed(display.to_string(), path, &ImageError::Io(err)));
                    return;
                }
            },
        };
        files.push(file);
    }
    let max_ratio = cx.scanner.options().analysis.limits.max_ratio;
    let mut tree = BTreeMap::new();
    for (i, (layer, file)) in layers.iter().zip(&files).enumerate() {
        let source = SliceSource::new(file.as_ref(), layer.offset, layer.len);
        if let Err(err) = apply(&mut tree, i, &source, max_ratio) {
            job.emit(layer_failed(display, layer, &err));
        }
    }
    for (i, (layer, file)) in layers.iter().zip(&files).enumerate() {
        let wanted: Vec<Wanted> = tree
            .iter()
            .filter(|(_, m)| m.layer == i)
            .map(|(name, m)| Wanted {
                name: name.clone(),
                offset: m.offset,
                size: m.size,
            })
            .collect();
        if wanted.is_empty() {
            continue;
        }
        let prefix = format!("{display}!/layer:{}/", layer.short());
        let source = SliceSource::new(file.as_ref(), layer.offset, layer.len);
        if is_compressed(&source) {
            job.spawn(Box::new(CompressedLayerJob {
                cx: Arc::clone(cx),
                file: Arc::clone(file),
                offset: layer.offset,
                len: layer.len,
                prefix,
                wanted,
            }));
            continue;
        }
        for member in wanted {
            job.spawn(Box::new(MemberJob {
                cx: Arc::clone(cx),
                file: Arc::clone(file),
                offset: layer.offset.saturating_add(member.offset),
                size: member.size,
                display: format!("{prefix}{}", member.name),
                name: member.name,
            }));
        }
    }
}

/// A file of an uncompressed layer: a window of the layer file.
struct MemberJob {
    cx: Arc<RunCx>,
    file: Arc<FileSource>,
    offset: u64,
    size: u64,
    display: String,
    name: String,
}

impl Job for MemberJob {
    fn label(&self) -> (String, u64) {
        (self.display.clone(), self.size)
    }

    fn run(self: Box<Self>, job: &JobCx) {
        let window = SliceSource::new(self.file.as_ref(), self.offset, self.size);
        if let Some(result) = self
            .cx
            .scan_bytes(job, self.display, Path::new(&self.name), &window)
        {
            job.emit(result);
        }
    }
}

/// Files of a compressed layer up to this size are read into memory; larger ones go to an
/// unnamed temporary file (the layer's decoded size is capped, so that is bounded too).
const IN_MEMORY: u64 = 64 << 20;

/// The files of one compressed layer: the layer is decoded as a stream once more and each file
/// is scanned as it comes.
struct CompressedLayerJob {
    cx: Arc<RunCx>,
    file: Arc<FileSource>,
    offset: u64,
    len: u64,
    prefix: String,
    wanted: Vec<Wanted>,
}

impl Job for CompressedLayerJob {
    fn label(&self) -> (String, u64) {
        (self.prefix.trim_end_matches('/').to_string(), self.len)
    }

    fn run(self: Box<Self>, job: &JobCx) {
        let by_offset: BTreeMap<u64, &Wanted> = self.wanted.iter().map(|w| (w.offset, w)).collect();
        let layer = SliceSource::new(self.file.as_ref(), self.offset, self.len);
        let max_ratio = self.cx.scanner.options().analysis.limits.max_ratio;
        let mut archive = tar::Archive::new(capped_reader(&layer, max_ratio));
        let Ok(entries) = archive.entries() else {
            return;
        };
        // Errors in the stream were reported when the layer was applied; files before them are
        // scanned, files after them are not in the final tree.
        for entry in entries.take(MAX_ENTRIES) {
            let Ok(mut entry) = entry else { break };
            let Some(member) = by_offset.get(&entry.raw_file_position()) else {
                continue;
            };
            let display = format!("{}{}", self.prefix, member.name);
            let name = Path::new(&member.name);
            let read = if member.size <= IN_MEMORY {
                let mut bytes = Vec::new();
                (&mut entry)
                    .take(member.size)
                    .read_to_end(&mut bytes)
                    .map(|_| Box::new(MemorySource::new(bytes)) as Box<dyn ByteSource>)
            } else {
                spill(&mut entry, member.size)
            };
            let result = match read {
                Ok(source) => self.cx.scan_bytes(job, display, name, source.as_ref()),
                Err(err) => Some(read_error(
                    display,
                    member.size,
                    format!("layer stream: {err}"),
                )),
            };
            if let Some(result) = result {
                job.emit(result);
            }
        }
    }
}

/// Copies `size` bytes of `reader` into an unnamed temporary file and reads them from there.
fn spill(reader: &mut dyn Read, size: u64) -> std::io::Result<Box<dyn ByteSource>> {
    let mut file = tempfile::tempfile()?;
    std::io::copy(&mut reader.take(size), &mut file)?;
    Ok(Box::new(FileSource::new(file)?))
}

/// The result for a layer that could not be applied: named after the layer; the image's other
/// layers are still read.
fn layer_failed(display: &str, layer: &LayerRef, err: &ImageError) -> FileResult {
    let finding = diagnostics::image_layer_unreadable(err);
    let mut result = FileResult::new(
        format!("{display}!/layer:{}", layer.short()),
        Format::Unknown,
        layer.len,
        Status::Invalid,
        vec![finding],
    );
    result.incomplete = Some(format!("layer read up to an error: {err}"));
    result
}

/// The result for an image that could not be read at all.
fn failed(display: String, path: &Path, err: &ImageError) -> FileResult {
    let size = std::fs::metadata(path).map_or(0, |m| m.len());
    let finding = diagnostics::image_unreadable(err);
    let mut result = FileResult::new(
        display,
        Format::Unknown,
        size,
        Status::Invalid,
        vec![finding],
    );
    result.incomplete = Some(format!("container image not read: {err}"));
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_member_names() {
        assert_eq!(normalize("./opt//models/x.pt"), "opt/models/x.pt");
        assert_eq!(normalize("/a/b/"), "a/b");
    }

    /// A tar of empty regular files with these names.
    fn layer(names: &[&str]) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        for name in names {
            let mut header = tar::Header::new_gnu();
            header.set_size(0);
            header.set_entry_type(tar::EntryType::Regular);
            header.set_cksum();
            builder
                .append_data(&mut header, name, std::io::empty())
                .expect("in-memory tar");
        }
        builder.into_inner().expect("in-memory tar")
    }

    fn tree_of(layers: &[Vec<u8>]) -> Vec<String> {
        let mut tree = BTreeMap::new();
        for (i, bytes) in layers.iter().enumerate() {
            apply(&mut tree, i, &MemorySource::new(bytes.clone()), 1000).expect("valid layer");
        }
        tree.into_keys().collect()
    }

    #[test]
    fn whiteouts_remove_lower_entries_only() {
        let base = layer(&["m/a.pt", "m/sub/b.pt", "models/c.pt", "m.pt", "keep/d.pt"]);
        // `.wh.m` removes the folder `m` and the file... only `m` and `m/…`, not `m.pt` or
        // `models/…`, which merely share the prefix.
        let top = layer(&[".wh.m", "m/new.pt"]);
        assert_eq!(
            tree_of(&[base.clone(), top]),
            ["keep/d.pt", "m.pt", "m/new.pt", "models/c.pt"]
        );
        // An opaque folder hides everything below it from lower layers, but keeps its own.
        let opaque = layer(&["models/own.pt", "models/.wh..wh..opq"]);
        assert_eq!(
            tree_of(&[base, opaque]),
            ["keep/d.pt", "m.pt", "m/a.pt", "m/sub/b.pt", "models/own.pt"]
        );
    }

    #[test]
    fn a_decompression_bomb_layer_stops_at_the_ratio_cap() {
        use std::io::Write;
        // 200 MiB of zeros after one tar header: gzip squeezes it ~1000:1, past the ratio cap of
        // 10 and the 64 MiB floor.
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        let mut header = tar::Header::new_gnu();
        header.set_size(200 << 20);
        header.set_entry_type(tar::EntryType::Regular);
        header.set_path("zeros").expect("short name");
        header.set_cksum();
        encoder.write_all(header.as_bytes()).expect("in memory");
        let zeros = vec![0u8; 1 << 20];
        for _ in 0..201 {
            encoder.write_all(&zeros).expect("in memory");
        }
        let bomb = encoder.finish().expect("in memory");
        assert!(bomb.len() < 1 << 20, "{} bytes", bomb.len());
        let mut tree = BTreeMap::new();
        let err = apply(&mut tree, 0, &MemorySource::new(bomb.clone()), 10)
            .expect_err("the cap must stop decoding");
        assert!(err.to_string().contains("decompression ratio"), "{err}");
        // With a generous ratio the same layer is read to its end.
        apply(&mut tree, 0, &MemorySource::new(bomb), 5000).expect("within the cap");
        assert!(tree.contains_key("zeros"));
    }

    /// Every image input a fuzzer once found (`fuzz/regressions/image/`) and the image fixtures:
    /// read without panicking, within a loose time bound, with the same result twice.
    #[test]
    fn fuzz_regressions_and_fixture_images_are_bounded_and_deterministic() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let mut inputs: Vec<PathBuf> = ["docker-save.tar", "docker-save-oci.tar", "oci-layout"]
            .iter()
            .map(|n| root.join("fixtures/inventory/image").join(n))
            .collect();
        if let Ok(entries) = std::fs::read_dir(root.join("fuzz/regressions/image")) {
            inputs.extend(
                entries
                    .flatten()
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_none_or(|e| e != "md")),
            );
        }
        // What the `image` fuzz target runs on each input, first.
        for input in &inputs {
            crate::fuzzing::image(&std::fs::read(input).unwrap_or_default());
        }
        let mut options = crate::EngineOptions::default();
        options.scan.hash = false;
        let summary = |r: &Result<crate::Run, crate::EngineError>| match r {
            Ok(run) => serde_json::to_string(&run.results).unwrap_or_default(),
            Err(e) => e.to_string(),
        };
        for input in inputs {
            let target = input.to_string_lossy().into_owned();
            let started = std::time::Instant::now();
            let first = crate::run(std::slice::from_ref(&target), &options, &crate::NoProgress);
            let elapsed = started.elapsed();
            assert!(elapsed.as_secs() < 10, "{}: {elapsed:?}", input.display());
            if input.starts_with(root.join("fixtures")) {
                let models = first.as_ref().map_or(0, |run| {
                    run.results
                        .iter()
                        .filter(|r| r.format != Format::Unknown)
                        .count()
                });
                assert!(models >= 2, "{}: {models} models", input.display());
            }
            let second = crate::run(std::slice::from_ref(&target), &options, &crate::NoProgress);
            assert_eq!(summary(&first), summary(&second), "{}", input.display());
        }
    }
}
