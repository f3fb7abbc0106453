//! Parsing of remote scan arguments: `s3://`, `gs://`, `az://`, `abfs://`, `https://`, `hf://`.

use crate::Error;

/// Which object store a bucket URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cloud {
    /// Amazon S3 or an S3-compatible store (`s3://bucket/prefix`).
    S3,
    /// Google Cloud Storage (`gs://bucket/prefix`).
    Gcs,
    /// Azure Blob Storage (`az://container/prefix`, `abfs[s]://container@account.dfs.core.windows.net/prefix`).
    Azure,
}

impl Cloud {
    /// The `kind` written in a result's `source`.
    pub fn kind(self) -> &'static str {
        match self {
            Cloud::S3 => "s3",
            Cloud::Gcs => "gcs",
            Cloud::Azure => "azure",
        }
    }
}

/// One remote argument of `aigis scan`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Objects under a prefix of a bucket (or the one object the prefix names).
    Bucket {
        /// Which store.
        cloud: Cloud,
        /// The argument as given (store builders parse it again).
        url: String,
        /// Bucket or container name.
        bucket: String,
        /// Key prefix without leading or trailing `/` (empty: the whole bucket).
        prefix: String,
    },
    /// One file over HTTP(S).
    Http {
        /// The URL as given.
        url: String,
    },
    /// A Hugging Face Hub model repository at a revision.
    HuggingFace {
        /// `org/name`.
        repo: String,
        /// Branch, tag or commit (`main` when not given).
        revision: String,
    },
}

const SCHEMES: &[&str] = &[
    "s3://", "s3a://", "gs://", "az://", "azure://", "abfs://", "abfss://", "https://", "http://",
    "hf://",
];

/// True when `arg` names a remote location rather than a local path.
pub fn is_remote(arg: &str) -> bool {
    let lower = arg.to_ascii_lowercase();
    SCHEMES.iter().any(|s| lower.starts_with(s))
}

impl Target {
    /// Parses a remote argument.
    pub fn parse(arg: &str) -> Result<Target, Error> {
        let bad = |why: &str| Error::Target(format!("{arg}: {why}"));
        let (scheme, rest) = arg.split_once("://").ok_or_else(|| bad("not a URL"))?;
        let scheme = scheme.to_ascii_lowercase();
        match scheme.as_str() {
            "http" | "https" => {
                let url = url::Url::parse(arg).map_err(|e| bad(&e.to_string()))?;
                if url.query().is_some() {
                    return Err(bad("URLs with a query string are not supported"));
                }
                if url.path().ends_with('/') || url.path().is_empty() {
                    return Err(bad("an http(s) URL must name one file"));
                }
                Ok(Target::Http {
                    url: arg.to_string(),
                })
            }
            "hf" => {
                let rest = rest.trim_matches('/');
                let (repo, revision) = match rest.split_once('@') {
                    Some((repo, rev)) => (repo, rev),
                    None => (rest, "main"),
                };
                let parts: Vec<&str> = repo.split('/').collect();
                let valid = |s: &str| {
                    !s.is_empty()
                        && s != "."
                        && s != ".."
                        && s.chars()
                            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
                };
                if parts.len() != 2 || !parts.iter().all(|p| valid(p)) {
                    return Err(bad("expected hf://org/name[@revision]"));
                }
                if revision.is_empty() || revision.contains("..") || revision.starts_with('/') {
                    return Err(bad("bad revision"));
                }
                Ok(Target::HuggingFace {
                    repo: repo.to_string(),
                    revision: revision.to_string(),
                })
            }
            "s3" | "s3a" | "gs" | "az" | "azure" | "abfs" | "abfss" => {
                let cloud = match scheme.as_str() {
                    "s3" | "s3a" => Cloud::S3,
                    "gs" => Cloud::Gcs,
                    _ => Cloud::Azure,
                };
                let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
                // abfs://container@account.dfs.core.windows.net/path
                let bucket = authority.split('@').next().unwrap_or("");
                if bucket.is_empty() {
                    return Err(bad("no bucket or container name"));
                }
                Ok(Target::Bucket {
                    cloud,
                    url: arg.to_string(),
                    bucket: bucket.to_string(),
                    prefix: path.trim_matches('/').to_string(),
                })
            }
            _ => Err(bad("unknown scheme")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_scheme() {
        assert_eq!(
            Target::parse("s3://models/team/a").ok(),
            Some(Target::Bucket {
                cloud: Cloud::S3,
                url: "s3://models/team/a".into(),
                bucket: "models".into(),
                prefix: "team/a".into()
            })
        );
        match Target::parse("abfss://box@acct.dfs.core.windows.net/x/").ok() {
            Some(Target::Bucket {
                cloud: Cloud::Azure,
                bucket,
                prefix,
                ..
            }) => assert_eq!((bucket.as_str(), prefix.as_str()), ("box", "x")),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            Target::parse("hf://org/name@v1.0").ok(),
            Some(Target::HuggingFace {
                repo: "org/name".into(),
                revision: "v1.0".into()
            })
        );
        assert_eq!(
            Target::parse("hf://org/name").ok(),
            Some(Target::HuggingFace {
                repo: "org/name".into(),
                revision: "main".into()
            })
        );
        assert!(Target::parse("hf://org").is_err());
        assert!(Target::parse("hf://org/../x").is_err());
        assert!(Target::parse("https://h/x.pt?sig=1").is_err());
        assert!(Target::parse("https://h/dir/").is_err());
        assert!(Target::parse("s3:///x").is_err());
        assert!(is_remote("S3://b") && is_remote("hf://a/b") && !is_remote("models/s3:/x"));
    }
}
