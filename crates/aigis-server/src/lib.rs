//! `aigis serve`: the inventory over HTTP.
//!
//! - A REST API under `/api/v1` — models (a page at a time, worst first, with a cursor), one
//!   model in full, findings and their triage, scans, changes, the security graph and attack
//!   paths — described by an OpenAPI 3.1 document generated from these handlers
//!   (`/api/v1/openapi.json`).
//! - `POST /api/v1/scans`: CI jobs and other hosts push the JSON report of
//!   `aigis scan --format json`; each push is one transaction (a bad document changes nothing).
//! - Bearer tokens with scopes (`read`, `ingest`, `admin`; `admin` implies the others), kept
//!   hashed in the inventory. Writes always need a token; reads need one unless the server
//!   listens only on loopback.
//! - `/healthz`, a body size limit, JSON errors (`{"error": {"status", "message"}}`) for every
//!   client mistake; a 5xx means the database failed, never the input.

use aigis_store::{
    AttackPath, EventRow, FindingRow, Graph, IngestSummary, JobRow, ModelDetail, ModelFilter,
    ModelRow, Overview, Page, QueueStats, ScanDocument, ScanMeta, ScanRow, Since, Store,
    StoreError, TriageState,
};
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::Value;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use utoipa::{IntoParams, OpenApi, ToSchema};

mod dashboard;

/// How the server runs.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Largest request body accepted (bytes).
    pub max_body: usize,
    /// Whether reads need a `read` token (always when listening beyond loopback).
    pub reads_need_token: bool,
}

impl Default for ServerConfig {
    fn default() -> ServerConfig {
        ServerConfig {
            max_body: 64 << 20,
            reads_need_token: false,
        }
    }
}

#[derive(Clone)]
struct AppState {
    store: Store,
    config: Arc<ServerConfig>,
}

/// A failed request, as JSON.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
}

/// The body of every error.
#[derive(serde::Serialize, ToSchema)]
struct ErrorBody {
    error: ErrorDetail,
}

#[derive(serde::Serialize, ToSchema)]
struct ErrorDetail {
    /// The HTTP status.
    status: u16,
    /// What went wrong.
    message: String,
}

impl ApiError {
    fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                status: self.status.as_u16(),
                message: self.message,
            },
        };
        let mut response = (self.status, Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer realm=\"aigis\""),
            );
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> ApiError {
        match err {
            StoreError::NotFound(message) => ApiError::new(StatusCode::NOT_FOUND, message),
            StoreError::Invalid(message) => ApiError::new(StatusCode::BAD_REQUEST, message),
            other => ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("the inventory failed: {other}"),
            ),
        }
    }
}

impl From<JsonRejection> for ApiError {
    /// 415 without a JSON content type, 413 past the body limit, else 400: a body that is not
    /// JSON and one that is JSON of the wrong shape are the same mistake to a client.
    fn from(rejection: JsonRejection) -> ApiError {
        let status = match rejection.status() {
            StatusCode::UNSUPPORTED_MEDIA_TYPE | StatusCode::PAYLOAD_TOO_LARGE => {
                rejection.status()
            }
            _ => StatusCode::BAD_REQUEST,
        };
        ApiError::new(status, rejection.body_text())
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, rejection.body_text())
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, rejection.body_text())
    }
}

type ApiResult<T> = Result<Json<T>, ApiError>;

/// Checks the request's bearer token has `scope` (`admin` has every scope). Reads pass without
/// a token when the server allows it.
async fn require(state: &AppState, headers: &HeaderMap, scope: &str) -> Result<(), ApiError> {
    // `X-Api-Key` is how Dependency-Track clients send their key.
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .or_else(|| headers.get("x-api-key").and_then(|v| v.to_str().ok()))
        .map(str::trim);
    let Some(token) = token else {
        if scope == "read" && !state.config.reads_need_token {
            return Ok(());
        }
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            format!("a bearer token with the `{scope}` scope is needed (aigis serve token create)"),
        ));
    };
    match state.store.token_scopes(token).await? {
        None => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unknown or revoked token",
        )),
        Some(scopes) if scopes.iter().any(|s| s == scope || s == "admin") => Ok(()),
        Some(_) => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            format!("this token lacks the `{scope}` scope"),
        )),
    }
}

/// The API: every route, with the state and body limit.
pub fn router(store: Store, config: ServerConfig) -> Router {
    let max_body = config.max_body;
    let state = AppState {
        store,
        config: Arc::new(config),
    };
    Router::new()
        .route("/healthz", get(healthz))
        .route("/api/v1/openapi.json", get(openapi))
        .route("/api/v1/overview", get(overview))
        .route("/api/v1/models", get(list_models))
        .route("/api/v1/models/{id}", get(get_model))
        .route("/api/v1/findings", get(list_findings))
        .route("/api/v1/findings/{id}/triage", post(triage))
        .route("/api/v1/scans", get(list_scans).post(ingest))
        .route("/api/v1/changes", get(list_changes))
        .route("/api/v1/jobs", get(list_jobs))
        .route("/api/v1/graph", get(graph))
        .route("/api/v1/paths", get(paths))
        .route(
            "/api/v1/bom",
            get(export_bom).put(upload_bom).post(upload_bom_form),
        )
        .route("/api/v1/bom/token/{token}", get(bom_token))
        .merge(dashboard::routes())
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(max_body))
        .layer(axum::middleware::from_fn(dashboard::security_headers))
        .with_state(state)
}

/// Serves `router` on `listener` until `shutdown` resolves; requests under way finish first.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}

async fn not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "no such route (see /api/v1/openapi.json)",
    )
}

/// Health.
#[derive(serde::Serialize, ToSchema)]
struct Health {
    /// `ok` when the inventory answers.
    status: &'static str,
    /// The inventory's schema version.
    schema_version: i64,
}

#[utoipa::path(get, path = "/healthz", tag = "server",
    responses((status = 200, description = "The server and its inventory answer", body = Health)))]
async fn healthz(State(state): State<AppState>) -> ApiResult<Health> {
    Ok(Json(Health {
        status: "ok",
        schema_version: state.store.schema_version().await?,
    }))
}

async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

/// Which models to list.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ModelQuery {
    /// Only this verdict: critical, high, medium, incomplete, low, info, none.
    verdict: Option<String>,
    /// Only names or identities containing this (case-insensitive).
    q: Option<String>,
    /// Also models no location holds any more.
    #[serde(default)]
    include_gone: bool,
    /// Page size, 1–500 (default 50).
    limit: Option<i64>,
    /// The `next` of the page before.
    cursor: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/models", tag = "inventory", params(ModelQuery),
    responses((status = 200, description = "One page of models, worst verdict first", body = Page<ModelRow>),
              (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)),
    security((), ("bearer" = [])))]
async fn list_models(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<ModelQuery>, QueryRejection>,
) -> ApiResult<Page<ModelRow>> {
    require(&state, &headers, "read").await?;
    let Query(query) = query?;
    let filter = ModelFilter {
        verdict: query.verdict.filter(|v| !v.is_empty()),
        search: query.q,
        include_gone: query.include_gone,
    };
    Ok(Json(
        state
            .store
            .models_page(&filter, query.cursor.as_deref(), query.limit.unwrap_or(50))
            .await?,
    ))
}

#[utoipa::path(get, path = "/api/v1/models/{id}", tag = "inventory",
    params(("id" = i64, Path, description = "Model id")),
    responses((status = 200, description = "The model: files, findings, places, history", body = ModelDetail),
              (status = 404, body = ErrorBody), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)),
    security((), ("bearer" = [])))]
async fn get_model(
    State(state): State<AppState>,
    headers: HeaderMap,
    id: Result<Path<i64>, PathRejection>,
) -> ApiResult<ModelDetail> {
    require(&state, &headers, "read").await?;
    let Path(id) = id?;
    match state.store.model(id).await? {
        Some(model) => Ok(Json(model)),
        None => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("no model {id}"),
        )),
    }
}

/// Which findings to list.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct FindingQuery {
    /// Only this rule id.
    rule: Option<String>,
    /// Also findings marked in triage (and not expired).
    #[serde(default)]
    include_triaged: bool,
    /// Page size, 1–500 (default 100).
    limit: Option<usize>,
    /// The `next` of the page before.
    cursor: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/findings", tag = "inventory", params(FindingQuery),
    responses((status = 200, description = "Findings on content some location holds, most severe first", body = Page<FindingRow>),
              (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)),
    security((), ("bearer" = [])))]
async fn list_findings(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<FindingQuery>, QueryRejection>,
) -> ApiResult<Page<FindingRow>> {
    require(&state, &headers, "read").await?;
    let Query(query) = query?;
    let filter = aigis_store::FindingFilter {
        rule: query.rule,
        include_triaged: query.include_triaged,
    };
    let limit = i64::try_from(query.limit.unwrap_or(100)).unwrap_or(500);
    Ok(Json(
        state
            .store
            .findings_page(&filter, query.cursor.as_deref(), limit, now())
            .await?,
    ))
}

/// A triage mark.
#[derive(Deserialize, ToSchema)]
struct TriageBody {
    /// in_triage, false_positive, not_affected, accepted.
    state: String,
    /// Why (required for `accepted`).
    #[serde(default)]
    reason: String,
    /// Until when the mark holds (seconds since the epoch).
    expires: Option<i64>,
}

/// A triage mark was stored.
#[derive(serde::Serialize, ToSchema)]
struct Triaged {
    /// The finding.
    id: i64,
    /// Its state now.
    state: String,
}

#[utoipa::path(post, path = "/api/v1/findings/{id}/triage", tag = "inventory",
    params(("id" = i64, Path, description = "Finding id")), request_body = TriageBody,
    responses((status = 200, description = "Marked; the mark follows this finding on this content through re-scans", body = Triaged),
              (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 413, body = ErrorBody), (status = 415, body = ErrorBody)),
    security(("bearer" = [])))]
async fn triage(
    State(state): State<AppState>,
    headers: HeaderMap,
    id: Result<Path<i64>, PathRejection>,
    body: Result<Json<TriageBody>, JsonRejection>,
) -> ApiResult<Triaged> {
    require(&state, &headers, "admin").await?;
    let Path(id) = id?;
    let Json(body) = body?;
    let mark: TriageState = body
        .state
        .parse()
        .map_err(|e: String| ApiError::new(StatusCode::BAD_REQUEST, e))?;
    state
        .store
        .triage(id, mark, &body.reason, body.expires, "api")
        .await?;
    Ok(Json(Triaged {
        id,
        state: mark.as_str().to_owned(),
    }))
}

/// How many scans.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ScanQuery {
    /// At most this many, newest first (default 50, up to 1000).
    limit: Option<i64>,
}

#[utoipa::path(get, path = "/api/v1/scans", tag = "inventory", params(ScanQuery),
    responses((status = 200, description = "Recorded scans, newest first", body = Vec<ScanRow>),
              (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)),
    security((), ("bearer" = [])))]
async fn list_scans(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<ScanQuery>, QueryRejection>,
) -> ApiResult<Vec<ScanRow>> {
    require(&state, &headers, "read").await?;
    let Query(query) = query?;
    Ok(Json(
        state
            .store
            .scans(query.limit.unwrap_or(50).clamp(1, 1000))
            .await?,
    ))
}

/// The fleet's work queues (`aigis worker`): depth, leases, throughput, failures.
#[derive(serde::Serialize, ToSchema)]
struct JobsView {
    /// Each queue's counts and throughput.
    queues: Vec<QueueStats>,
    /// Jobs held under a lease now (newest first, at most 100).
    running: Vec<JobRow>,
    /// Dead-lettered jobs with their last error (newest first, at most 100).
    dead: Vec<JobRow>,
}

#[utoipa::path(get, path = "/api/v1/jobs", tag = "fleet",
    responses((status = 200, description = "The work queues, the jobs running and the dead-lettered ones", body = JobsView),
              (status = 401, body = ErrorBody)),
    security((), ("bearer" = [])))]
async fn list_jobs(State(state): State<AppState>, headers: HeaderMap) -> ApiResult<JobsView> {
    require(&state, &headers, "read").await?;
    Ok(Json(JobsView {
        queues: state.store.queue_stats().await?,
        running: state.store.jobs(Some("running"), 100).await?,
        dead: state.store.jobs(Some("dead"), 100).await?,
    }))
}

/// Where a pushed report was made.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct IngestQuery {
    /// The host the report's local paths are on (default: `unknown`).
    host: Option<String>,
    /// The folder relative paths in the report are relative to.
    base_dir: Option<String>,
}

#[utoipa::path(post, path = "/api/v1/scans", tag = "inventory", params(IngestQuery),
    request_body(content = Object, description = "The JSON report of `aigis scan --format json`, or a CycloneDX ML-BOM (JSON)", content_type = "application/json"),
    responses((status = 201, description = "Recorded, in one transaction", body = IngestSummary),
              (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 413, body = ErrorBody), (status = 415, body = ErrorBody)),
    security(("bearer" = [])))]
async fn ingest(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<IngestQuery>, QueryRejection>,
    document: Result<Json<Value>, JsonRejection>,
) -> Result<(StatusCode, Json<IngestSummary>), ApiError> {
    require(&state, &headers, "ingest").await?;
    let Query(query) = query?;
    let Json(document) = document?;
    let document = scan_document(document)?;
    let meta = ScanMeta {
        started_at: now(),
        host: query
            .host
            .filter(printable)
            .unwrap_or_else(|| "unknown".to_owned()),
        collector: "api".to_owned(),
        arguments: Vec::new(),
        base_dir: query.base_dir.filter(printable),
    };
    let summary = state.store.ingest(&document, &meta).await?;
    Ok((StatusCode::CREATED, Json(summary)))
}

/// `Option::filter` wants `&String`.
#[allow(clippy::ptr_arg)]
fn printable(s: &String) -> bool {
    !s.is_empty() && !s.chars().any(char::is_control)
}

/// A pushed document as a run: a CycloneDX BOM, else an aigis JSON report.
fn scan_document(document: Value) -> Result<ScanDocument, ApiError> {
    if aigis_store::is_cyclonedx(&document) {
        return Ok(ScanDocument::from_cyclonedx(&document)?);
    }
    serde_json::from_value(document).map_err(|err| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("neither an aigis JSON report nor a CycloneDX BOM: {err}"),
        )
    })
}

/// A Dependency-Track BOM upload (`PUT /api/v1/bom`): the project names where the BOM's
/// content is, the BOM is base64 CycloneDX JSON.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct BomUpload {
    /// The project's UUID (recorded as the host when no name is given).
    #[serde(default)]
    project: Option<String>,
    /// The project's name: the host the BOM's content is recorded on.
    #[serde(default)]
    project_name: Option<String>,
    /// The project's version (recorded with the name).
    #[serde(default)]
    project_version: Option<String>,
    /// Accepted for compatibility; projects need no creating here.
    #[serde(default)]
    #[allow(dead_code)]
    auto_create: Option<bool>,
    /// The BOM: CycloneDX JSON, base64-encoded.
    bom: String,
}

/// The answer to an upload: a token to poll, as Dependency-Track gives.
#[derive(serde::Serialize, ToSchema)]
struct BomToken {
    /// Poll `/api/v1/bom/token/{token}`.
    token: String,
    /// The scan that recorded the BOM.
    scan_id: i64,
}

/// Whether an upload is still being processed (never: uploads are recorded before the answer).
#[derive(serde::Serialize, ToSchema)]
struct BomProcessing {
    /// Always `false` for a token this server gave.
    processing: bool,
}

/// A scan id as an upload token (a UUID, which Dependency-Track clients expect).
fn token_of(scan_id: i64) -> String {
    format!(
        "a1615000-0000-4000-8000-{:012x}",
        scan_id & 0xffff_ffff_ffff
    )
}

fn scan_of_token(token: &str) -> Option<i64> {
    let hex = token.strip_prefix("a1615000-0000-4000-8000-")?;
    if hex.len() != 12 {
        return None;
    }
    i64::from_str_radix(hex, 16).ok()
}

#[utoipa::path(put, path = "/api/v1/bom", tag = "bom",
    request_body(content = BomUpload, description = "Dependency-Track's BOM upload: a base64 CycloneDX JSON BOM and the project it describes", content_type = "application/json"),
    responses((status = 200, description = "Recorded, in one transaction", body = BomToken),
              (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 413, body = ErrorBody), (status = 415, body = ErrorBody)),
    security(("bearer" = []), ("api_key" = [])))]
async fn upload_bom(
    State(state): State<AppState>,
    headers: HeaderMap,
    upload: Result<Json<BomUpload>, JsonRejection>,
) -> Result<Json<BomToken>, ApiError> {
    use base64::Engine as _;
    require(&state, &headers, "ingest").await?;
    let Json(upload) = upload?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(upload.bom.trim())
        .map_err(|err| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                format!("`bom` is not base64: {err}"),
            )
        })?;
    let project = Project {
        uuid: upload.project,
        name: upload.project_name,
        version: upload.project_version,
    };
    record_bom(&state, &bytes, project).await
}

/// Dependency-Track's form upload: the same fields as form parts, the BOM as a file.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
struct BomForm {
    /// The project's UUID.
    project: Option<String>,
    /// The project's name.
    project_name: Option<String>,
    /// The project's version.
    project_version: Option<String>,
    /// Accepted for compatibility.
    auto_create: Option<String>,
    /// The BOM file: CycloneDX JSON.
    #[schema(value_type = String, format = Binary)]
    bom: String,
}

#[utoipa::path(post, path = "/api/v1/bom", tag = "bom",
    request_body(content(
        (BomUpload = "application/json"),
        (BomForm = "multipart/form-data")),
        description = "Dependency-Track's BOM upload: as JSON with a base64 BOM, or as a form with the BOM as a file"),
    responses((status = 200, description = "Recorded, in one transaction", body = BomToken),
              (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 413, body = ErrorBody), (status = 415, body = ErrorBody)),
    security(("bearer" = []), ("api_key" = [])))]
async fn upload_bom_form(
    State(state): State<AppState>,
    headers: HeaderMap,
    request: axum::extract::Request,
) -> Result<Json<BomToken>, ApiError> {
    use axum::extract::FromRequest as _;
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim_start()
                .to_ascii_lowercase()
                .starts_with("multipart/form-data")
        });
    if !is_form {
        let upload = Json::<BomUpload>::from_request(request, &state).await;
        return upload_bom(State(state), headers, upload).await;
    }
    require(&state, &headers, "ingest").await?;
    let bad = |err: axum::extract::multipart::MultipartError| {
        ApiError::new(err.status(), format!("the form: {}", err.body_text()))
    };
    let mut form = axum::extract::Multipart::from_request(request, &state)
        .await
        .map_err(|rejection| ApiError::new(rejection.status(), rejection.body_text()))?;
    let mut project = Project::default();
    let mut bom: Option<Vec<u8>> = None;
    while let Some(field) = form.next_field().await.map_err(bad)? {
        let name = field.name().unwrap_or_default().to_owned();
        let bytes = field.bytes().await.map_err(bad)?;
        let text = || String::from_utf8(bytes.to_vec()).ok();
        match name.as_str() {
            "project" => project.uuid = text(),
            "projectName" => project.name = text(),
            "projectVersion" => project.version = text(),
            "bom" => bom = Some(bytes.to_vec()),
            _ => {}
        }
    }
    let Some(bom) = bom else {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "the form has no `bom` part",
        ));
    };
    record_bom(&state, &bom, project).await
}

/// The project a Dependency-Track upload names.
#[derive(Default)]
struct Project {
    uuid: Option<String>,
    name: Option<String>,
    version: Option<String>,
}

/// Records an uploaded CycloneDX JSON BOM as a run on the project's "host".
async fn record_bom(
    state: &AppState,
    bytes: &[u8],
    project: Project,
) -> Result<Json<BomToken>, ApiError> {
    if bytes.trim_ascii_start().first() == Some(&b'<') {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "CycloneDX XML is not read here: send the BOM as CycloneDX JSON",
        ));
    }
    let bom: Value = serde_json::from_slice(bytes).map_err(|err| {
        ApiError::new(StatusCode::BAD_REQUEST, format!("`bom` is not JSON: {err}"))
    })?;
    let document = ScanDocument::from_cyclonedx(&bom)?;
    let host = match (
        project.name.filter(printable),
        project.version.filter(printable),
    ) {
        (Some(name), Some(version)) => format!("{name}@{version}"),
        (Some(name), None) => name,
        (None, _) => project
            .uuid
            .filter(printable)
            .unwrap_or_else(|| "unknown".to_owned()),
    };
    let meta = ScanMeta {
        started_at: now(),
        host,
        collector: "bom-upload".to_owned(),
        arguments: Vec::new(),
        base_dir: None,
    };
    let summary = state.store.ingest(&document, &meta).await?;
    Ok(Json(BomToken {
        token: token_of(summary.scan_id),
        scan_id: summary.scan_id,
    }))
}

#[utoipa::path(get, path = "/api/v1/bom/token/{token}", tag = "bom",
    params(("token" = String, Path, description = "The token an upload returned")),
    responses((status = 200, description = "The upload is recorded", body = BomProcessing),
              (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security((), ("bearer" = []), ("api_key" = [])))]
async fn bom_token(
    State(state): State<AppState>,
    headers: HeaderMap,
    token: Result<Path<String>, PathRejection>,
) -> ApiResult<BomProcessing> {
    require(&state, &headers, "read").await?;
    let Path(token) = token?;
    let known = match scan_of_token(&token) {
        Some(id) => state.store.scan_exists(id).await?,
        None => false,
    };
    if !known {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "no upload has this token",
        ));
    }
    Ok(Json(BomProcessing { processing: false }))
}

#[utoipa::path(get, path = "/api/v1/bom", tag = "bom",
    responses((status = 200, description = "What the inventory holds now, as one CycloneDX 1.6 ML-BOM", body = Object, content_type = "application/vnd.cyclonedx+json"),
              (status = 401, body = ErrorBody)),
    security((), ("bearer" = []), ("api_key" = [])))]
async fn export_bom(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    require(&state, &headers, "read").await?;
    let bom = state
        .store
        .export_cyclonedx(env!("CARGO_PKG_VERSION"))
        .await?;
    let mut response = Json(bom).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/vnd.cyclonedx+json"),
    );
    Ok(response)
}

/// From when on.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ChangeQuery {
    /// Changes seen by this scan and later ones.
    since_scan: Option<i64>,
    /// Changes at or after this time (seconds since the epoch); default: all.
    since: Option<i64>,
}

#[utoipa::path(get, path = "/api/v1/changes", tag = "inventory", params(ChangeQuery),
    responses((status = 200, description = "What changed, oldest first", body = Vec<EventRow>),
              (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)),
    security((), ("bearer" = [])))]
async fn list_changes(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<ChangeQuery>, QueryRejection>,
) -> ApiResult<Vec<EventRow>> {
    require(&state, &headers, "read").await?;
    let Query(query) = query?;
    let since = match (query.since_scan, query.since) {
        (Some(scan), _) => Since::Scan(scan),
        (None, Some(at)) => Since::Time(at),
        (None, None) => Since::Time(0),
    };
    Ok(Json(state.store.changes(since).await?))
}

/// Which part of the graph.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct GraphQuery {
    /// Only this model's neighbourhood: its places, their exposures, its content and findings.
    model: Option<i64>,
    /// How many edges from the model, 1–6 (default 3).
    depth: Option<usize>,
}

#[utoipa::path(get, path = "/api/v1/graph", tag = "graph", params(GraphQuery),
    responses((status = 200, description = "The security graph: hosts, buckets, locations, content, models, exposures, findings, and their edges with evidence", body = Graph),
              (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)),
    security((), ("bearer" = [])))]
async fn graph(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<GraphQuery>, QueryRejection>,
) -> ApiResult<Graph> {
    require(&state, &headers, "read").await?;
    let Query(query) = query?;
    Ok(Json(match query.model {
        Some(id) => {
            let depth = query.depth.unwrap_or(3).clamp(1, 6);
            state
                .store
                .neighbourhood(&format!("model:{id}"), depth)
                .await?
        }
        None => state.store.graph().await?,
    }))
}

#[utoipa::path(get, path = "/api/v1/overview", tag = "inventory",
    responses((status = 200, description = "Models now by verdict, source and exposure; open findings; what the last scan changed", body = Overview),
              (status = 401, body = ErrorBody)),
    security((), ("bearer" = [])))]
async fn overview(State(state): State<AppState>, headers: HeaderMap) -> ApiResult<Overview> {
    require(&state, &headers, "read").await?;
    Ok(Json(state.store.overview(now()).await?))
}

#[utoipa::path(get, path = "/api/v1/paths", tag = "graph",
    responses((status = 200, description = "Attack paths, worst first: who can write → what it holds → what it runs on load", body = Vec<AttackPath>),
              (status = 401, body = ErrorBody)),
    security((), ("bearer" = [])))]
async fn paths(State(state): State<AppState>, headers: HeaderMap) -> ApiResult<Vec<AttackPath>> {
    require(&state, &headers, "read").await?;
    Ok(Json(state.store.attack_paths().await?))
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// The OpenAPI document, generated from the handlers above.
#[derive(OpenApi)]
#[openapi(
    info(title = "aigis inventory API", description = "Models, content, findings, changes and attack paths recorded by aigis."),
    paths(healthz, overview, list_models, get_model, list_findings, triage, list_scans, ingest, list_changes, list_jobs, graph, paths, export_bom, upload_bom, upload_bom_form, bom_token),
    modifiers(&BearerAuth),
    tags((name = "inventory"), (name = "graph"), (name = "bom"), (name = "fleet"), (name = "server"))
)]
struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        components.add_security_scheme(
            "api_key",
            SecurityScheme::ApiKey(utoipa::openapi::security::ApiKey::Header(
                utoipa::openapi::security::ApiKeyValue::new("X-Api-Key"),
            )),
        );
    }
}

/// The OpenAPI document as JSON text (for `aigis serve --openapi`).
pub fn openapi_json() -> String {
    ApiDoc::openapi().to_pretty_json().unwrap_or_default()
}
