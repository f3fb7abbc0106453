//! Building `object_store` clients from each cloud's standard environment, and reading the bucket
//! access configuration that `object_store` does not cover (S3 policy/ACL/Public Access Block
//! signed with `object_store`'s own SigV4 authorizer, Azure container properties signed with
//! Shared Key or a bearer token, GCS `getIamPolicy` with the GCS bearer token). Credentials are
//! never logged or put in messages.

use crate::exposure::Exposure;
use crate::{Error, RemoteOptions};
use base64::Engine as _;
use hmac::{KeyInit, Mac};
use object_store::ObjectStore;
use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey, AwsAuthorizer};
use object_store::azure::{AzureConfigKey, AzureCredential, MicrosoftAzureBuilder};
use object_store::client::HttpRequestBody;
use object_store::gcp::GoogleCloudStorageBuilder;
use object_store::{BackoffConfig, ClientOptions, RetryConfig};
use reqwest::StatusCode;
use std::sync::Arc;
use std::time::Duration;

/// A store plus what is needed to read the bucket's access configuration.
pub(crate) struct BucketStore {
    pub store: Arc<dyn ObjectStore>,
    pub access: AccessReader,
}

/// How to read one bucket's access configuration.
pub(crate) enum AccessReader {
    S3 {
        store: Arc<object_store::aws::AmazonS3>,
        bucket: String,
        region: String,
        /// Path-style base URL (custom endpoint), or `None` for AWS virtual-hosted style.
        endpoint: Option<String>,
        anonymous: bool,
    },
    Azure {
        store: Arc<object_store::azure::MicrosoftAzure>,
        /// `{account url}/{container}`.
        container_url: String,
        account: String,
        access_key: Option<String>,
        anonymous: bool,
    },
    Gcs {
        store: Arc<object_store::gcp::GoogleCloudStorage>,
        bucket: String,
        iam_url: String,
        anonymous: bool,
    },
}

/// Retries with exponential backoff for transient failures (5xx, timeouts, connection resets).
pub(crate) fn retry_config() -> RetryConfig {
    RetryConfig {
        backoff: BackoffConfig {
            init_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(5),
            base: 2.0,
        },
        max_retries: 5,
        retry_timeout: Duration::from_secs(60),
    }
}

/// True when `url`'s host is a loopback address (plain HTTP is then allowed without asking).
pub(crate) fn is_loopback(url: &str) -> bool {
    let Ok(parsed) = url::Url::parse(url) else {
        return false;
    };
    match parsed.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// Client options shared by every store: HTTP allowed only for loopback or `--allow-http`.
pub(crate) fn client_options(options: &RemoteOptions, endpoint: Option<&str>) -> ClientOptions {
    let allow_http = options.allow_http || endpoint.is_some_and(is_loopback);
    ClientOptions::new()
        .with_allow_http(allow_http)
        .with_connect_timeout(Duration::from_secs(10))
        .with_timeout(Duration::from_secs(120))
}

/// Whether any of these environment variables is set (non-empty).
fn any_env(names: &[&str]) -> bool {
    names
        .iter()
        .any(|n| std::env::var_os(n).is_some_and(|v| !v.is_empty()))
}

/// Whether this machine is a VM of the given cloud (its firmware says so): only there is an
/// instance metadata endpoint worth asking for credentials, anywhere else asking hangs.
fn on_cloud(vendor_markers: &[&str]) -> bool {
    [
        "/sys/class/dmi/id/sys_vendor",
        "/sys/class/dmi/id/board_vendor",
        "/sys/class/dmi/id/product_name",
        "/sys/hypervisor/uuid",
    ]
    .iter()
    .filter_map(|f| std::fs::read_to_string(f).ok())
    .any(|text| {
        vendor_markers
            .iter()
            .any(|m| text.to_ascii_lowercase().contains(m))
    })
}

fn no_credentials(cloud: &str, how: &str) -> Error {
    Error::Credentials(format!(
        "no credentials found for {cloud} ({how}), and this is not a {cloud} VM whose \
         instance credentials could be asked for; for a public bucket use --anonymous"
    ))
}

fn env_true(name: &str) -> bool {
    std::env::var(name).is_ok_and(|v| matches!(v.to_ascii_lowercase().as_str(), "1" | "true"))
}

pub(crate) fn s3(bucket: &str, options: &RemoteOptions) -> Result<BucketStore, Error> {
    let mut builder = AmazonS3Builder::from_env()
        .with_bucket_name(bucket)
        .with_retry(retry_config());
    if let Some(endpoint) = &options.endpoint {
        builder = builder.with_endpoint(endpoint);
    }
    if options.anonymous {
        builder = builder.with_skip_signature(true);
    } else if !any_env(&[
        "AWS_ACCESS_KEY_ID",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_SKIP_SIGNATURE",
    ]) && !on_cloud(&["amazon", "ec2"])
    {
        return Err(no_credentials(
            "s3",
            "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, plus AWS_SESSION_TOKEN for \
             temporary ones",
        ));
    }
    let endpoint = builder.get_config_value(&AmazonS3ConfigKey::Endpoint);
    let region = builder
        .get_config_value(&AmazonS3ConfigKey::Region)
        .unwrap_or_else(|| "us-east-1".to_string());
    let anonymous = builder
        .get_config_value(&AmazonS3ConfigKey::SkipSignature)
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let store = Arc::new(
        builder
            .with_client_options(client_options(options, endpoint.as_deref()))
            .build()
            .map_err(|e| Error::Store(e.to_string()))?,
    );
    Ok(BucketStore {
        store: store.clone(),
        access: AccessReader::S3 {
            store,
            bucket: bucket.to_string(),
            region,
            endpoint,
            anonymous,
        },
    })
}

pub(crate) fn azure(
    url: &str,
    container: &str,
    options: &RemoteOptions,
) -> Result<BucketStore, Error> {
    let mut builder = MicrosoftAzureBuilder::from_env()
        .with_url(url)
        .with_retry(retry_config());
    if let Some(endpoint) = &options.endpoint {
        builder = builder.with_endpoint(endpoint.clone());
    }
    let has_credentials = std::env::vars_os().any(|(k, v)| {
        let k = k.to_string_lossy();
        !v.is_empty()
            && (k.starts_with("AZURE_STORAGE_")
                || k.starts_with("AZURE_CLIENT_")
                || k == "AZURE_FEDERATED_TOKEN_FILE"
                || k == "AZURE_SKIP_SIGNATURE")
    });
    if options.anonymous {
        builder = builder.with_skip_signature(true);
    } else if !has_credentials && !on_cloud(&["microsoft corporation"]) {
        return Err(no_credentials(
            "azure",
            "set AZURE_STORAGE_ACCOUNT_KEY or AZURE_STORAGE_SAS_KEY, or AZURE_CLIENT_ID with a \
             secret or federated token",
        ));
    }
    let endpoint = builder.get_config_value(&AzureConfigKey::Endpoint);
    let emulator = builder
        .get_config_value(&AzureConfigKey::UseEmulator)
        .is_some_and(|v| v.eq_ignore_ascii_case("true"))
        || env_true("AZURE_STORAGE_USE_EMULATOR");
    let store = Arc::new(
        builder
            .clone()
            .with_client_options(client_options(options, endpoint.as_deref()))
            .build()
            .map_err(|e| Error::Store(e.to_string()))?,
    );
    // `with_url` is parsed only at build time: take the account from an
    // `abfs[s]://container@account.dfs.core.windows.net/` URL ourselves.
    let account = url
        .split_once("://")
        .and_then(|(_, rest)| rest.split('/').next())
        .and_then(|authority| authority.split_once('@'))
        .and_then(|(_, host)| host.split('.').next())
        .filter(|a| !a.is_empty())
        .map(str::to_string)
        .or_else(|| builder.get_config_value(&AzureConfigKey::AccountName))
        .unwrap_or_else(|| "devstoreaccount1".to_string());
    let account_url = match (&endpoint, emulator) {
        (Some(ep), _) => ep.trim_end_matches('/').to_string(),
        (None, true) => {
            let base = std::env::var("AZURITE_BLOB_STORAGE_URL")
                .unwrap_or_else(|_| "http://127.0.0.1:10000".to_string());
            format!("{}/{account}", base.trim_end_matches('/'))
        }
        (None, false) => format!("https://{account}.blob.core.windows.net"),
    };
    let mut access_key = builder.get_config_value(&AzureConfigKey::AccessKey);
    if access_key.is_none() && emulator {
        access_key = Some(AZURITE_KEY.to_string());
    }
    let anonymous = builder
        .get_config_value(&AzureConfigKey::SkipSignature)
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    Ok(BucketStore {
        store: store.clone(),
        access: AccessReader::Azure {
            store,
            container_url: format!("{account_url}/{container}"),
            account,
            access_key,
            anonymous,
        },
    })
}

/// The documented, public key of the Azure storage emulator's `devstoreaccount1`.
const AZURITE_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

pub(crate) fn gcs(bucket: &str, options: &RemoteOptions) -> Result<BucketStore, Error> {
    let mut builder = GoogleCloudStorageBuilder::from_env()
        .with_bucket_name(bucket)
        .with_retry(retry_config());
    if options.anonymous {
        builder = builder.with_skip_signature(true);
    } else if !any_env(&[
        "GOOGLE_APPLICATION_CREDENTIALS",
        "GOOGLE_SERVICE_ACCOUNT",
        "GOOGLE_SERVICE_ACCOUNT_PATH",
        "GOOGLE_SERVICE_ACCOUNT_KEY",
        "GOOGLE_SKIP_SIGNATURE",
    ]) && !on_cloud(&["google"])
    {
        return Err(no_credentials(
            "gcs",
            "set GOOGLE_APPLICATION_CREDENTIALS to a service-account key file",
        ));
    }
    let anonymous = builder
        .get_config_value(&object_store::gcp::GoogleConfigKey::SkipSignature)
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let store = Arc::new(
        builder
            .with_client_options(client_options(options, options.endpoint.as_deref()))
            .build()
            .map_err(|e| Error::Store(e.to_string()))?,
    );
    let base = options
        .endpoint
        .clone()
        .unwrap_or_else(|| "https://storage.googleapis.com".to_string());
    Ok(BucketStore {
        store: store.clone(),
        access: AccessReader::Gcs {
            store,
            bucket: bucket.to_string(),
            iam_url: format!(
                "{}/storage/v1/b/{}/iam",
                base.trim_end_matches('/'),
                percent_encoding::utf8_percent_encode(bucket, percent_encoding::NON_ALPHANUMERIC)
            ),
            anonymous,
        },
    })
}

/// What one configuration request returned.
enum Fetched {
    Body(String),
    /// 404 with one of the "not configured" codes.
    NotSet,
    /// Anything else: recorded as a failure for `STORAGE-ACCESS-UNKNOWN`.
    Failed(String),
}

async fn send(
    client: &reqwest::Client,
    request: reqwest::Request,
    what: &str,
    not_set: &[&str],
) -> Fetched {
    match client.execute(request).await {
        Ok(response) => {
            let status = response.status();
            let body = response.text().await.unwrap_or_default();
            if status.is_success() {
                Fetched::Body(body)
            } else if status == StatusCode::NOT_FOUND
                && not_set.iter().any(|code| body.contains(code))
            {
                Fetched::NotSet
            } else {
                let code = crate::exposure::xml_text(&body, "Code")
                    .map(|c| format!(" {}", c.trim()))
                    .unwrap_or_default();
                Fetched::Failed(format!("{what}: HTTP {}{code}", status.as_u16()))
            }
        }
        Err(err) => Fetched::Failed(format!("{what}: {}", without_url(&err))),
    }
}

/// A reqwest error's text without the URL (which may carry a SAS token).
fn without_url(err: &reqwest::Error) -> String {
    let mut text = err.to_string();
    if let Some(url) = err.url() {
        text = text.replace(url.as_str(), "<url>");
    }
    text
}

impl AccessReader {
    /// Reads and interprets the bucket's access configuration.
    pub(crate) async fn read(&self, client: &reqwest::Client) -> Exposure {
        match self {
            AccessReader::S3 {
                store,
                bucket,
                region,
                endpoint,
                anonymous,
            } => {
                if *anonymous {
                    return Exposure::s3(
                        bucket,
                        None,
                        None,
                        None,
                        vec!["no credentials (unsigned requests)".into()],
                    );
                }
                let credential = match store.credentials().get_credential().await {
                    Ok(c) => c,
                    Err(_) => {
                        return Exposure::s3(
                            bucket,
                            None,
                            None,
                            None,
                            vec!["no AWS credentials found".into()],
                        );
                    }
                };
                let base = match endpoint {
                    Some(ep) => format!("{}/{bucket}", ep.trim_end_matches('/')),
                    None => format!("https://{bucket}.s3.{region}.amazonaws.com"),
                };
                let mut failures = Vec::new();
                let get = |sub: &str| -> Result<reqwest::Request, String> {
                    let url = format!("{base}/?{sub}");
                    let mut request = http::Request::builder()
                        .method("GET")
                        .uri(&url)
                        .body(HttpRequestBody::from(Vec::<u8>::new()))
                        .map_err(|e| format!("{sub}: {e}"))?;
                    AwsAuthorizer::new(&credential, "s3", region)
                        .try_authorize(&mut request, None)
                        .map_err(|_| format!("{sub}: signing failed"))?;
                    let mut out = client
                        .get(&url)
                        .build()
                        .map_err(|e| format!("{sub}: {e}"))?;
                    for (name, value) in request.headers() {
                        out.headers_mut().insert(name.clone(), value.clone());
                    }
                    Ok(out)
                };
                let fetch = async |sub: &str, what: &str, not_set: &[&str]| match get(sub) {
                    Ok(request) => send(client, request, what, not_set).await,
                    Err(e) => Fetched::Failed(e),
                };
                let policy = fetch("policy", "GetBucketPolicy", &["NoSuchBucketPolicy"]).await;
                let acl = fetch("acl", "GetBucketAcl", &[]).await;
                let pab = fetch(
                    "publicAccessBlock",
                    "GetPublicAccessBlock",
                    &["NoSuchPublicAccessBlockConfiguration"],
                )
                .await;
                let policy = match policy {
                    Fetched::Body(text) => match serde_json::from_str(&text) {
                        Ok(v) => Some(v),
                        Err(_) => {
                            failures.push("GetBucketPolicy: not a JSON policy".into());
                            None
                        }
                    },
                    Fetched::NotSet => None,
                    Fetched::Failed(why) => {
                        failures.push(why);
                        None
                    }
                };
                let acl = match acl {
                    Fetched::Body(text) => Some(text),
                    Fetched::NotSet => None,
                    Fetched::Failed(why) => {
                        failures.push(why);
                        None
                    }
                };
                let pab = match pab {
                    Fetched::Body(text) => Some(Some(text)),
                    Fetched::NotSet => Some(None),
                    Fetched::Failed(why) => {
                        failures.push(why);
                        None
                    }
                };
                Exposure::s3(
                    bucket,
                    policy,
                    acl.as_deref(),
                    pab.as_ref().map(|p| p.as_deref()),
                    failures,
                )
            }
            AccessReader::Azure {
                store,
                container_url,
                account,
                access_key,
                anonymous,
            } => {
                let mut url = format!("{container_url}?restype=container&comp=acl");
                let date = chrono::Utc::now()
                    .format("%a, %d %b %Y %H:%M:%S GMT")
                    .to_string();
                let mut builder = client
                    .get(&url)
                    .header("x-ms-date", &date)
                    .header("x-ms-version", AZURE_VERSION);
                // Canonicalized resource: `/{account}{URL path}` (the path repeats the account
                // on path-style endpoints such as the emulator's).
                let path = url::Url::parse(container_url)
                    .map(|u| u.path().to_string())
                    .unwrap_or_default();
                if *anonymous {
                    return Exposure::azure(
                        container_url,
                        None,
                        vec!["no credentials (unsigned requests)".into()],
                    );
                }
                if let Some(key) = access_key {
                    let Ok(key) = base64::engine::general_purpose::STANDARD.decode(key) else {
                        return Exposure::azure(
                            container_url,
                            None,
                            vec!["the storage account key is not base64".into()],
                        );
                    };
                    let to_sign = format!(
                        "GET\n\n\n\n\n\n\n\n\n\n\n\nx-ms-date:{date}\nx-ms-version:{AZURE_VERSION}\n/{account}{path}\ncomp:acl\nrestype:container"
                    );
                    let Ok(mut mac) = hmac::Hmac::<sha2::Sha256>::new_from_slice(&key) else {
                        return Exposure::azure(container_url, None, vec!["bad key".into()]);
                    };
                    mac.update(to_sign.as_bytes());
                    let signature = base64::engine::general_purpose::STANDARD
                        .encode(mac.finalize().into_bytes());
                    builder =
                        builder.header("Authorization", format!("SharedKey {account}:{signature}"));
                } else {
                    match store.credentials().get_credential().await {
                        Ok(credential) => match credential.as_ref() {
                            AzureCredential::BearerToken(token) => {
                                builder = builder.bearer_auth(token);
                            }
                            AzureCredential::SASToken(pairs) => {
                                if let Ok(mut with_sas) = url::Url::parse(&url) {
                                    with_sas.query_pairs_mut().extend_pairs(pairs);
                                    url = with_sas.to_string();
                                }
                                builder = client
                                    .get(&url)
                                    .header("x-ms-date", &date)
                                    .header("x-ms-version", AZURE_VERSION);
                            }
                            AzureCredential::AccessKey(_) => {
                                return Exposure::azure(
                                    container_url,
                                    None,
                                    vec![
                                        "the account key is not available to sign requests".into(),
                                    ],
                                );
                            }
                        },
                        Err(_) => {
                            return Exposure::azure(
                                container_url,
                                None,
                                vec!["no Azure credentials found".into()],
                            );
                        }
                    }
                }
                let request = match builder.build() {
                    Ok(r) => r,
                    Err(e) => return Exposure::azure(container_url, None, vec![without_url(&e)]),
                };
                match client.execute(request).await {
                    Ok(response) if response.status().is_success() => {
                        let level = response
                            .headers()
                            .get("x-ms-blob-public-access")
                            .and_then(|v| v.to_str().ok())
                            .map(str::to_string);
                        Exposure::azure(container_url, level.as_deref(), vec![])
                    }
                    Ok(response) => {
                        let status = response.status().as_u16();
                        let code = response
                            .headers()
                            .get("x-ms-error-code")
                            .and_then(|v| v.to_str().ok())
                            .map(|c| format!(" {c}"))
                            .unwrap_or_default();
                        Exposure::azure(
                            container_url,
                            None,
                            vec![format!("GetContainerACL: HTTP {status}{code}")],
                        )
                    }
                    Err(e) => Exposure::azure(
                        container_url,
                        None,
                        vec![format!("GetContainerACL: {}", without_url(&e))],
                    ),
                }
            }
            AccessReader::Gcs {
                store,
                bucket,
                iam_url,
                anonymous,
            } => {
                if *anonymous {
                    return Exposure::gcs(
                        bucket,
                        None,
                        vec!["no credentials (unsigned requests)".into()],
                    );
                }
                let token = match store.credentials().get_credential().await {
                    Ok(c) => c.bearer.clone(),
                    Err(_) => {
                        return Exposure::gcs(
                            bucket,
                            None,
                            vec!["no GCS credentials found".into()],
                        );
                    }
                };
                let request = match client.get(iam_url).bearer_auth(token).build() {
                    Ok(r) => r,
                    Err(e) => return Exposure::gcs(bucket, None, vec![without_url(&e)]),
                };
                match send(client, request, "getIamPolicy", &[]).await {
                    Fetched::Body(text) => match serde_json::from_str(&text) {
                        Ok(policy) => Exposure::gcs(bucket, Some(&policy), vec![]),
                        Err(_) => {
                            Exposure::gcs(bucket, None, vec!["getIamPolicy: not JSON".into()])
                        }
                    },
                    Fetched::NotSet => Exposure::gcs(bucket, None, vec![]),
                    Fetched::Failed(why) => Exposure::gcs(bucket, None, vec![why]),
                }
            }
        }
    }
}

const AZURE_VERSION: &str = "2021-08-06";
