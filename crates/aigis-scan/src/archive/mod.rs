//! Archive and compression plumbing shared by the container analyzers.

pub mod decoded;
pub mod member;
pub mod sevenz_members;
pub mod tar_members;
pub mod walk;
pub mod zip_index;

/// True when an archive member name would land outside the extraction folder: absolute paths,
/// Windows drive or UNC prefixes, and `..` components.
pub fn escapes_root(name: &str) -> bool {
    let normalized = name.replace('\\', "/");
    normalized.starts_with('/')
        || normalized.as_bytes().get(1) == Some(&b':')
        || normalized.split('/').any(|part| part == "..")
}

/// Members kept past an archive's member cap because a loader opens them by name.
pub const MAX_ENTRY_POINTS_PAST_CAP: usize = 1024;

/// Whether a loader opens a member of this name directly: the pickle of a PyTorch archive, a
/// pickle/joblib/NumPy file, a config that names code (Keras, Hydra, MLflow), code itself. Past
/// an archive's member cap these are still examined, so that padding an archive with harmless
/// members cannot hide the one that runs.
pub fn loader_entry_point(name: &str) -> bool {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let lower = base.to_ascii_lowercase();
    const NAMES: &[&str] = &[
        "data.pkl",
        "constants.pkl",
        "pickle",
        "sys_info",
        "config.json",
        "metadata.json",
        "mlmodel",
        "model_config.yaml",
        "saved_model.pb",
        "keras_metadata.pb",
    ];
    const EXTENSIONS: &[&str] = &[
        ".pkl", ".pickle", ".joblib", ".pt", ".pth", ".bin", ".ckpt", ".npy", ".npz", ".py",
        ".keras", ".h5", ".hdf5", ".onnx", ".gguf", ".skops", ".nemo", ".yaml", ".yml", ".zip",
        ".tar", ".gz", ".7z",
    ];
    NAMES.contains(&lower.as_str()) || EXTENSIONS.iter().any(|e| lower.ends_with(e))
}

#[cfg(test)]
mod padding_tests {
    use crate::{MemorySource, ScanOptions, Scanner, Severity, Status};

    /// `pickle.dumps` of a `__reduce__` returning `(os.system, ('id',))`, protocol 2.
    const EVIL: &[u8] = b"\x80\x02cposix\nsystem\nq\x00X\x02\x00\x00\x00idq\x01\x85q\x02Rq\x03.";

    /// A stored (uncompressed) zip of `members`, written record by record.
    fn stored_zip(members: &[(String, &[u8])]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut central = Vec::new();
        for (name, data) in members {
            let offset = out.len() as u32;
            let crc = crc32fast::hash(data);
            let fixed = |sig: u32| {
                let mut r = sig.to_le_bytes().to_vec();
                r.extend_from_slice(&[20, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
                r.extend_from_slice(&crc.to_le_bytes());
                r.extend_from_slice(&(data.len() as u32).to_le_bytes());
                r.extend_from_slice(&(data.len() as u32).to_le_bytes());
                r.extend_from_slice(&(name.len() as u16).to_le_bytes());
                r.extend_from_slice(&[0, 0]);
                r
            };
            out.extend(fixed(0x0403_4b50));
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(data);
            let mut c = 0x0201_4b50u32.to_le_bytes().to_vec();
            c.extend_from_slice(&[20, 0]);
            c.extend_from_slice(&fixed(0)[4..]);
            c.extend_from_slice(&[0; 10]);
            c.extend_from_slice(&offset.to_le_bytes());
            c.extend_from_slice(name.as_bytes());
            central.extend(c);
        }
        let cd_offset = out.len() as u32;
        out.extend_from_slice(&central);
        out.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
        out.extend_from_slice(&[0; 4]);
        out.extend_from_slice(&(members.len() as u16).to_le_bytes());
        out.extend_from_slice(&(members.len() as u16).to_le_bytes());
        out.extend_from_slice(&(central.len() as u32).to_le_bytes());
        out.extend_from_slice(&cd_offset.to_le_bytes());
        out.extend_from_slice(&[0, 0]);
        out
    }

    fn tar_of(members: &[(String, &[u8])]) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        for (name, data) in members {
            let mut header = tar::Header::new_gnu();
            header.set_size(data.len() as u64);
            header.set_cksum();
            builder
                .append_data(&mut header, name, *data)
                .unwrap_or_else(|e| panic!("{e}"));
        }
        builder.into_inner().unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn padding_past_the_member_cap_does_not_hide_what_a_loader_opens() {
        let mut options = ScanOptions::default();
        options.analysis.limits.max_members = 10;
        let scanner = Scanner::new(options);
        let mut members: Vec<(String, &[u8])> = (0..50)
            .map(|i| (format!("archive/pad/{i}"), &b""[..]))
            .collect();
        members.push(("archive/data.pkl".into(), EVIL));
        for (what, bytes) in [("zip", stored_zip(&members)), ("tar", tar_of(&members))] {
            let result = scanner.scan_source(what.into(), &MemorySource::new(bytes));
            assert_eq!(result.status, Status::Invalid, "{what}: {result:?}");
            assert_eq!(result.max_severity, Some(Severity::Critical), "{what}");
        }
        assert!(super::loader_entry_point("archive/data.pkl"));
        assert!(super::loader_entry_point("x\\MLmodel"));
        assert!(!super::loader_entry_point("archive/data/0"));
    }
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
