//! The aigis scan pipeline: **source → sniff format → analyze → findings**.
//!
//! ```no_run
//! use aigis_scan::{ScanOptions, Scanner};
//! use std::sync::Arc;
//!
//! let scanner = Arc::new(Scanner::new(ScanOptions::default()));
//! let files = scanner.collect(&["models/".into()]);
//! for result in scanner.scan_files(&files, &|_| {}) {
//!     println!("{} {} {:?}", result.path, result.format, result.max_severity);
//! }
//! ```
//!
//! Every analyzer reads through [`ByteSource`] and reports into a per-file [`Context`]; container
//! analyzers feed their members back through the same [`Registry`]. Nothing is ever loaded,
//! unpickled or executed.

pub mod analyzer;
pub mod analyzers;
pub mod archive;
mod finding;
mod format;
mod limits;
mod model_info;
mod result;
pub mod rules;
mod scanner;
mod severity;
mod source;

pub use analyzer::{AnalysisOptions, Analyzer, Context, Input, Registry};
pub use finding::{Finding, Suppressed};
pub use format::Format;
pub use limits::Limits;
pub use model_info::ModelInfo;
pub use result::{FileResult, Status};
pub use rules::{Rule, RuleId};
pub use scanner::{ResultCache, ScanOptions, Scanner, hash_source};
pub use severity::Severity;
pub use source::{ByteSource, FileSource, MemorySource, SliceSource, SourceReader};
