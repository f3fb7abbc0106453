//! The AI model inventory: which files make a model, where it came from, who can replace it,
//! and an AI-BOM of models.
//!
//! The run that finds and scans files is `aigis-engine`'s; this crate turns its results into
//! models: [`candidate`] says which files an inventory without a full scan counts as models,
//! [`host`] adds who-can-write findings, [`model::group`] groups files into models with
//! [`provenance`] and model cards, and [`bom`] writes CycloneDX 1.6 and SPDX 3.0.

pub mod bom;
pub mod candidate;
pub mod card;
pub mod facts;
pub mod host;
pub mod license;
pub mod model;
pub mod provenance;
pub mod sensors;

pub use card::ModelCard;
pub use host::{HostChecker, SymlinkEscape};
pub use model::{Entry, Model, ModelFile, ModelSignature, Role};
pub use provenance::{Provenance, SourceKind};
