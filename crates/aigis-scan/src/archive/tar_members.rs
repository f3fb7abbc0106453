//! Tar members as Python's `tarfile` sees them — the one place that decides a tar member's name,
//! kind and bytes for every analyzer of a tar-based format (`.nemo`, legacy PyTorch tars, plain
//! tars).
//!
//! - **Kinds**: `tarfile` extracts as a regular file every member whose type is a regular type
//!   (`0`, NUL, `7` contiguous, `S` GNU sparse) *and every type it does not know* (`V`, `M`, `D`,
//!   `8`…: `TarFile.makeunknown` writes their data as a file, `extractfile` returns it), so all
//!   of those are scanned. Links, folders, devices and FIFOs are not files; GNU long-name/-link
//!   and pax headers describe the next member.
//! - **Names**: cut at the first NUL (`tarfile.nts`), `prefix/name` for POSIX ustar headers, a
//!   folder's trailing `/` dropped; [`normalized`] is the path a member extracts to, relative to
//!   the destination (`os.path.normpath`), which decides which of two same-named members a loader
//!   ends up reading (the later one overwrites the earlier).

use crate::archive::walk::MemberKind;
use crate::{ByteSource, SourceReader};

/// One member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TarMember {
    /// The name `tarfile` gives it.
    pub name: String,
    /// The type byte of its header.
    pub type_byte: u8,
    /// Link target (links only).
    pub link: String,
    /// Offset of its data in the archive.
    pub offset: u64,
    /// Size of its data.
    pub size: u64,
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
            // Pax global headers are not members.
            b'g' | b'x' | b'X' | b'L' | b'K' => MemberKind::Dir,
            // Regular types, and every type `tarfile` does not know: extracted as files.
            _ => MemberKind::File,
        }
    }
}

/// Why a tar could not be listed (past the members already returned).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TarStop(pub String);

/// Lists the members of a tar, in archive order. Members read before a header the reader
/// refuses are returned with the reason it stopped.
pub fn members(source: &dyn ByteSource) -> (Vec<TarMember>, Option<TarStop>) {
    let mut archive = tar::Archive::new(SourceReader::new(source));
    let entries = match archive.entries_with_seek() {
        Ok(entries) => entries,
        Err(err) => return (Vec::new(), Some(TarStop(err.to_string()))),
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = match entry {
            Ok(entry) => entry,
            Err(err) => return (out, Some(TarStop(err.to_string()))),
        };
        // The raw byte: the tar crate maps NUL to `0`, which `tarfile` does not when the name
        // ends in `/`.
        let mut type_byte = entry.header().as_bytes()[156];
        let full = entry.path_bytes();
        let header = entry.header();
        let nts = |b: &[u8]| {
            b.iter()
                .position(|c| *c == 0)
                .map_or(b.to_vec(), |at| b[..at].to_vec())
        };
        let raw = if *full == *header.path_bytes() {
            // No long name or pax path: `tarfile` joins the prefix field whatever the magic
            // (`TarInfo.frombuf`), except for GNU special types.
            let block = header.as_bytes();
            let base = nts(&block[..100]);
            let prefix = nts(&block[345..500]);
            if prefix.is_empty() || matches!(type_byte, b'L' | b'K' | b'S') {
                base
            } else {
                [prefix, b"/".to_vec(), base].concat()
            }
        } else {
            nts(&full)
        };
        let mut name = String::from_utf8_lossy(&raw).into_owned();
        if type_byte == 0 && name.ends_with('/') {
            // An old-style regular file whose name ends in `/` is a folder (`TarInfo.frombuf`).
            type_byte = b'5';
        }
        if type_byte == b'5' && name.len() > 1 {
            name = name.trim_end_matches('/').to_string();
        }
        let link = entry
            .link_name_bytes()
            .map(|t| {
                let cut = t.iter().position(|b| *b == 0).map_or(&t[..], |at| &t[..at]);
                String::from_utf8_lossy(cut).into_owned()
            })
            .unwrap_or_default();
        out.push(TarMember {
            name,
            type_byte,
            link,
            offset: entry.raw_file_position(),
            size: entry.size(),
        });
    }
    (out, None)
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
}
