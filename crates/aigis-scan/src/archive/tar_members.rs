//! Tar members as Python's `tarfile` sees them — the one place that decides a tar member's name,
//! kind and bytes for every analyzer of a tar-based format (`.nemo`, legacy PyTorch tars, plain
//! tars). The headers are read here, as `tarfile` (CPython 3.11) reads them, not by a tar crate:
//! the crates are stricter than `tarfile` in ways an attacker can use (a header they refuse ends
//! their walk while `tarfile` reads on).
//!
//! - **Headers** (`TarInfo.frombuf`): a 512-byte block, all-NUL ends the archive; the checksum is
//!   accepted when it equals the unsigned *or* the signed byte sum; every number field as `nti`
//!   reads it — base-256 when its first byte is `0x80`/`0xff`, otherwise the text up to the first
//!   NUL as `int(s.strip() or "0", 8)` reads it (sign, `0o` prefix, underscores, surrounding
//!   whitespace); a field `nti` refuses makes the header invalid. The walk ends where `tarfile`'s
//!   ends: an invalid, short or empty header after the first member, or the end of the data.
//! - **Kinds**: `tarfile` extracts as a regular file every member whose type is a regular type
//!   (`0`, NUL, `7` contiguous, `S` GNU sparse) *and every type it does not know* (`V`, `M`, `D`,
//!   `8`…: `TarFile.makeunknown` writes their data as a file, `extractfile` returns it), so all
//!   of those are scanned. Links, folders, devices and FIFOs are not files.
//! - **Extended headers**: GNU long names and links (`L`, `K`), pax extended and global headers
//!   (`path`, `linkpath`, `size`, and a global header's fields applied to every later member, as
//!   `_apply_pax_info` does), and the three GNU sparse encodings (old GNU `S` headers with their
//!   extension blocks, pax 0.0, 0.1 and 1.0).
//! - **Bytes**: a member's data is read at `offset_data` for `size` bytes; a sparse member's
//!   stored runs are laid out at their offsets with zeros in the holes, as `_FileInFile` does.
//! - **Names**: cut at the first NUL (`tarfile.nts`), `prefix/name` for POSIX ustar headers, a
//!   folder's trailing `/` dropped; [`normalized`] is the path a member extracts to, relative to
//!   the destination (`os.path.normpath`), which decides which of two same-named members a loader
//!   ends up reading (the later one overwrites the earlier).

use crate::ByteSource;
use crate::archive::walk::MemberKind;
use std::collections::HashSet;
use std::io;

const BLOCK: u64 = 512;
/// Most headers read from one archive (each costs a member entry).
const MAX_HEADERS: usize = 1 << 20;
/// Most bytes of a pax header or GNU long name held in memory.
const MAX_EXTENDED: u64 = 16 << 20;
/// Most runs of one sparse member's map.
const MAX_SPARSE_RUNS: usize = 1 << 16;
/// Most runs of a sparse map that is not in order (each read searches it from the start).
const MAX_UNORDERED_RUNS: usize = 64;

/// One member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TarMember {
    /// The name `tarfile` gives it.
    pub name: String,
    /// The type byte of its header.
    pub type_byte: u8,
    /// Link target (links only).
    pub link: String,
    /// Offset of its data in the archive (`offset_data`).
    pub offset: u64,
    /// Its size as `extractfile` reads it (a sparse member's real size).
    pub size: u64,
    /// A sparse member's map, `(offset in the member, length)` of each stored run, the runs
    /// stored one after another from `offset`.
    pub sparse: Option<Vec<(i128, i128)>>,
}

impl TarMember {
    /// What kind of member `tarfile` takes this for.
    pub fn kind(&self) -> MemberKind<'_> {
        match self.type_byte {
            b'1' => MemberKind::HardLink(&self.link),
            b'2' => MemberKind::Symlink(&self.link),
            b'3' => MemberKind::Special("character device"),
            b'4' => MemberKind::Special("block device"),
            b'5' => MemberKind::Dir,
            b'6' => MemberKind::Special("FIFO"),
            // Regular types, and every type `tarfile` does not know: extracted as files.
            _ => MemberKind::File,
        }
    }

    /// The member's bytes as `extractfile` reads them, a window of `archive` (holes of a sparse
    /// member read as zeros).
    pub fn source<'a>(&self, archive: &'a dyn ByteSource) -> TarMemberSource<'a> {
        TarMemberSource::new(archive, self.offset, self.size, self.sparse.as_deref())
    }

    /// How many bytes of the archive the member's stored data needs from `offset`.
    pub fn stored_len(&self) -> u64 {
        match &self.sparse {
            None => self.size,
            Some(map) => map
                .iter()
                .map(|(_, len)| u64::try_from(*len).unwrap_or(0))
                .fold(0u64, u64::saturating_add),
        }
    }
}

/// Why a tar could not be listed (past the members already returned).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TarStop(pub String);

/// How a header could not be read, as `tarfile` tells its cases apart.
enum HeaderError {
    /// No bytes left.
    Empty,
    /// Fewer than 512 bytes left.
    Truncated,
    /// An all-NUL block: the end of the archive.
    EndOfArchive,
    /// A checksum or number field `tarfile` refuses.
    Invalid(String),
    /// An error that `tarfile` raises out of its listing (the loader fails here).
    Fatal(String),
}

/// Old GNU sparse: the runs in the header, whether extension blocks follow, the real size.
type OldSparse = (Vec<(i128, i128)>, bool, i128);

/// A pax field: keyword and value.
type PaxField = (Vec<u8>, Vec<u8>);

/// Pax fields, in the order they were set.
type PaxFields = [PaxField];

/// A header block's fields, as `TarInfo.frombuf` reads them.
struct Header {
    name: Vec<u8>,
    size: i128,
    type_byte: u8,
    link: Vec<u8>,
    /// Old GNU sparse: the runs in the header, whether extension blocks follow, the real size.
    old_sparse: Option<OldSparse>,
}

/// `tarfile.nts`: the bytes up to the first NUL.
fn nts(bytes: &[u8]) -> &[u8] {
    bytes
        .iter()
        .position(|b| *b == 0)
        .map_or(bytes, |at| &bytes[..at])
}

/// Python's `str.strip()` on ASCII text (whitespace and the four separator controls).
fn py_strip(text: &[u8]) -> &[u8] {
    let blank = |b: &u8| matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r' | 0x1c..=0x1f);
    let start = text.iter().position(|b| !blank(b)).unwrap_or(text.len());
    let end = text
        .iter()
        .rposition(|b| !blank(b))
        .map_or(start, |at| at + 1);
    &text[start..end.max(start)]
}

/// Python's `int(text, base)` for ASCII text: surrounding whitespace, a sign, the base's prefix
/// (`0o`, `0x`, `0b`), single underscores between digits. `None` where Python raises.
fn py_int(text: &[u8], base: u32) -> Option<i128> {
    let text = py_strip(text);
    let (negative, mut digits) = match text.split_first() {
        Some((b'-', rest)) => (true, rest),
        Some((b'+', rest)) => (false, rest),
        _ => (false, text),
    };
    let prefix = match base {
        8 => Some(b'o'),
        16 => Some(b'x'),
        2 => Some(b'b'),
        _ => None,
    };
    let mut after_prefix = false;
    if let (Some(p), [b'0', c, rest @ ..]) = (prefix, digits)
        && c.to_ascii_lowercase() == p
    {
        digits = rest;
        after_prefix = true;
    }
    // With a prefix, one underscore may follow it (`0o_7`).
    if after_prefix && digits.first() == Some(&b'_') {
        digits = &digits[1..];
    }
    if digits.is_empty() || digits.first() == Some(&b'_') || digits.last() == Some(&b'_') {
        return None;
    }
    let mut value: i128 = 0;
    let mut previous_underscore = false;
    for b in digits {
        if *b == b'_' {
            if previous_underscore {
                return None;
            }
            previous_underscore = true;
            continue;
        }
        previous_underscore = false;
        let digit = char::from(*b).to_digit(base)?;
        value = value
            .checked_mul(i128::from(base))?
            .checked_add(i128::from(digit))?;
    }
    Some(if negative { -value } else { value })
}

/// `tarfile.nti`: a number field.
fn nti(field: &[u8]) -> Result<i128, HeaderError> {
    match field.first() {
        Some(first @ (0x80 | 0xff)) => {
            let mut n: i128 = 0;
            for b in &field[1..] {
                n = (n << 8) + i128::from(*b);
            }
            if *first == 0xff {
                n -= 1i128 << (8 * (field.len() - 1));
            }
            Ok(n)
        }
        _ => {
            let text = nts(field);
            if !text.is_ascii() {
                return Err(HeaderError::Invalid("invalid header".into()));
            }
            let text = py_strip(text);
            let text: &[u8] = if text.is_empty() { b"0" } else { text };
            py_int(text, 8).ok_or_else(|| HeaderError::Invalid("invalid header".into()))
        }
    }
}

/// `tarfile.calc_chksums`: the unsigned and the signed byte sums, the checksum field as spaces.
fn checksums(block: &[u8]) -> (i128, i128) {
    let mut unsigned: i128 = 256;
    let mut signed: i128 = 256;
    for (i, b) in block.iter().enumerate() {
        if (148..156).contains(&i) {
            continue;
        }
        unsigned += i128::from(*b);
        signed += i128::from(*b as i8);
    }
    (unsigned, signed)
}

/// Whether `head` starts with a header `tarfile` accepts (or, cut short, a ustar/GNU magic).
pub fn is_tar_header(head: &[u8]) -> bool {
    if head.get(257..262) == Some(b"ustar") {
        return true;
    }
    head.get(..512)
        .is_some_and(|block| block[0] != 0 && parse_header(block).is_ok())
}

/// `TarInfo.frombuf`.
fn parse_header(block: &[u8]) -> Result<Header, HeaderError> {
    if block.is_empty() {
        return Err(HeaderError::Empty);
    }
    if block.len() < 512 {
        return Err(HeaderError::Truncated);
    }
    if block.iter().all(|b| *b == 0) {
        return Err(HeaderError::EndOfArchive);
    }
    let checksum = nti(&block[148..156])?;
    let (unsigned, signed) = checksums(block);
    if checksum != unsigned && checksum != signed {
        return Err(HeaderError::Invalid("bad checksum".into()));
    }
    // Every number field is read, and any one `nti` refuses makes the header invalid.
    for range in [100..108, 108..116, 116..124, 136..148, 329..337, 337..345] {
        nti(&block[range])?;
    }
    let size = nti(&block[124..136])?;
    let mut type_byte = block[156];
    let mut name = nts(&block[..100]).to_vec();
    let link = nts(&block[157..257]).to_vec();
    let prefix = nts(&block[345..500]).to_vec();
    if type_byte == 0 && name.ends_with(b"/") {
        // An old-style regular file whose name ends in `/` is a folder.
        type_byte = b'5';
    }
    let mut old_sparse = None;
    if type_byte == b'S' {
        let mut runs = Vec::new();
        for i in 0..4 {
            let at = 386 + 24 * i;
            runs.push((nti(&block[at..at + 12])?, nti(&block[at + 12..at + 24])?));
        }
        old_sparse = Some((runs, block[482] != 0, nti(&block[483..495])?));
    }
    if type_byte == b'5' {
        while name.ends_with(b"/") {
            name.pop();
        }
    }
    if !prefix.is_empty() && !matches!(type_byte, b'L' | b'K' | b'S') {
        name = [prefix, b"/".to_vec(), name].concat();
    }
    Ok(Header {
        name,
        size,
        type_byte,
        link,
        old_sparse,
    })
}

/// `TarInfo._block`: a count rounded up to whole blocks (Python's floor division for negatives).
fn blocks(count: i128) -> i128 {
    let b = i128::from(BLOCK);
    let up = if count.rem_euclid(b) != 0 { b } else { 0 };
    count.div_euclid(b).saturating_mul(b).saturating_add(up)
}

/// The state of one listing: the archive, the read position, the global pax fields.
struct Reader<'a> {
    source: &'a dyn ByteSource,
    position: u64,
    global_pax: Vec<(Vec<u8>, Vec<u8>)>,
}

/// A member being built: the header's reading plus what extended headers changed.
struct Pending {
    header: Header,
    /// `offset_data`.
    data_offset: u64,
    size: i128,
    sparse: Option<Vec<(i128, i128)>>,
    /// Where the next header starts (`tarfile.offset` after this member).
    next: i128,
}

impl Reader<'_> {
    /// `fileobj.read(count)`: up to `count` bytes from the position (a negative count reads to
    /// the end), at most [`MAX_EXTENDED`] of them kept; the position moves past all of them.
    fn read(&mut self, count: i128) -> Result<Vec<u8>, HeaderError> {
        let left = self.source.len().saturating_sub(self.position);
        let count = if count < 0 {
            left
        } else {
            u64::try_from(count).unwrap_or(u64::MAX).min(left)
        };
        if count > MAX_EXTENDED {
            return Err(HeaderError::Fatal(format!(
                "an extended header of {count} bytes (past {MAX_EXTENDED})"
            )));
        }
        let bytes = self
            .source
            .read_vec(self.position, usize::try_from(count).unwrap_or(0))
            .map_err(|e| HeaderError::Fatal(e.to_string()))?;
        self.position += bytes.len() as u64;
        Ok(bytes)
    }

    /// `TarInfo.fromtarfile`: a header at the position and what follows from its type.
    fn member(&mut self) -> Result<Pending, HeaderError> {
        let block = self.read(i128::from(BLOCK))?;
        let header = parse_header(&block)?;
        match header.type_byte {
            b'L' | b'K' => {
                let data = self.read(blocks(header.size))?;
                let mut next = self.member().map_err(subsequent)?;
                if header.type_byte == b'L' {
                    next.header.name = nts(&data).to_vec();
                    if next.header.type_byte == b'5' && next.header.name.ends_with(b"/") {
                        next.header.name.pop();
                    }
                } else {
                    next.header.link = nts(&data).to_vec();
                }
                Ok(next)
            }
            b'S' => {
                let (mut runs, mut extended, real_size) =
                    header.old_sparse.clone().unwrap_or_default();
                while extended {
                    let block = self.read(i128::from(BLOCK))?;
                    if block.len() < 512 {
                        return Err(HeaderError::Fatal("sparse extension cut short".into()));
                    }
                    for i in 0..21 {
                        let at = 24 * i;
                        let offset = nti(&block[at..at + 12])?;
                        let len = nti(&block[at + 12..at + 24])?;
                        if offset != 0 && len != 0 {
                            runs.push((offset, len));
                        }
                    }
                    if runs.len() > MAX_SPARSE_RUNS {
                        return Err(HeaderError::Fatal("sparse map too large".into()));
                    }
                    extended = block[504] != 0;
                }
                let data_offset = self.position;
                let next = i128::from(data_offset).saturating_add(blocks(header.size));
                Ok(Pending {
                    size: real_size,
                    sparse: Some(runs),
                    header,
                    data_offset,
                    next,
                })
            }
            b'x' | b'g' | b'X' => self.pax(header),
            _ => {
                let data_offset = self.position;
                let next = if is_file_type(header.type_byte) {
                    i128::from(data_offset).saturating_add(blocks(header.size))
                } else {
                    i128::from(data_offset)
                };
                let mut pending = Pending {
                    size: header.size,
                    sparse: None,
                    header,
                    data_offset,
                    next,
                };
                let global = self.global_pax.clone();
                apply_pax_fields(&mut pending, &global)?;
                Ok(pending)
            }
        }
    }

    /// `TarInfo._proc_pax`.
    fn pax(&mut self, header: Header) -> Result<Pending, HeaderError> {
        let data = self.read(blocks(header.size))?;
        let mut fields = if header.type_byte == b'g' {
            Vec::new()
        } else {
            self.global_pax.clone()
        };
        let records = pax_records(&data)?;
        if header.type_byte == b'g' {
            for (key, value) in &records {
                set_field(&mut self.global_pax, key, value);
            }
            fields = self.global_pax.clone();
        } else {
            for (key, value) in &records {
                set_field(&mut fields, key, value);
            }
        }
        let mut next = self.member().map_err(subsequent)?;
        let field = |key: &[u8]| {
            fields
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.clone())
        };
        if let Some(map) = field(b"GNU.sparse.map") {
            let numbers = map
                .split(|b| *b == b',')
                .map(|n| py_int(n, 10))
                .collect::<Option<Vec<i128>>>()
                .ok_or_else(|| HeaderError::Fatal("GNU.sparse.map is not numbers".into()))?;
            next.sparse = Some(numbers.chunks_exact(2).map(|p| (p[0], p[1])).collect());
        } else if field(b"GNU.sparse.size").is_some() {
            let offsets = numbered_records(&data, b"GNU.sparse.offset=");
            let lengths = numbered_records(&data, b"GNU.sparse.numbytes=");
            next.sparse = Some(offsets.into_iter().zip(lengths).collect());
        } else if field(b"GNU.sparse.major").as_deref() == Some(b"1")
            && field(b"GNU.sparse.minor").as_deref() == Some(b"0")
        {
            // The map is the first lines of the member's data: a count, then offset/length pairs.
            let mut text = self.read(i128::from(BLOCK))?;
            let mut lines = Vec::new();
            let mut wanted: Option<i128> = None;
            loop {
                if let Some(count) = wanted
                    && lines.len() as i128 >= count.saturating_mul(2)
                {
                    break;
                }
                let Some(at) = text.iter().position(|b| *b == b'\n') else {
                    let more = self.read(i128::from(BLOCK))?;
                    if more.is_empty() {
                        return Err(HeaderError::Fatal("sparse map cut short".into()));
                    }
                    text.extend_from_slice(&more);
                    continue;
                };
                let number = py_int(&text[..at], 10)
                    .ok_or_else(|| HeaderError::Fatal("sparse map is not numbers".into()))?;
                text.drain(..=at);
                if wanted.is_none() {
                    wanted = Some(number);
                } else {
                    lines.push(number);
                }
                if lines.len() > 2 * MAX_SPARSE_RUNS {
                    return Err(HeaderError::Fatal("sparse map too large".into()));
                }
            }
            next.data_offset = self.position;
            next.sparse = Some(lines.chunks_exact(2).map(|p| (p[0], p[1])).collect());
        }
        if header.type_byte != b'g' {
            apply_pax_fields(&mut next, &fields)?;
            if fields.iter().any(|(k, _)| k == b"size") {
                let data = if is_file_type(next.header.type_byte) {
                    blocks(next.size)
                } else {
                    0
                };
                next.next = i128::from(next.data_offset).saturating_add(data);
            }
        }
        Ok(next)
    }
}

/// An error in the header after a long-name or pax header: `tarfile` raises it.
fn subsequent(err: HeaderError) -> HeaderError {
    match err {
        HeaderError::Fatal(why) => HeaderError::Fatal(why),
        HeaderError::Invalid(why) => HeaderError::Fatal(why),
        HeaderError::Empty => HeaderError::Fatal("empty header".into()),
        HeaderError::Truncated => HeaderError::Fatal("truncated header".into()),
        HeaderError::EndOfArchive => HeaderError::Fatal("end of file header".into()),
    }
}

/// A type `tarfile` reads data for: the regular types and every type it does not know.
fn is_file_type(type_byte: u8) -> bool {
    !matches!(
        type_byte,
        b'1' | b'2' | b'3' | b'4' | b'5' | b'6' | b'L' | b'K'
    )
}

/// Sets a pax field (a later record replaces an earlier one).
fn set_field(fields: &mut Vec<(Vec<u8>, Vec<u8>)>, key: &[u8], value: &[u8]) {
    if let Some(slot) = fields.iter_mut().find(|(k, _)| k == key) {
        slot.1 = value.to_vec();
    } else {
        fields.push((key.to_vec(), value.to_vec()));
    }
}

/// The records of a pax header as `_proc_pax` reads them: from the start, `(\d+) ([^=]+)=` then
/// the value up to the record's declared end (minus its newline); a zero length is invalid.
fn pax_records(data: &[u8]) -> Result<Vec<PaxField>, HeaderError> {
    let mut out = Vec::new();
    let mut pos = 0usize;
    loop {
        let rest = data.get(pos..).unwrap_or_default();
        let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
        if digits == 0 || rest.get(digits) != Some(&b' ') {
            break;
        }
        let key_start = digits + 1;
        let key_len = rest[key_start..].iter().take_while(|b| **b != b'=').count();
        if key_len == 0 || rest.get(key_start + key_len) != Some(&b'=') {
            break;
        }
        let length: usize = std::str::from_utf8(&rest[..digits])
            .ok()
            .and_then(|d| d.parse::<u128>().ok())
            .map_or(usize::MAX, |n| usize::try_from(n).unwrap_or(usize::MAX));
        if length == 0 {
            return Err(HeaderError::Invalid("invalid header".into()));
        }
        let key = rest[key_start..key_start + key_len].to_vec();
        let value_start = key_start + key_len + 1;
        let value_end = length.saturating_sub(1).min(rest.len());
        let value = rest
            .get(value_start..value_end.max(value_start))
            .unwrap_or_default()
            .to_vec();
        out.push((key, value));
        pos = pos.saturating_add(length);
        if pos >= data.len() {
            break;
        }
    }
    Ok(out)
}

/// Every `\d+ <key>(\d+)\n` in a pax header (`_proc_gnusparse_00`), in order.
fn numbered_records(data: &[u8], key: &[u8]) -> Vec<i128> {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(found) = find(&data[from..], key) {
        let at = from + found;
        from = at + key.len();
        // A record: digits and a space right before the key.
        let before = &data[..at];
        let has_length = before.last() == Some(&b' ')
            && before[..before.len() - 1]
                .last()
                .is_some_and(|b| b.is_ascii_digit());
        let value = data[from..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        if has_length
            && value > 0
            && data.get(from + value) == Some(&b'\n')
            && let Some(n) = py_int(&data[from..from + value], 10)
        {
            out.push(n);
        }
    }
    out
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// `TarInfo._apply_pax_info`: path, linkpath and size (and GNU.sparse.name/size/realsize).
fn apply_pax_fields(pending: &mut Pending, fields: &PaxFields) -> Result<(), HeaderError> {
    for (key, value) in fields {
        match key.as_slice() {
            b"GNU.sparse.name" => pending.header.name = value.clone(),
            b"GNU.sparse.size" | b"GNU.sparse.realsize" => {
                let text = std::str::from_utf8(value).unwrap_or("");
                pending.size = py_int(text.as_bytes(), 10).ok_or_else(|| {
                    HeaderError::Fatal(format!("{} is not a number", String::from_utf8_lossy(key)))
                })?;
            }
            b"path" => {
                let mut name = value.clone();
                while name.ends_with(b"/") {
                    name.pop();
                }
                pending.header.name = name;
            }
            b"linkpath" => pending.header.link = value.clone(),
            b"size" => pending.size = py_int(value, 10).unwrap_or(0),
            _ => {}
        }
    }
    if pending.header.type_byte == b'5' {
        while pending.header.name.ends_with(b"/") {
            pending.header.name.pop();
        }
    }
    Ok(())
}

/// Lists the members of a tar, in archive order, as `TarFile.getmembers` does. Members read
/// before the listing stopped on an error `tarfile` raises are returned with the reason.
pub fn members(source: &dyn ByteSource) -> (Vec<TarMember>, Option<TarStop>) {
    let mut reader = Reader {
        source,
        position: 0,
        global_pax: Vec::new(),
    };
    let mut out: Vec<TarMember> = Vec::new();
    let mut seen: HashSet<u64> = HashSet::new();
    let mut offset: i128 = 0;
    loop {
        if out.len() >= MAX_HEADERS {
            return (
                out,
                Some(TarStop(format!("more than {MAX_HEADERS} members"))),
            );
        }
        // `TarFile.next`: a member whose data runs past the end is an error.
        if offset > 0 && offset > i128::from(source.len()) {
            return (out, Some(TarStop("unexpected end of data".into())));
        }
        let Ok(at) = u64::try_from(offset) else {
            return (
                out,
                Some(TarStop("a member size moves before the start".into())),
            );
        };
        if !seen.insert(at) {
            // `tarfile` would read the same headers again forever: no loader finishes it.
            return (
                out,
                Some(TarStop(
                    "member sizes loop back to an earlier header".into(),
                )),
            );
        }
        reader.position = at;
        match reader.member() {
            Ok(pending) => {
                offset = pending.next;
                if let Some(map) = &pending.sparse
                    && (map.len() > MAX_SPARSE_RUNS
                        || (map.len() > MAX_UNORDERED_RUNS
                            && !map
                                .windows(2)
                                .all(|w| w[0].0.saturating_add(w[0].1) <= w[1].0)))
                {
                    let why = "a sparse map too large or out of order";
                    return (out, Some(TarStop(format!("{why} at byte {at}"))));
                }
                out.push(TarMember {
                    name: String::from_utf8_lossy(&pending.header.name).into_owned(),
                    type_byte: pending.header.type_byte,
                    link: String::from_utf8_lossy(&pending.header.link).into_owned(),
                    offset: pending.data_offset,
                    size: u64::try_from(pending.size).unwrap_or(0),
                    sparse: pending.sparse,
                });
            }
            Err(HeaderError::EndOfArchive) => return (out, None),
            Err(HeaderError::Empty) if at != 0 => return (out, None),
            Err(HeaderError::Truncated) if at != 0 => return (out, None),
            Err(HeaderError::Invalid(why)) if at != 0 => {
                // `tarfile` ends its listing here without an error; the bytes from here on are
                // not part of the archive to it, though another reader may see members there.
                return (out, Some(TarStop(format!("{why} at byte {at}"))));
            }
            Err(HeaderError::Empty) => return (out, Some(TarStop("empty file".into()))),
            Err(HeaderError::Truncated) => return (out, Some(TarStop("truncated header".into()))),
            Err(HeaderError::Invalid(why) | HeaderError::Fatal(why)) => {
                return (out, Some(TarStop(format!("{why} at byte {at}"))));
            }
        }
    }
}

/// A member's bytes: a window of the archive, or a sparse member's runs laid out with zeros in
/// the holes (`tarfile._FileInFile`).
pub struct TarMemberSource<'a> {
    parent: &'a dyn ByteSource,
    size: u64,
    /// `(is data, start, stop, archive offset)` in the member, in `_FileInFile`'s order.
    map: Vec<(bool, i128, i128, i128)>,
    /// Whether the runs are in order and do not overlap (then a binary search finds one).
    ordered: bool,
}

impl<'a> TarMemberSource<'a> {
    fn new(
        parent: &'a dyn ByteSource,
        offset: u64,
        size: u64,
        sparse: Option<&[(i128, i128)]>,
    ) -> TarMemberSource<'a> {
        let whole = [(0, i128::from(size))];
        let runs = sparse.unwrap_or(&whole);
        let mut map = Vec::with_capacity(runs.len() * 2 + 1);
        let mut last: i128 = 0;
        let mut stored = i128::from(offset);
        for (start, len) in runs {
            if *start > last {
                map.push((false, last, *start, 0));
            }
            let stop = start.saturating_add(*len);
            map.push((true, *start, stop, stored));
            stored = stored.saturating_add(*len);
            last = stop;
        }
        if last < i128::from(size) {
            map.push((false, last, i128::from(size), 0));
        }
        let ordered = map.windows(2).all(|w| w[0].2 <= w[1].1) && map.iter().all(|r| r.1 <= r.2);
        TarMemberSource {
            parent,
            size,
            map,
            ordered,
        }
    }

    /// The first run holding `position`, as `_FileInFile.read` finds it.
    fn run_at(&self, position: i128) -> Option<&(bool, i128, i128, i128)> {
        if self.ordered {
            let at = self.map.partition_point(|r| r.2 <= position);
            self.map
                .get(at)
                .filter(|r| r.1 <= position && position < r.2)
        } else {
            self.map.iter().find(|r| r.1 <= position && position < r.2)
        }
    }
}

impl ByteSource for TarMemberSource<'_> {
    fn len(&self) -> u64 {
        self.size
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        if offset >= self.size || buf.is_empty() {
            return Ok(0);
        }
        let position = i128::from(offset);
        // A position no run holds: `tarfile` searches forever; nothing is read.
        let Some(&(data, start, stop, stored)) = self.run_at(position) else {
            return Ok(0);
        };
        let end = stop.min(i128::from(self.size));
        let want = usize::try_from(end.saturating_sub(position))
            .unwrap_or(usize::MAX)
            .min(buf.len());
        if !data {
            buf[..want].fill(0);
            return Ok(want);
        }
        let from = stored.saturating_add(position.saturating_sub(start));
        let Ok(from) = u64::try_from(from) else {
            return Ok(0);
        };
        self.parent.read_at(from, &mut buf[..want])
    }
}

/// The path a member extracts to under the destination, as `os.path.normpath` spells it
/// (`./a//b/../c` → `a/c`); names that climb out keep their `..`.
pub fn normalized(name: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    let absolute = name.starts_with('/');
    for part in name.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|p| *p != "..") {
                    parts.pop();
                } else if !absolute {
                    parts.push("..");
                }
            }
            other => parts.push(other),
        }
    }
    let joined = parts.join("/");
    if absolute {
        format!("/{joined}")
    } else {
        joined
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_normalise_as_normpath() {
        assert_eq!(normalized("./model_config.yaml"), "model_config.yaml");
        assert_eq!(normalized("a/../model_config.yaml"), "model_config.yaml");
        assert_eq!(normalized("a//b/./c"), "a/b/c");
        assert_eq!(normalized("../x"), "../x");
        assert_eq!(normalized("/a/../b"), "/b");
    }

    #[test]
    fn numbers_read_as_python_int_reads_them() {
        assert_eq!(py_int(b"0000644", 8), Some(0o644));
        assert_eq!(py_int(b" 12 ", 8), Some(0o12));
        assert_eq!(py_int(b"1_0", 8), Some(8));
        assert_eq!(py_int(b"0o17", 8), Some(15));
        assert_eq!(py_int(b"0o_17", 8), Some(15));
        assert_eq!(py_int(b"+7", 8), Some(7));
        assert_eq!(py_int(b"-7", 8), Some(-7));
        assert_eq!(py_int(b"1__0", 8), None);
        assert_eq!(py_int(b"_1", 8), None);
        assert_eq!(py_int(b"8", 8), None);
        assert_eq!(py_int(b"", 8), None);
        assert_eq!(nti(b"\x80\0\0\0\0\0\0\x05").ok(), Some(5));
        assert_eq!(nti(b"\xff\xff\xff\xff\xff\xff\xff\xff").ok(), Some(-1));
        assert_eq!(nti(b"\0\0\0\0\0\0\0\0").ok(), Some(0));
        assert_eq!(nti(b"  \0junk").ok(), Some(0));
    }

    #[test]
    fn extreme_sparse_maps_do_not_overflow() {
        let archive = crate::MemorySource::new(b"abcd".to_vec());
        let member = TarMember {
            name: "s".into(),
            type_byte: b'S',
            link: String::new(),
            offset: 0,
            size: 8,
            sparse: Some(vec![
                (i128::MAX, i128::MAX),
                (-i128::MAX, i128::MAX),
                (0, 4),
            ]),
        };
        let _ = member.source(&archive).read_vec(0, 8);
        assert_eq!(blocks(i128::MAX), i128::MAX);
    }

    #[test]
    fn sparse_members_read_with_their_holes() {
        let archive = crate::MemorySource::new(b"....ABCDxy".to_vec());
        let member = TarMember {
            name: "s".into(),
            type_byte: b'S',
            link: String::new(),
            offset: 4,
            size: 12,
            sparse: Some(vec![(2, 4), (8, 2)]),
        };
        let source = member.source(&archive);
        assert_eq!(
            source.read_vec(0, 12).unwrap_or_default(),
            b"\0\0ABCD\0\0xy\0\0"
        );
        assert_eq!(source.read_vec(3, 2).unwrap_or_default(), b"BC");
        assert_eq!(member.stored_len(), 6);
    }
}
