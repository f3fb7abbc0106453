//! The aigis analysis of one input: **source → sniff format → analyze → findings**. Which
//! inputs a run reads, and everything around them, is `aigis-engine`'s.
//!
//! ```
//! use aigis_scan::{MemorySource, ScanOptions, Scanner, Severity};
//!
//! let scanner = Scanner::new(ScanOptions::default());
//! // `pickle.dumps` of an object whose `__reduce__` returns `(os.system, ('id',))`.
//! let evil = b"\x80\x02cposix\nsystem\nq\x00X\x02\x00\x00\x00idq\x01\x85q\x02Rq\x03.";
//! let result = scanner.scan_source("evil.pkl".into(), &MemorySource::new(evil.to_vec()));
//! assert_eq!(result.max_severity, Some(Severity::Critical));
//! ```
//!
//! Every analyzer reads through [`ByteSource`] and reports into a per-file [`Context`]; container
//! analyzers feed their members back through the same [`Registry`]. Nothing is ever loaded,
//! unpickled or executed.

pub mod analyzer;
pub mod analyzers;
pub mod archive;
mod claimed;
pub mod deep;
pub mod deps;
pub mod diagnostics;
mod finding;
mod format;
#[doc(hidden)]
pub mod fuzzing;
mod limits;
pub mod loaders;
mod model_info;
pub mod python;
mod result;
pub mod rules;
mod scanner;
pub mod secrets;
mod severity;
mod source;

pub use analyzer::{AnalysisOptions, Analyzer, Context, Input, Registry};
pub use finding::{Finding, Suppressed};
pub use format::Format;
pub use limits::Limits;
pub use model_info::{Dependency, ModelInfo};
pub use result::{FileResult, Program, ProgramStep, Status};
pub use rules::{Rule, RuleId};
pub use scanner::{PIPELINE_VERSION, ScanOptions, Scanner, hash_source};
pub use severity::Severity;
pub use source::{ByteSource, FileSource, MemorySource, SliceSource, SourceReader};
