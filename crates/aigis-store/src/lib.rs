//! The aigis inventory: what was scanned where and when, the content each location held, the
//! findings about that content, the exposure of each location, the models files group into —
//! and what changed between scans (content replaced at a location, new unsafe models, models
//! gone). SQLite by default (one file), PostgreSQL for teams; one schema, versioned migrations
//! and the same queries on both (sqlx's runtime-generic driver, every value bound).
//!
//! ```no_run
//! # async fn demo(doc: aigis_store::ScanDocument, meta: aigis_store::ScanMeta) -> Result<(), aigis_store::StoreError> {
//! let store = aigis_store::Store::open("sqlite:inventory.db").await?;
//! let summary = store.ingest(&doc, &meta).await?;
//! for event in store.changes(aigis_store::Since::Scan(summary.scan_id)).await? {
//!     println!("{} {}", event.kind, event.location);
//! }
//! # Ok(()) }
//! ```

mod cyclonedx;
mod document;
mod graph;
mod ingest;
mod pages;
mod query;
mod queue;
mod schema;
mod tokens;

pub use cyclonedx::is_cyclonedx;
pub use document::{
    FindingDoc, ModelDoc, ModelFileDoc, ResultDoc, ScanDocument, ScanMeta, ToolDoc,
};
pub use graph::{AttackPath, Edge, Graph, Node};
pub use ingest::{IngestSummary, remote_location};
pub use pages::{Count, FindingFilter, ModelDetail, ModelFile, ModelFilter, Overview, Page, Place};
pub use query::{EventRow, FindingRow, ModelRow, ScanRow, Since, TriageState};
pub use queue::{
    Failed, Job, JobKind, JobRow, JobSpec, ObjectStamp, QueueStats, ScheduleRow, now_ms,
};
pub use tokens::{SCOPES, TokenRow};

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Executor as _};
use std::str::FromStr as _;
use std::time::Duration;

/// What can go wrong with the inventory.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database URL is not one aigis knows.
    #[error("unsupported inventory database `{0}`: use sqlite:PATH or postgres://USER@HOST/DB")]
    Url(String),
    /// The database refused or failed.
    #[error("inventory database: {0}")]
    Database(#[from] sqlx::Error),
    /// The database was written by a newer aigis.
    #[error(
        "the inventory database has schema version {found}; this aigis knows up to {known}: upgrade aigis"
    )]
    NewerSchema {
        /// The database's version.
        found: i64,
        /// The newest this build knows.
        known: i64,
    },
    /// A request names something the inventory does not have.
    #[error("{0}")]
    NotFound(String),
    /// A request is malformed.
    #[error("{0}")]
    Invalid(String),
    /// A worker presented a claim on a job that is no longer its own (the lease expired and
    /// another worker claimed the job, or the job finished): nothing was recorded.
    #[error("job {0}: this worker's lease was lost; another claim holds the job")]
    LeaseLost(i64),
}

/// Result of inventory operations.
pub type Result<T> = std::result::Result<T, StoreError>;

/// Which database holds the inventory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// One SQLite file (WAL, with a busy timeout so concurrent recorders wait for each other).
    Sqlite,
    /// A PostgreSQL server.
    Postgres,
}

/// An open inventory.
#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
}

/// How long a writer waits for another one to finish (SQLite's busy timeout).
const BUSY_TIMEOUT: Duration = Duration::from_secs(60);

impl Store {
    /// Opens (creating it if needed) the inventory at `url` — `sqlite:PATH` (the file is
    /// created; `sqlite::memory:` for a throwaway one) or `postgres://…` — and brings its
    /// schema up to date.
    pub async fn open(url: &str) -> Result<Store> {
        sqlx::any::install_default_drivers();
        let (backend, url) = if let Some(path) = url.strip_prefix("sqlite:") {
            let path = path.strip_prefix("//").unwrap_or(path);
            if path.is_empty() {
                return Err(StoreError::Url(url.to_owned()));
            }
            let url = if path == ":memory:" {
                "sqlite::memory:".to_owned()
            } else {
                format!("sqlite://{path}?mode=rwc")
            };
            (Backend::Sqlite, url)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            (Backend::Postgres, url.to_owned())
        } else {
            return Err(StoreError::Url(url.to_owned()));
        };
        let options = AnyConnectOptions::from_str(&url)?;
        let pool = AnyPoolOptions::new()
            // One SQLite file is written by one connection at a time anyway; an in-memory
            // database exists only on its one connection.
            .max_connections(if backend == Backend::Sqlite { 1 } else { 8 })
            .acquire_timeout(BUSY_TIMEOUT)
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        conn.execute(sqlx::raw_sql(
                            "PRAGMA busy_timeout = 60000; PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;",
                        ))
                        .await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await?;
        let store = Store { pool, backend };
        schema::migrate(&store).await?;
        Ok(store)
    }

    /// Which database this is.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The schema version the database is at.
    pub async fn schema_version(&self) -> Result<i64> {
        schema::version(self).await
    }

    /// Closes the connections.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// `BEGIN` that takes the write lock at once (SQLite: IMMEDIATE, so two recorders queue
    /// on the busy timeout instead of failing on a lock upgrade).
    fn begin_sql(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite => "BEGIN IMMEDIATE",
            Backend::Postgres => "BEGIN",
        }
    }
}

/// Severity words in order, for comparing verdicts stored as text. `incomplete` is the verdict
/// of content aigis could not finish analysing with nothing worse found: never clean, so it
/// ranks above `low` and `info` (and below what was actually found at medium and above).
pub fn severity_rank(severity: &str) -> u8 {
    match severity {
        "critical" => 6,
        "high" => 5,
        "medium" => 4,
        INCOMPLETE => 3,
        "low" => 2,
        "info" => 1,
        _ => 0,
    }
}

/// The verdict of content whose analysis did not finish (see [`severity_rank`]).
pub const INCOMPLETE: &str = "incomplete";
