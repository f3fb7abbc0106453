//! Archive and compression plumbing shared by the container analyzers.

pub mod decoded;
pub mod zip_index;

/// True when an archive member name would land outside the extraction folder: absolute paths,
/// Windows drive or UNC prefixes, and `..` components.
pub fn escapes_root(name: &str) -> bool {
    let normalized = name.replace('\\', "/");
    normalized.starts_with('/')
        || normalized.as_bytes().get(1) == Some(&b':')
        || normalized.split('/').any(|part| part == "..")
}

#[cfg(test)]
mod tests {
    #[test]
    fn path_escapes() {
        for bad in ["../x", "a/../../b", "/etc/passwd", "C:\\x", "..\\x"] {
            assert!(super::escapes_root(bad), "{bad}");
        }
        for good in ["a/b.pkl", "archive/data/0", "..foo/x", "a..b"] {
            assert!(!super::escapes_root(good), "{good}");
        }
    }
}
