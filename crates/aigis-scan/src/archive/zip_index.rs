//! A lenient, adversarial zip directory reader.
//!
//! Strict zip libraries stop at the first inconsistency, and loaders are more forgiving: PyTorch
//! (miniz) reads the central directory and ignores CRCs, Python's `zipfile` tolerates prepended
//! data, extraction tools walk local headers. An attacker hides a payload in whatever view the
//! scanner does not read. This reader builds the union of both views — every central-directory
//! entry and every entry reachable by chaining local headers — and records each disagreement
//! between them as an anomaly. It only reads headers; member data is opened separately.

use crate::ByteSource;
use std::collections::BTreeMap;

const LOCAL_SIG: u32 = 0x0403_4b50;
const CENTRAL_SIG: u32 = 0x0201_4b50;
const EOCD_SIG: u32 = 0x0605_4b50;
const ZIP64_LOCATOR_SIG: u32 = 0x0706_4b50;
const ZIP64_EOCD_SIG: u32 = 0x0606_4b50;
const DESCRIPTOR_SIG: u32 = 0x0807_4b50;
/// Largest central directory read (bytes).
const MAX_CENTRAL_DIR: u64 = 64 << 20;

/// One member, merged from its central-directory record and its local header.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ZipEntry {
    /// Name from the central directory, or from the local header for a hidden entry.
    pub name: String,
    /// Name in the local header, when it was read.
    pub local_name: Option<String>,
    /// The name Python's `zipfile` gives the member ([`zipfile_name`]): decoded as UTF-8 when
    /// flag bit 11 says so, else as CP437, and cut at the first NUL. Archives read with
    /// `zipfile` (Keras, skops, NumPy `.npz`) are looked up by this name.
    pub loader_name: String,
    /// Position of the record in the central directory Python's `zipfile` reads (its
    /// `infolist()` order); `None` for members that `zipfile` does not list.
    pub zipfile_order: Option<usize>,
    /// Why `zipfile` refuses to list the archive or open this member, when it does.
    pub zipfile_error: Option<String>,
    /// The name's bytes as stored in the central directory (or the local header).
    pub raw_name: Vec<u8>,
    /// Compression method.
    pub method: u16,
    /// General-purpose flags (central record when present).
    pub flags: u16,
    /// CRC-32 declared for the uncompressed data.
    pub crc32: u32,
    /// Compressed size in bytes.
    pub compressed_size: u64,
    /// Declared uncompressed size in bytes.
    pub uncompressed_size: u64,
    /// Offset of the local header in the file.
    pub header_offset: u64,
    /// Offset of the member data in the file.
    pub data_offset: u64,
    /// Unix mode from the external attributes, when the archive was made on Unix.
    pub unix_mode: Option<u32>,
    /// Listed in the central directory.
    pub in_central: bool,
}

impl ZipEntry {
    /// True for directory entries.
    pub fn is_dir(&self) -> bool {
        self.name.ends_with('/')
    }

    /// True for symbolic links (Unix mode `S_IFLNK`).
    pub fn is_symlink(&self) -> bool {
        self.unix_mode.is_some_and(|m| m & 0o170000 == 0o120000)
    }
}

/// The entries of a zip and everything odd about its structure.
#[derive(Debug, Default)]
pub struct ZipIndex {
    /// Entries in data-offset order.
    pub entries: Vec<ZipEntry>,
    /// Disagreements between views: (member, description).
    pub anomalies: Vec<String>,
    /// Entries whose data overlaps another's: a zip-bomb technique no writer produces.
    pub overlaps: Vec<String>,
    /// A structural error that makes the archive invalid (no central directory, truncated…).
    pub broken: Option<String>,
    /// Bytes before the first zip record (a polyglot prefix or a self-extractor stub).
    pub prefix_len: u64,
    /// Entries past the member cap were skipped (only those a loader opens by name were kept).
    pub capped: bool,
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

/// Where the end-of-central-directory record says the directory is.
struct Eocd {
    at: u64,
    /// Where the central directory ends: the ZIP64 end record when present, else `at`.
    cd_end: u64,
    cd_offset: u64,
    cd_size: u64,
    entries: u64,
}

/// True when `source` ends exactly with a zip end-of-central-directory record (and its
/// comment): the shape of a zip appended to other content. Archives that merely *contain* a zip
/// (a tar with trailing padding) do not qualify.
pub fn ends_with_eocd(source: &dyn ByteSource) -> bool {
    let Some(eocd) = find_eocd(source) else {
        return false;
    };
    let comment_len = source
        .read_vec(eocd.at + 20, 2)
        .ok()
        .and_then(|b| u16_at(&b, 0))
        .map_or(0, u64::from);
    eocd.at + 22 + comment_len == source.len()
}

/// Where a 4-byte little-endian signature occurs in `hay`, last first. A backwards SIMD scan
/// for its first byte, each hit checked, is several times faster than a reverse substring
/// search, and this runs on the tail of every file sniffed for a zip.
fn rfind_signature(hay: &[u8], signature: u32) -> impl Iterator<Item = usize> + '_ {
    let sig = signature.to_le_bytes();
    memchr::memrchr_iter(sig[0], hay).filter(move |&i| hay.get(i..i + 4) == Some(&sig[..]))
}

fn find_eocd(source: &dyn ByteSource) -> Option<Eocd> {
    let len = source.len();
    if len < 22 {
        return None;
    }
    let tail_len = len.min(22 + 65_535);
    let tail = source.read_vec(len - tail_len, tail_len as usize).ok()?;
    let base = len - tail_len;
    let search = &tail[..tail.len().checked_sub(18)?];
    for i in rfind_signature(search, EOCD_SIG) {
        let comment_len = u16_at(&tail, i + 20)? as usize;
        // The comment must end within the file.
        if i + 22 + comment_len <= tail.len() {
            let mut eocd = Eocd {
                at: base + i as u64,
                cd_end: base + i as u64,
                cd_offset: u64::from(u32_at(&tail, i + 16)?),
                cd_size: u64::from(u32_at(&tail, i + 12)?),
                entries: u64::from(u16_at(&tail, i + 10)?),
            };
            read_zip64(source, &mut eocd);
            return Some(eocd);
        }
    }
    None
}

fn read_zip64(source: &dyn ByteSource, eocd: &mut Eocd) {
    let Some(loc_at) = eocd.at.checked_sub(20) else {
        return;
    };
    let Ok(loc) = source.read_vec(loc_at, 20) else {
        return;
    };
    if u32_at(&loc, 0) != Some(ZIP64_LOCATOR_SIG) {
        return;
    }
    let Some(declared_at) = u64_at(&loc, 8) else {
        return;
    };
    // The declared offset is relative to the zip's start; with prepended data the record sits
    // right before the locator instead.
    for rec_at in [declared_at, loc_at.saturating_sub(56)] {
        let Ok(rec) = source.read_vec(rec_at, 56) else {
            continue;
        };
        if u32_at(&rec, 0) == Some(ZIP64_EOCD_SIG)
            && let (Some(n), Some(size), Some(off)) =
                (u64_at(&rec, 32), u64_at(&rec, 40), u64_at(&rec, 48))
        {
            eocd.entries = n;
            eocd.cd_size = size;
            eocd.cd_offset = off;
            eocd.cd_end = rec_at;
            return;
        }
    }
}

thread_local! {
    static INDEX_BUILDS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// How many zip directories this thread has read so far (each input's directory must be read
/// once, however many analyzers look at it; tests check that with this counter).
pub fn index_builds() -> u64 {
    INDEX_BUILDS.with(std::cell::Cell::get)
}

/// Reads the zip structure of `source`, examining at most `max_entries` entries.
pub fn read_index(source: &dyn ByteSource, max_entries: usize) -> ZipIndex {
    INDEX_BUILDS.with(|n| n.set(n.get() + 1));
    let mut index = ZipIndex::default();
    let mut by_offset: BTreeMap<u64, ZipEntry> = BTreeMap::new();
    let mut shift = 0u64;
    let zipfile_eocd = find_eocd_zipfile(source);
    match find_eocd(source) {
        Some(eocd) => {
            let same = zipfile_eocd.as_ref().is_some_and(|z| z.at == eocd.at);
            shift = read_directory(source, &eocd, same, max_entries, &mut by_offset, &mut index);
            if let (false, Some(z)) = (same, &zipfile_eocd) {
                index.anomalies.push(format!(
                    "Python's zipfile reads the end record at byte {}, another reader the one at byte {}",
                    z.at, eocd.at
                ));
                let mut other = ZipIndex::default();
                read_directory(source, z, true, max_entries, &mut by_offset, &mut other);
                index.anomalies.extend(other.anomalies);
            }
        }
        None => {
            index.broken =
                Some("no end-of-central-directory record (truncated or not a zip)".into());
            if let Some(z) = &zipfile_eocd {
                let mut other = ZipIndex::default();
                read_directory(source, z, true, max_entries, &mut by_offset, &mut other);
            }
        }
    }
    let start = by_offset.keys().next().copied().unwrap_or(0).min(shift);
    walk_local(source, start, max_entries, &mut by_offset, &mut index);
    if by_offset.is_empty() && index.broken.is_none() {
        index.broken = Some("no entries".into());
    }
    check_overlaps(&by_offset, &mut index);
    index.entries = by_offset.into_values().collect();
    index
}

/// Reads the central directory an end record points to (offsets shifted by the bytes before
/// the zip, as `zipfile`'s `concat`); `zipfile` says whether this is the directory Python's
/// `zipfile` lists. Returns the shift.
fn read_directory(
    source: &dyn ByteSource,
    eocd: &Eocd,
    zipfile: bool,
    max_entries: usize,
    out: &mut BTreeMap<u64, ZipEntry>,
    index: &mut ZipIndex,
) -> u64 {
    let mut shift = 0;
    // With prepended data, offsets in the directory are relative to the zip's start.
    let cd_start = eocd.cd_end.saturating_sub(eocd.cd_size);
    if cd_start > eocd.cd_offset && eocd.cd_offset.saturating_add(eocd.cd_size) <= eocd.cd_end {
        shift = cd_start - eocd.cd_offset;
        index.prefix_len = shift;
    }
    read_central(source, eocd, shift, zipfile, max_entries, out, index);
    shift
}

/// Whether Python's `zipfile` finds an end-of-central-directory record in `source` (it reads
/// only the tail): the cheap test before a zip directory is built for a sniff.
pub fn zipfile_locates(source: &dyn ByteSource) -> bool {
    find_eocd_zipfile(source).is_some()
}

/// The end record Python's `zipfile` uses (`_EndRecData`): the last 22 bytes when they are one
/// with an empty comment, else the last signature in the final 64 KiB + 22 bytes whose 22 bytes
/// fit in the file, whatever its comment length says.
fn find_eocd_zipfile(source: &dyn ByteSource) -> Option<Eocd> {
    let len = source.len();
    if len < 22 {
        return None;
    }
    let record = |at: u64, b: &[u8]| -> Option<Eocd> {
        Some(Eocd {
            at,
            cd_end: at,
            cd_offset: u64::from(u32_at(b, 16)?),
            cd_size: u64::from(u32_at(b, 12)?),
            entries: u64::from(u16_at(b, 10)?),
        })
    };
    let last = source.read_vec(len - 22, 22).ok()?;
    let mut eocd = if u32_at(&last, 0) == Some(EOCD_SIG) && last.get(20..22) == Some(&[0, 0]) {
        record(len - 22, &last)?
    } else {
        let from = len.saturating_sub((1 << 16) + 22);
        let data = source.read_vec(from, (len - from) as usize).ok()?;
        let start = rfind_signature(&data, EOCD_SIG).next()?;
        let rec = data.get(start..start + 22)?;
        record(from + start as u64, rec)?
    };
    read_zip64(source, &mut eocd);
    Some(eocd)
}

fn read_central(
    source: &dyn ByteSource,
    eocd: &Eocd,
    shift: u64,
    zipfile: bool,
    max_entries: usize,
    out: &mut BTreeMap<u64, ZipEntry>,
    index: &mut ZipIndex,
) {
    if eocd.cd_size > MAX_CENTRAL_DIR {
        index.broken = Some(format!(
            "central directory of {} bytes exceeds the limit",
            eocd.cd_size
        ));
        return;
    }
    let cd_at = eocd.cd_offset.saturating_add(shift);
    let cd = match source.read_vec(cd_at, eocd.cd_size as usize) {
        Ok(cd) if cd.len() as u64 == eocd.cd_size => cd,
        _ => {
            index.broken = Some("central directory lies beyond the end of the file".into());
            return;
        }
    };
    let mut pos = 0usize;
    let mut seen = 0u64;
    let mut extras = 0usize;
    while u32_at(&cd, pos) == Some(CENTRAL_SIG) {
        let over = out.len() >= max_entries.saturating_add(extras);
        if over && index.broken.is_none() {
            index.capped = true;
            index.broken = Some(format!(
                "more than {max_entries} entries; past that only the members loaders open by \
                 name were examined"
            ));
        }
        let Some(entry) = parse_central(&cd, pos, shift) else {
            index.broken = Some("central directory record truncated".into());
            return;
        };
        let (name_len, extra_len, comment_len) = (
            u16_at(&cd, pos + 28).unwrap_or(0) as usize,
            u16_at(&cd, pos + 30).unwrap_or(0) as usize,
            u16_at(&cd, pos + 32).unwrap_or(0) as usize,
        );
        pos += 46 + name_len + extra_len + comment_len;
        seen += 1;
        if over {
            // Past the cap, padding must not push what a loader reads out of sight.
            if extras >= super::MAX_ENTRY_POINTS_PAST_CAP || !super::loader_entry_point(&entry.name)
            {
                continue;
            }
            extras += 1;
        }
        let mut entry = entry;
        if zipfile {
            entry.zipfile_order = Some(seen as usize);
        }
        attach_local(source, &mut entry, index);
        if let Some(prev) = out.get_mut(&entry.header_offset) {
            if prev.name == entry.name && prev.zipfile_order.is_none() {
                // The same record seen again through `zipfile`'s end record.
                prev.zipfile_order = entry.zipfile_order;
                continue;
            }
            index.overlaps.push(format!(
                "`{}` and `{}` share the same local header at byte {}",
                prev.name, entry.name, entry.header_offset
            ));
            continue;
        }
        out.insert(entry.header_offset, entry);
    }
    if seen != eocd.entries {
        index.anomalies.push(format!(
            "end record announces {} entries, central directory holds {seen}",
            eocd.entries
        ));
    }
}

fn parse_central(cd: &[u8], pos: usize, shift: u64) -> Option<ZipEntry> {
    let made_by = u16_at(cd, pos + 4)?;
    let flags = u16_at(cd, pos + 8)?;
    let method = u16_at(cd, pos + 10)?;
    let crc32 = u32_at(cd, pos + 16)?;
    let mut compressed = u64::from(u32_at(cd, pos + 20)?);
    let mut uncompressed = u64::from(u32_at(cd, pos + 24)?);
    let name_len = u16_at(cd, pos + 28)? as usize;
    let extra_len = u16_at(cd, pos + 30)? as usize;
    let external = u32_at(cd, pos + 38)?;
    let mut offset = u64::from(u32_at(cd, pos + 42)?);
    let name_bytes = cd.get(pos + 46..pos + 46 + name_len)?;
    let extra = cd.get(pos + 46 + name_len..pos + 46 + name_len + extra_len)?;
    // ZIP64 extended information: only the fields whose 32-bit value is saturated are present.
    let mut e = 0;
    while e + 4 <= extra.len() {
        let id = u16_at(extra, e)?;
        let size = u16_at(extra, e + 2)? as usize;
        let body = extra.get(e + 4..e + 4 + size)?;
        if id == 1 {
            let mut f = 0;
            for field in [&mut uncompressed, &mut compressed, &mut offset] {
                if *field == u64::from(u32::MAX) {
                    if let Some(v) = u64_at(body, f) {
                        *field = v;
                    }
                    f += 8;
                }
            }
        }
        e += 4 + size;
    }
    let (loader_name, zipfile_error) = match zipfile_name(name_bytes, flags) {
        Ok(name) => (name, None),
        Err(err) => (String::from_utf8_lossy(name_bytes).into_owned(), Some(err)),
    };
    Some(ZipEntry {
        name: String::from_utf8_lossy(name_bytes).into_owned(),
        local_name: None,
        loader_name,
        zipfile_order: None,
        zipfile_error,
        raw_name: name_bytes.to_vec(),
        method,
        flags,
        crc32,
        compressed_size: compressed,
        uncompressed_size: uncompressed,
        header_offset: offset.saturating_add(shift),
        data_offset: 0,
        unix_mode: (made_by >> 8 == 3).then_some(external >> 16),
        in_central: true,
    })
}

/// Reads the local header of a central entry, fills in the data offset and notes disagreements.
fn attach_local(source: &dyn ByteSource, entry: &mut ZipEntry, index: &mut ZipIndex) {
    let Some(local) = read_local(source, entry.header_offset) else {
        index.anomalies.push(format!(
            "`{}`: no local header at byte {}",
            entry.name, entry.header_offset
        ));
        entry.data_offset = entry.header_offset.saturating_add(30);
        return;
    };
    if local.name != entry.name {
        index.anomalies.push(format!(
            "local header names `{}` but the central directory names `{}`",
            local.name, entry.name
        ));
    }
    if local.flags != entry.flags {
        index.anomalies.push(format!(
            "`{}`: local flags {:#06x} differ from central flags {:#06x}",
            entry.name, local.flags, entry.flags
        ));
    }
    if local.method != entry.method {
        index.anomalies.push(format!(
            "`{}`: local compression method {} differs from central method {}",
            entry.name, local.method, entry.method
        ));
    }
    if entry.zipfile_error.is_none() {
        let central = zipfile_decode(&entry.raw_name, entry.flags);
        let header = zipfile_decode(&local.raw_name, local.flags);
        if central.is_ok() && header != central {
            entry.zipfile_error = Some(format!(
                "file name in directory `{}` and header `{}` differ",
                entry.name, local.name
            ));
        }
    }
    entry.local_name = Some(local.name);
    entry.data_offset = local.data_offset;
}

/// CP437, the code page Python's `zipfile` decodes names with when flag bit 11 is clear.
const CP437_HIGH: &str = "ÇüéâäàåçêëèïîìÄÅÉæÆôöòûùÿÖÜ¢£¥₧ƒáíóúñÑªº¿⌐¬½¼¡«»░▒▓│┤╡╢╖╕╣║╗╝╜╛┐└┴┬├─┼╞╟╚╔╩╦╠═╬╧╨╤╥╙╘╒╓╫╪┘┌█▄▌▐▀αßΓπΣσµτΦΘΩδ∞φε∩≡±≥≤⌠⌡÷≈°∙·√ⁿ²■\u{a0}";

/// A name's bytes decoded as `zipfile` decodes them (before NUL truncation).
fn zipfile_decode(raw: &[u8], flags: u16) -> Result<String, String> {
    if flags & 0x800 != 0 {
        return std::str::from_utf8(raw)
            .map(str::to_string)
            .map_err(|e| format!("name flagged UTF-8 is not UTF-8: {e}"));
    }
    Ok(raw
        .iter()
        .map(|&b| {
            if b < 0x80 {
                char::from(b)
            } else {
                CP437_HIGH.chars().nth(usize::from(b - 0x80)).unwrap_or('?')
            }
        })
        .collect())
}

/// The member name Python's `zipfile` lists (`ZipInfo.filename`): decoded by flag bit 11 (UTF-8)
/// or as CP437, then cut at the first NUL. `Err` when `zipfile` cannot decode it (the archive
/// does not open).
pub fn zipfile_name(raw: &[u8], flags: u16) -> Result<String, String> {
    let decoded = zipfile_decode(raw, flags)?;
    Ok(match decoded.find('\0') {
        Some(at) => decoded[..at].to_string(),
        None => decoded,
    })
}

/// Why `zipfile.ZipFile.open(name).read()` fails on this member whose decoded bytes are
/// `data`, if it does: the member is not listed or its header disagrees (see
/// [`ZipEntry::zipfile_error`]), compressed patched data or strong encryption, the encryption
/// flag (a password is required), a method `zipfile` cannot decode, or a CRC mismatch.
pub fn zipfile_read_error(entry: &ZipEntry, data: &[u8]) -> Option<String> {
    if let Some(err) = &entry.zipfile_error {
        return Some(err.clone());
    }
    if entry.flags & 0x20 != 0 {
        return Some("compressed patched data (flag bit 5) is not supported".into());
    }
    if entry.flags & 0x40 != 0 {
        return Some("strong encryption (flag bit 6) is not supported".into());
    }
    if entry.flags & 1 != 0 {
        return Some("the member is encrypted: a password is required".into());
    }
    if !matches!(entry.method, 0 | 8 | 12 | 14 | 93) {
        return Some(format!(
            "compression method {} is not supported",
            entry.method
        ));
    }
    if data.len() as u64 != entry.uncompressed_size {
        return Some(format!(
            "{} bytes decoded, the directory says {}",
            data.len(),
            entry.uncompressed_size
        ));
    }
    if crc32fast::hash(data) != entry.crc32 {
        return Some("bad CRC-32".into());
    }
    None
}

impl ZipIndex {
    /// The member `zipfile.ZipFile(...).open(name)` reads: of the central-directory records
    /// `zipfile` lists under `name`, the last (`NameToInfo` keeps the last one).
    pub fn zipfile_entry(&self, name: &str) -> Option<&ZipEntry> {
        self.entries
            .iter()
            .filter(|e| e.zipfile_order.is_some() && e.loader_name == name)
            .max_by_key(|e| e.zipfile_order)
    }

    /// Every member some reader may take for `name`: `zipfile`'s name or the raw name equal to
    /// it (a lenient reader, or a member `zipfile` does not list). The first is
    /// [`ZipIndex::zipfile_entry`]'s, when there is one.
    pub fn entries_named(&self, name: &str) -> Vec<&ZipEntry> {
        let winner = self.zipfile_entry(name);
        let mut out: Vec<&ZipEntry> = winner.into_iter().collect();
        for entry in &self.entries {
            if (entry.loader_name == name || entry.name == name)
                && !out.iter().any(|e| std::ptr::eq(*e, entry))
            {
                out.push(entry);
            }
        }
        out
    }
}

struct Local {
    name: String,
    raw_name: Vec<u8>,
    flags: u16,
    method: u16,
    crc32: u32,
    compressed: u64,
    uncompressed: u64,
    data_offset: u64,
}

fn read_local(source: &dyn ByteSource, at: u64) -> Option<Local> {
    let head = source.read_vec(at, 30).ok()?;
    if u32_at(&head, 0)? != LOCAL_SIG {
        return None;
    }
    let name_len = u16_at(&head, 26)? as u64;
    let extra_len = u16_at(&head, 28)? as u64;
    let tail = source
        .read_vec(at + 30, (name_len + extra_len) as usize)
        .ok()?;
    let name = String::from_utf8_lossy(tail.get(..name_len as usize)?).into_owned();
    let mut compressed = u64::from(u32_at(&head, 18)?);
    let mut uncompressed = u64::from(u32_at(&head, 22)?);
    let extra = tail.get(name_len as usize..)?;
    let mut e = 0;
    while e + 4 <= extra.len() {
        let (id, size) = (u16_at(extra, e)?, u16_at(extra, e + 2)? as usize);
        if id == 1 && size >= 16 {
            uncompressed = u64_at(extra, e + 4)?;
            compressed = u64_at(extra, e + 12)?;
        }
        e += 4 + size;
    }
    Some(Local {
        name,
        raw_name: tail.get(..name_len as usize)?.to_vec(),
        flags: u16_at(&head, 6)?,
        method: u16_at(&head, 8)?,
        crc32: u32_at(&head, 14)?,
        compressed,
        uncompressed,
        data_offset: at + 30 + name_len + extra_len,
    })
}

/// Follows local headers from `start`: each entry's data is followed by the next header. Entries
/// found this way but absent from the central directory are hidden from most readers.
fn walk_local(
    source: &dyn ByteSource,
    start: u64,
    max_entries: usize,
    out: &mut BTreeMap<u64, ZipEntry>,
    index: &mut ZipIndex,
) {
    let mut at = start;
    let mut steps = 0usize;
    while steps < max_entries {
        steps += 1;
        let known = out.get(&at).map(|e| e.compressed_size);
        let Some(local) = read_local(source, at) else {
            break;
        };
        let size = match known {
            Some(size) => size,
            None if local.flags & 0x8 != 0 && local.compressed == 0 => {
                index.anomalies.push(format!(
                    "`{}` at byte {at}: hidden entry with deferred sizes; not followed further",
                    local.name
                ));
                insert_hidden(out, at, &local, index);
                break;
            }
            None => {
                insert_hidden(out, at, &local, index);
                local.compressed
            }
        };
        let mut next = local.data_offset.saturating_add(size);
        if let Ok(sig) = source.read_vec(next, 4)
            && u32_at(&sig, 0) == Some(DESCRIPTOR_SIG)
        {
            next = next.saturating_add(16);
        } else if local.flags & 0x8 != 0 {
            next = next.saturating_add(12);
            if read_local(source, next).is_none() {
                next = next.saturating_add(4);
            }
        }
        if next <= at || next >= source.len() {
            break;
        }
        at = next;
    }
}

fn insert_hidden(out: &mut BTreeMap<u64, ZipEntry>, at: u64, local: &Local, index: &mut ZipIndex) {
    if out.contains_key(&at) {
        return;
    }
    if index.broken.is_none() {
        index.anomalies.push(format!(
            "`{}` at byte {at} has a local header but no central directory record",
            local.name
        ));
    }
    out.insert(
        at,
        ZipEntry {
            name: local.name.clone(),
            local_name: Some(local.name.clone()),
            loader_name: local.name.clone(),
            zipfile_order: None,
            zipfile_error: Some("not in the central directory".into()),
            raw_name: local.raw_name.clone(),
            method: local.method,
            flags: local.flags,
            crc32: local.crc32,
            compressed_size: local.compressed,
            uncompressed_size: local.uncompressed,
            header_offset: at,
            data_offset: local.data_offset,
            unix_mode: None,
            in_central: false,
        },
    );
}

fn check_overlaps(entries: &BTreeMap<u64, ZipEntry>, index: &mut ZipIndex) {
    let mut ranges: Vec<(u64, u64, &str)> = entries
        .values()
        .map(|e| {
            (
                e.data_offset,
                e.data_offset.saturating_add(e.compressed_size),
                e.name.as_str(),
            )
        })
        .collect();
    ranges.sort_unstable();
    for pair in ranges.windows(2) {
        if pair[1].0 < pair[0].1 && pair[0].1 > pair[0].0 {
            index.overlaps.push(format!(
                "data of `{}` overlaps data of `{}` (overlapping entries: a zip-bomb technique)",
                pair[0].2, pair[1].2
            ));
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {

    #[test]
    fn signature_search_finds_what_a_substring_search_finds() {
        // Overlapping starts, a signature at both ends, a cut signature at the end, noise.
        let sig = EOCD_SIG.to_le_bytes();
        let mut cases: Vec<Vec<u8>> = vec![vec![], sig[..3].to_vec(), sig.to_vec()];
        let mut hay = Vec::new();
        let mut x: u32 = 12345;
        for i in 0..5000u32 {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            hay.push(if i % 7 == 0 { b'P' } else { (x >> 16) as u8 });
            if i % 997 == 0 {
                hay.extend_from_slice(&sig);
            }
        }
        cases.push(hay.clone());
        hay.extend_from_slice(&sig[..3]);
        cases.push(hay.clone());
        cases.push([b"PPK".as_slice(), &sig, &sig].concat());
        for hay in cases {
            let ours: Vec<usize> = rfind_signature(&hay, EOCD_SIG).collect();
            let theirs: Vec<usize> = memchr::memmem::rfind_iter(&hay, &sig).collect();
            assert_eq!(ours, theirs);
        }
    }
    use super::*;
    use crate::MemorySource;

    /// Builds a stored zip by hand: (local name, central name, data).
    pub(crate) fn stored_zip(members: &[(&str, &str, &[u8])]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut central = Vec::new();
        for (local, name, data) in members {
            let offset = out.len() as u32;
            let crc = crc32fast::hash(data);
            out.extend(LOCAL_SIG.to_le_bytes());
            out.extend([20, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
            out.extend(crc.to_le_bytes());
            out.extend((data.len() as u32).to_le_bytes());
            out.extend((data.len() as u32).to_le_bytes());
            out.extend((local.len() as u16).to_le_bytes());
            out.extend([0, 0]);
            out.extend(local.as_bytes());
            out.extend(*data);
            central.extend(CENTRAL_SIG.to_le_bytes());
            central.extend([20, 3, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
            central.extend(crc.to_le_bytes());
            central.extend((data.len() as u32).to_le_bytes());
            central.extend((data.len() as u32).to_le_bytes());
            central.extend((name.len() as u16).to_le_bytes());
            central.extend([0; 8]);
            central.extend((0o100644u32 << 16).to_le_bytes());
            central.extend(offset.to_le_bytes());
            central.extend(name.as_bytes());
        }
        let cd_offset = out.len() as u32;
        out.extend(&central);
        out.extend(EOCD_SIG.to_le_bytes());
        out.extend([0, 0, 0, 0]);
        out.extend((members.len() as u16).to_le_bytes());
        out.extend((members.len() as u16).to_le_bytes());
        out.extend((central.len() as u32).to_le_bytes());
        out.extend(cd_offset.to_le_bytes());
        out.extend([0, 0]);
        out
    }

    #[test]
    fn reads_plain_zip() {
        let zip = stored_zip(&[("a.txt", "a.txt", b"hello"), ("b/c.pkl", "b/c.pkl", b"xyz")]);
        let index = read_index(&MemorySource::new(zip), 100);
        assert!(
            index.broken.is_none() && index.anomalies.is_empty(),
            "{index:?}"
        );
        let names: Vec<_> = index.entries.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["a.txt", "b/c.pkl"]);
        assert_eq!(index.entries[0].data_offset, 35);
    }

    #[test]
    fn notes_name_mismatch_and_prefix() {
        let mut file = b"JUNKJUNK".to_vec();
        file.extend(stored_zip(&[("evil.txt", "data.pkl", b"x")]));
        let index = read_index(&MemorySource::new(file), 100);
        assert_eq!(index.prefix_len, 8);
        assert_eq!(index.entries.len(), 1);
        assert!(
            index.anomalies.iter().any(|a| a.contains("evil.txt")),
            "{:?}",
            index.anomalies
        );
    }

    #[test]
    fn finds_entries_without_central_directory() {
        let zip = stored_zip(&[("a", "a", b"1"), ("b", "b", b"2")]);
        let cut = zip.len() - 30;
        let index = read_index(&MemorySource::new(zip[..cut].to_vec()), 100);
        assert!(index.broken.is_some());
        assert_eq!(index.entries.len(), 2);
    }

    #[test]
    fn a_data_descriptor_near_u64_max_does_not_overflow() {
        // Found by the zip_index fuzzer: a local header whose sizes put the next header just
        // below u64::MAX, so skipping its data descriptor overflowed.
        let input = include_bytes!(
            "../../../../fuzz/regressions/zip_index/crash-d0cf597e895ca0ec71f8e2c339ff3d0907cf2a6f"
        );
        let index = read_index(&MemorySource::new(input.to_vec()), 10_000);
        assert!(index.entries.len() <= 10_000);
    }
}
