//! The root attributes of a legacy Keras HDF5 file as the loader reads them.
//!
//! `load_model_from_hdf5` (Keras 3 `legacy_h5_format.py`, tf_keras 2 `hdf5_format.py`) does
//! `value = f.attrs.get(NAME)`, `if hasattr(value, "decode"): value = value.decode("utf-8")`,
//! `json.loads(value)`. What h5py 3 hands back decides what is read:
//! - a scalar variable-length string (h5py's default for `str`, and vlen `bytes`): the stored
//!   bytes up to the first NUL (h5py builds them with `PyBytes_FromString`), decoded with
//!   `surrogateescape` into a `str` whatever the character set says;
//! - a scalar fixed-length string: a `numpy.bytes_` of the stored bytes as libhdf5 converts them
//!   to NULLPAD (NULLTERM cut at the first NUL, SPACEPAD without trailing spaces), numpy dropping
//!   trailing NULs, then strict `.decode("utf-8")`;
//! - anything else (arrays of any shape, a null dataspace, numbers, opaque, vlen sequences) is no
//!   `str`: `json.loads` raises `TypeError`.
//!
//! Held to h5py by the differential in `loaders::tests_hdf5` (`fixtures/differential/hdf5.jsonl.gz`).

use hdf5_reader::Hdf5File;
use hdf5_reader::group::Group;
use hdf5_reader::messages::attribute::AttributeMessage;
use hdf5_reader::messages::dataspace::DataspaceType;
use hdf5_reader::messages::datatype::{Datatype, StringPadding, StringSize, VarLenKind};
use std::borrow::Cow;

/// What the loader holds for one root attribute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Reading {
    /// `attrs.get` returns `None`: no attribute of that name.
    Absent,
    /// The `str` handed to `json.loads`, as the bytes it was decoded from (valid UTF-8 for a
    /// fixed-length string; any bytes but NUL for a variable-length one, whose invalid bytes
    /// h5py turns into lone surrogates).
    Text(Vec<u8>),
    /// Reading, decoding or handing the value to `json.loads` raises: the load fails.
    Refused(String),
}

/// The attributes of the root group, as stored.
pub(crate) struct RootAttributes {
    root: Group,
    attributes: Vec<AttributeMessage>,
    /// Why the object header did not parse whole, when the attributes were read message by
    /// message instead ([`attributes_by_message`]).
    strict_error: Option<String>,
}

/// Reads the root group's attribute messages (compact and dense storage). Where the header does
/// not parse whole (hdf5-reader refuses a header if any message in it fails, say an attribute
/// name that is not UTF-8, which libhdf5 takes as bytes), the attribute messages are read one by
/// one, as libhdf5 decodes them while it looks for a name.
pub(crate) fn root_attributes(file: &Hdf5File) -> Result<RootAttributes, String> {
    let root = file.root_group().map_err(|e| e.to_string())?;
    match root.raw_attributes() {
        Ok(raw) => Ok(RootAttributes {
            attributes: raw.into_iter().map(|a| a.into_parts().0).collect(),
            strict_error: verify_dense_storage(file, root.address()).err(),
            root,
        }),
        Err(strict) => {
            let attributes = attributes_by_message(file, root.address())
                .map_err(|e| format!("{strict}; read message by message: {e}"))?;
            Ok(RootAttributes {
                root,
                attributes,
                strict_error: Some(strict.to_string()),
            })
        }
    }
}

impl RootAttributes {
    /// Why the root object header did not parse whole (its attributes were then read message by
    /// message, without checksums).
    pub(crate) fn strict_error(&self) -> Option<&str> {
        self.strict_error.as_deref()
    }

    /// Whether an attribute is named `name`.
    pub(crate) fn has(&self, name: &str) -> bool {
        self.count(name) > 0
    }

    /// How many attributes are named `name` (libhdf5 never writes two).
    pub(crate) fn count(&self, name: &str) -> usize {
        self.attributes.iter().filter(|a| a.name == name).count()
    }

    /// What the loader reads for `name` (libhdf5 finds the first attribute of that name).
    pub(crate) fn reading(&self, name: &str) -> Reading {
        match self.attributes.iter().find(|a| a.name == name) {
            None => Reading::Absent,
            Some(attribute) => self.read(attribute),
        }
    }

    /// Every string held by attributes named `name`, each element of an array too, read without
    /// the loader's refusals: what another reader (an older h5py, a lenient tool) may take as
    /// the config. The loader's own reading is [`RootAttributes::reading`].
    pub(crate) fn lenient_texts(&self, name: &str) -> Vec<Vec<u8>> {
        let mut texts = Vec::new();
        for attribute in self.attributes.iter().filter(|a| a.name == name) {
            let count = attribute.dataspace.num_elements().unwrap_or(0);
            match &attribute.datatype {
                Datatype::String {
                    size: StringSize::Fixed(size),
                    padding,
                    ..
                } => {
                    let size = *size as usize;
                    for element in attribute.raw_data.chunks(size.max(1)).take(count as usize) {
                        texts.push(fixed_string(element, *padding).to_vec());
                    }
                }
                Datatype::VarLen {
                    kind: VarLenKind::String,
                    ..
                }
                | Datatype::VarLen {
                    kind: VarLenKind::Sequence,
                    ..
                } => {
                    let width = 4 + usize::from(self.root.offset_size()) + 4;
                    for reference in attribute.raw_data.chunks(width).take(count as usize) {
                        if let Ok(bytes) = self.root.resolve_vlen_reference_bytes(reference, 1) {
                            texts.push(bytes);
                        }
                    }
                }
                Datatype::Opaque { .. } | Datatype::FixedPoint { size: 1, .. } => {
                    texts.push(attribute.raw_data.clone());
                }
                _ => {}
            }
        }
        texts
    }

    fn read(&self, attribute: &AttributeMessage) -> Reading {
        let not_str = |what: &str| {
            Reading::Refused(format!(
                "h5py returns {what}, which json.loads refuses (TypeError)"
            ))
        };
        match attribute.dataspace.dataspace_type {
            DataspaceType::Scalar => {}
            DataspaceType::Null => return not_str("h5py.Empty"),
            DataspaceType::Simple => return not_str("an array"),
        }
        match &attribute.datatype {
            Datatype::String {
                size: StringSize::Fixed(size),
                padding,
                ..
            } => {
                let Some(stored) = attribute.raw_data.get(..*size as usize) else {
                    return Reading::Refused("attribute data shorter than its string".into());
                };
                let bytes = fixed_string(stored, *padding);
                match std::str::from_utf8(bytes) {
                    Ok(_) => Reading::Text(bytes.to_vec()),
                    Err(e) => Reading::Refused(format!(
                        "numpy.bytes_.decode(\"utf-8\") fails (UnicodeDecodeError): {e}"
                    )),
                }
            }
            Datatype::VarLen {
                base,
                kind: VarLenKind::String,
                ..
            } if base.is_vlen_string_base() => {
                match self
                    .root
                    .resolve_vlen_reference_bytes(&attribute.raw_data, 1)
                {
                    Ok(mut bytes) => {
                        if let Some(nul) = bytes.iter().position(|&b| b == 0) {
                            bytes.truncate(nul);
                        }
                        Reading::Text(bytes)
                    }
                    Err(e) => Reading::Refused(format!("variable-length string unreadable: {e}")),
                }
            }
            Datatype::VarLen { .. } => not_str("a variable-length sequence"),
            Datatype::String { .. } => Reading::Refused("string datatype of size 0".into()),
            Datatype::Opaque { .. } => not_str("numpy.void"),
            _ => not_str("a number or a structured value"),
        }
    }
}

/// Most object header chunks followed, and most bytes read, by [`attributes_by_message`].
const MAX_CHUNKS: usize = 1024;
const MAX_HEADER_BYTES: usize = 64 << 20;

/// The attribute messages of the object header at `address`, each decoded on its own: one that
/// does not decode is skipped, as are shared ones. Compact attributes from every chunk (v1 and v2
/// headers, continuations followed), dense ones from the fractal heap the attribute info message
/// names. No checksum is verified: the caller reports the file malformed.
fn attributes_by_message(file: &Hdf5File, address: u64) -> Result<Vec<AttributeMessage>, String> {
    let storage = file.storage();
    let sizes = (file.superblock().offset_size, file.superblock().length_size);
    let read = |at: u64, len: u64| -> Result<Vec<u8>, String> {
        let len = usize::try_from(len)
            .ok()
            .filter(|l| *l <= MAX_HEADER_BYTES)
            .ok_or("object header chunk too large")?;
        storage
            .read_range(at, len)
            .map(|b| b.as_ref().to_vec())
            .map_err(|e| e.to_string())
    };
    let mut chunks: Vec<(u64, u64)> = Vec::new();
    let head = read(address, 16.min(storage.len().saturating_sub(address)))?;
    let v2 = head.starts_with(b"OHDR");
    let mut attributes = Vec::new();
    if v2 {
        let flags = *head.get(5).ok_or("object header cut short")?;
        let mut at = 6u64;
        if flags & 0x20 != 0 {
            at += 16;
        }
        if flags & 0x10 != 0 {
            at += 4;
        }
        let width = 1u64 << (flags & 3);
        let size = read(address + at, width)?
            .iter()
            .rev()
            .fold(0u64, |acc, b| acc << 8 | u64::from(*b));
        chunks.push((address + at + width, size));
    } else if head.first() == Some(&1) && head.len() == 16 {
        let size = u32::from_le_bytes([head[8], head[9], head[10], head[11]]);
        chunks.push((address + 16, u64::from(size)));
    } else {
        return Err("no object header at the root group's address".into());
    }
    let mut seen = 0;
    let mut total = 0usize;
    while let Some((start, len)) = chunks.pop() {
        seen += 1;
        total = total.saturating_add(usize::try_from(len).unwrap_or(usize::MAX));
        if seen > MAX_CHUNKS || total > MAX_HEADER_BYTES {
            return Err("object header too large".into());
        }
        let bytes = read(start, len)?;
        let body: &[u8] = if v2 && seen > 1 {
            // An OCHK chunk: signature, messages, checksum.
            bytes
                .get(4..bytes.len().saturating_sub(4))
                .unwrap_or_default()
        } else {
            &bytes
        };
        let mut pos = 0usize;
        loop {
            let (kind, size, header) = if v2 {
                let Some(h) = body.get(pos..pos + 4) else {
                    break;
                };
                let order = if head[5] & 0x04 != 0 { 2 } else { 0 };
                (
                    u16::from(h[0]),
                    usize::from(u16::from_le_bytes([h[1], h[2]])),
                    4 + order,
                )
            } else {
                let Some(h) = body.get(pos..pos + 8) else {
                    break;
                };
                (
                    u16::from_le_bytes([h[0], h[1]]),
                    usize::from(u16::from_le_bytes([h[2], h[3]])),
                    8,
                )
            };
            let shared = body
                .get(pos + if v2 { 3 } else { 4 })
                .is_some_and(|f| f & 0x02 != 0);
            let Some(message) = body.get(pos + header..pos + header + size) else {
                break;
            };
            pos += header + size;
            match kind {
                0x10 => {
                    let mut cursor = hdf5_reader::io::Cursor::new(message);
                    if let (Ok(at), Ok(len)) =
                        (cursor.read_offset(sizes.0), cursor.read_length(sizes.1))
                    {
                        chunks.push((at, len));
                    }
                }
                0x0c if !shared => attributes.extend(attribute_message(message, sizes)),
                0x15 if !shared => attributes.extend(dense_attributes(file, message, sizes)),
                _ => {}
            }
        }
    }
    Ok(attributes)
}

/// The attributes in dense storage (a fractal heap indexed by v2 B-trees), each decoded on its
/// own.
fn dense_attributes(file: &Hdf5File, info: &[u8], (os, ls): (u8, u8)) -> Vec<AttributeMessage> {
    use hdf5_reader::btree_v2::{self, BTreeV2Record};
    let storage = file.storage();
    let mut cursor = hdf5_reader::io::Cursor::new(info);
    let Ok(info) = hdf5_reader::messages::attribute_info::parse(&mut cursor, os, ls, info.len())
    else {
        return Vec::new();
    };
    let Ok(heap) = hdf5_reader::fractal_heap::FractalHeap::parse_at_storage(
        storage,
        info.fractal_heap_address,
        os,
        ls,
    ) else {
        return Vec::new();
    };
    let indexes = [
        Some(info.btree_name_index_address),
        info.btree_creation_order_address,
    ];
    let records = indexes.into_iter().flatten().find_map(|at| {
        let header = btree_v2::BTreeV2Header::parse_at_storage(storage, at, os, ls).ok()?;
        btree_v2::collect_btree_v2_records_storage(storage, &header, os, ls, None, &[], None).ok()
    });
    records
        .unwrap_or_default()
        .into_iter()
        .filter_map(|record| match record {
            BTreeV2Record::AttributeNameHash { heap_id, .. }
            | BTreeV2Record::AttributeCreationOrder { heap_id, .. } => {
                heap.get_object_storage(&heap_id, storage, os, ls).ok()
            }
            _ => None,
        })
        .filter_map(|bytes| attribute_message(&bytes, (os, ls)))
        .collect()
}

/// Most v2 B-tree nodes whose checksums [`verify_dense_storage`] verifies.
const MAX_NODES: usize = 1 << 16;

/// Verifies the checksums libhdf5 verifies on its way to an attribute in dense storage and
/// hdf5-reader does not: the v2 B-tree headers and every node of the attribute indexes, and the
/// fractal heap's root indirect block (the heap header and direct blocks hdf5-reader verifies
/// itself). A block that fails makes libhdf5 refuse the attributes behind it.
fn verify_dense_storage(file: &Hdf5File, address: u64) -> Result<(), String> {
    use hdf5_reader::messages::HdfMessage;
    let header = file
        .get_or_parse_header(address)
        .map_err(|e| e.to_string())?;
    for message in &header.messages {
        if let HdfMessage::AttributeInfo(info) = message {
            let indexes = [
                Some(info.btree_name_index_address),
                info.btree_creation_order_address,
            ];
            for at in indexes.into_iter().flatten() {
                verify_btree(file, at)?;
            }
            verify_heap_root(file, info.fractal_heap_address)?;
        }
    }
    Ok(())
}

fn undefined(address: u64, offset_size: u8) -> bool {
    hdf5_reader::io::Cursor::is_undefined_offset(address, offset_size)
}

fn read_block(file: &Hdf5File, at: u64, len: usize) -> Result<Vec<u8>, String> {
    file.storage()
        .read_range(at, len)
        .map(|b| b.as_ref().to_vec())
        .map_err(|e| e.to_string())
}

/// Whether the four bytes at `at` are the lookup3 checksum of the bytes before them.
fn checksum_at(block: &[u8], at: usize, what: &str, address: u64) -> Result<(), String> {
    let stored = block
        .get(at..at + 4)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
    let computed = block.get(..at).map(hdf5_reader::checksum::jenkins_lookup3);
    match (stored, computed) {
        (Some(s), Some(c)) if s == c => Ok(()),
        _ => Err(format!(
            "{what} at {address:#x}: incorrect metadata checksum"
        )),
    }
}

/// Bytes libhdf5 uses to encode a count up to `n` (`H5VM_limit_enc_size`).
fn count_width(n: u64) -> usize {
    (n.max(1).ilog2() / 8 + 1) as usize
}

/// A v2 B-tree's header and nodes, laid out as `H5B2__hdr_init` sizes them.
fn verify_btree(file: &Hdf5File, at: u64) -> Result<(), String> {
    let (os, ls) = (file.superblock().offset_size, file.superblock().length_size);
    if undefined(at, os) {
        return Ok(());
    }
    let len = 18 + usize::from(os) + usize::from(ls);
    checksum_at(&read_block(file, at, len + 4)?, len, "v2 B-tree header", at)?;
    let header = hdf5_reader::btree_v2::BTreeV2Header::parse_at_storage(file.storage(), at, os, ls)
        .map_err(|e| e.to_string())?;
    let node_size = header.node_size as usize;
    let record = usize::from(header.record_size);
    if record == 0 || node_size <= 10 {
        return Err("v2 B-tree with empty records or nodes".into());
    }
    // Per depth: the pointer size of a node at that depth, and the width of cumulative counts.
    let leaf_max = ((node_size - 10) / record) as u64;
    let count = count_width(leaf_max);
    let mut cumulative = vec![(leaf_max, 0usize)];
    let mut pointer = vec![0usize];
    for depth in 1..=usize::from(header.depth).min(16) {
        let size = usize::from(os)
            + count
            + if depth > 1 {
                cumulative[depth - 1].1
            } else {
                0
            };
        let max = node_size.saturating_sub(10 + size) / (record + size);
        let cum = (max as u64 + 1)
            .saturating_mul(cumulative[depth - 1].0)
            .saturating_add(max as u64);
        cumulative.push((cum, count_width(cum)));
        pointer.push(size);
    }
    if usize::from(header.depth) >= pointer.len() {
        return Err("v2 B-tree too deep".into());
    }
    let mut nodes = vec![(
        header.root_node_address,
        usize::from(header.depth),
        u64::from(header.num_records_in_root),
    )];
    let mut seen = 0;
    while let Some((at, depth, records)) = nodes.pop() {
        seen += 1;
        if seen > MAX_NODES || undefined(at, os) {
            return Err("v2 B-tree nodes past the walk's limit".into());
        }
        let node = read_block(file, at, node_size)?;
        let records = usize::try_from(records).unwrap_or(usize::MAX);
        let pointers = if depth > 0 {
            records
                .checked_add(1)
                .and_then(|n| n.checked_mul(pointer[depth]))
        } else {
            Some(0)
        };
        let end = records
            .checked_mul(record)
            .and_then(|r| r.checked_add(6))
            .zip(pointers)
            .and_then(|(r, p)| r.checked_add(p))
            .filter(|n| n.saturating_add(4) <= node_size)
            .ok_or("v2 B-tree node overflows its size")?;
        checksum_at(&node, end, "v2 B-tree node", at)?;
        if depth > 0 {
            let pointers = node.get(6 + records * record..end).unwrap_or_default();
            for entry in pointers.chunks_exact(pointer[depth]) {
                let (address, rest) = entry.split_at(usize::from(os));
                let le = |b: &[u8]| b.iter().rev().fold(0u64, |acc, b| acc << 8 | u64::from(*b));
                let n = rest.get(..count).map(le).unwrap_or_default();
                nodes.push((le(address), depth - 1, n));
            }
        }
    }
    Ok(())
}

/// The fractal heap's root indirect block (`H5HF__cache_iblock_serialize`'s layout).
fn verify_heap_root(file: &Hdf5File, at: u64) -> Result<(), String> {
    let (os, ls) = (file.superblock().offset_size, file.superblock().length_size);
    if undefined(at, os) {
        return Ok(());
    }
    let heap = hdf5_reader::fractal_heap::FractalHeap::parse_at_storage(file.storage(), at, os, ls)
        .map_err(|e| e.to_string())?;
    let rows = usize::from(heap.current_rows_in_root_indirect);
    if rows == 0 || undefined(heap.root_block_address, os) {
        return Ok(());
    }
    if !heap.starting_block_size.is_power_of_two() || !heap.max_direct_block_size.is_power_of_two()
    {
        return Err("fractal heap block sizes are not powers of two".into());
    }
    let direct_rows = (heap.max_direct_block_size.ilog2())
        .saturating_sub(heap.starting_block_size.ilog2()) as usize
        + 2;
    let width = usize::from(heap.table_width);
    let direct = usize::from(os)
        + if heap.io_filters_len > 0 {
            usize::from(ls) + 4
        } else {
            0
        };
    let len = 5
        + usize::from(os)
        + usize::from(heap.max_heap_size).div_ceil(8)
        + rows.min(direct_rows) * width * direct
        + rows.saturating_sub(direct_rows) * width * usize::from(os);
    let block = read_block(file, heap.root_block_address, len + 4)?;
    checksum_at(
        &block,
        len,
        "fractal heap indirect block",
        heap.root_block_address,
    )
}

/// One attribute message (versions 1-3), its name as libhdf5 compares it (the bytes before the
/// first NUL; a name that is not UTF-8 never equals an ASCII one), its datatype and dataspace
/// decoded by hdf5-reader. `None` for a message that does not decode or shares its datatype.
fn attribute_message(body: &[u8], (os, ls): (u8, u8)) -> Option<AttributeMessage> {
    let u16_at = |at: usize| {
        body.get(at..at + 2)
            .map(|b| usize::from(u16::from_le_bytes([b[0], b[1]])))
    };
    let version = *body.first()?;
    let flags = *body.get(1)?;
    let (name_len, type_len, space_len) = (u16_at(2)?, u16_at(4)?, u16_at(6)?);
    let pad = |n: usize| if version == 1 { n.div_ceil(8) * 8 } else { n };
    let mut at = match version {
        1 | 2 => 8,
        3 => 9,
        _ => return None,
    };
    if version > 1 && flags & 0x03 != 0 {
        return None;
    }
    let name = body.get(at..at + name_len)?;
    at += pad(name_len);
    let type_bytes = body.get(at..at + type_len)?;
    at += pad(type_len);
    let space_bytes = body.get(at..at + space_len)?;
    at += pad(space_len);
    let name = name.split(|&b| b == 0).next().unwrap_or_default();
    let datatype = hdf5_reader::messages::datatype::parse(
        &mut hdf5_reader::io::Cursor::new(type_bytes),
        type_len,
    )
    .ok()?
    .datatype;
    let dataspace = hdf5_reader::messages::dataspace::parse(
        &mut hdf5_reader::io::Cursor::new(space_bytes),
        os,
        ls,
        space_len,
    )
    .ok()?;
    Some(AttributeMessage {
        name: String::from_utf8_lossy(name).into_owned(),
        datatype,
        dataspace,
        raw_data: body.get(at..).unwrap_or_default().to_vec(),
    })
}

/// A fixed-length string element as h5py returns it: converted by libhdf5 to NULLPAD (a NULLTERM
/// string ends at its first NUL, a SPACEPAD one loses its trailing spaces), then without the
/// trailing NULs numpy drops from `bytes_`.
fn fixed_string(stored: &[u8], padding: StringPadding) -> &[u8] {
    let mut bytes = match padding {
        StringPadding::NullTerminate => {
            let end = stored.iter().position(|&b| b == 0).unwrap_or(stored.len());
            &stored[..end]
        }
        StringPadding::SpacePad => {
            let end = stored.iter().rposition(|&b| b != b' ').map_or(0, |i| i + 1);
            &stored[..end]
        }
        StringPadding::NullPad => stored,
    };
    while let [rest @ .., 0] = bytes {
        bytes = rest;
    }
    bytes
}

/// The bytes that `json.loads(bytes)` ([`crate::loaders::json::loads_bytes`]) reads exactly as
/// `json.loads(str)` reads the `str` h5py and Keras made of `text`: each byte that is not part of
/// valid UTF-8 becomes the lone surrogate `surrogateescape` makes of it (U+DC80..U+DCFF, as
/// generalized UTF-8). Refused where `json.loads(str)` refuses whatever follows: a leading
/// U+FEFF, a NUL among the first two characters (which would make `json.loads(bytes)` read
/// UTF-16 or UTF-32 instead).
pub(crate) fn json_loads_str(text: &[u8]) -> Result<Cow<'_, [u8]>, &'static str> {
    if text.starts_with(&[0xef, 0xbb, 0xbf]) {
        return Err("Unexpected UTF-8 BOM (decode using utf-8-sig)");
    }
    if text.iter().take(2).any(|&b| b == 0) {
        return Err("a NUL where a JSON value starts");
    }
    if std::str::from_utf8(text).is_ok() {
        return Ok(Cow::Borrowed(text));
    }
    let mut out = Vec::with_capacity(text.len() + 16);
    for chunk in text.utf8_chunks() {
        out.extend_from_slice(chunk.valid().as_bytes());
        for &b in chunk.invalid() {
            // U+DC00 + b, b >= 0x80, as the three bytes of generalized UTF-8.
            let cp = 0xdc00 | u32::from(b);
            out.extend([
                0xe0 | (cp >> 12) as u8,
                0x80 | ((cp >> 6) & 0x3f) as u8,
                0x80 | (cp & 0x3f) as u8,
            ]);
        }
    }
    Ok(Cow::Owned(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_strings_read_as_numpy_bytes() {
        assert_eq!(
            fixed_string(b"ab\0c  \0\0", StringPadding::NullTerminate),
            b"ab"
        );
        assert_eq!(
            fixed_string(b"ab\0c  \0\0", StringPadding::NullPad),
            b"ab\0c  "
        );
        assert_eq!(
            fixed_string(b"ab\0c  \0\0", StringPadding::SpacePad),
            b"ab\0c  "
        );
        assert_eq!(fixed_string(b"ab\0\0  ", StringPadding::SpacePad), b"ab");
    }

    #[test]
    fn str_texts_become_what_json_loads_bytes_reads_alike() {
        assert_eq!(json_loads_str(b"{}").as_deref(), Ok(&b"{}"[..]));
        assert!(json_loads_str(b"\xef\xbb\xbf{}").is_err());
        assert!(json_loads_str(b"{\0").is_err());
        assert_eq!(
            json_loads_str(b"[\"\xff\"]").as_deref(),
            Ok(&b"[\"\xed\xb3\xbf\"]"[..])
        );
        let value = crate::loaders::json::loads_bytes(
            &json_loads_str(b"[\"a\xffb\"]").unwrap_or_default(),
            10,
        );
        assert!(value.is_ok(), "{value:?}");
    }
}
