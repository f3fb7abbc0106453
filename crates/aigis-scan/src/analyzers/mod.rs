//! Every format analyzer, and the one function that lists them. Adding a format means adding a
//! module here and one line to [`registry`].

mod callables;
pub mod chat_template;
mod compressed;
mod executable;
mod flax;
mod gguf;
mod inventory;
mod keras;
mod mlflow;
mod nemo;
mod numpy;
mod pickle;
mod safetensors;
mod sevenz;
mod skops;
mod tar;
mod yaml;
mod zip;

pub use compressed::CompressedAnalyzer;
pub use executable::ExecutableAnalyzer;
pub use flax::FlaxAnalyzer;
pub use gguf::GgufAnalyzer;
pub use inventory::{CoremlAnalyzer, InventoryAnalyzer};
pub use keras::{KerasH5Analyzer, KerasV3Analyzer};
pub use mlflow::{MlflowCodeAnalyzer, MlmodelAnalyzer};
pub use nemo::HydraConfigAnalyzer;
pub use numpy::NumpyAnalyzer;
pub use pickle::PickleAnalyzer;
pub use safetensors::SafetensorsAnalyzer;
pub use sevenz::SevenZAnalyzer;
pub use skops::SkopsAnalyzer;
pub use tar::TarAnalyzer;
pub use zip::ZipAnalyzer;

use crate::analyzer::{Analyzer, Registry};

/// All analyzers, in the order they are tried. Strong magic numbers come first; the pickle
/// analyzer, whose protocol 0/1 sniff is weak, comes last.
pub fn registry() -> Registry {
    let analyzers: Vec<Box<dyn Analyzer>> = vec![
        // Zip-based model formats decline zips that are not theirs.
        Box::new(KerasV3Analyzer),
        Box::new(SkopsAnalyzer),
        Box::new(ZipAnalyzer),
        Box::new(KerasH5Analyzer),
        Box::new(NumpyAnalyzer),
        Box::new(GgufAnalyzer),
        Box::new(SafetensorsAnalyzer),
        Box::new(SevenZAnalyzer),
        Box::new(CompressedAnalyzer),
        Box::new(TarAnalyzer),
        Box::new(ExecutableAnalyzer),
        Box::new(CoremlAnalyzer),
        Box::new(FlaxAnalyzer),
        // Text formats, recognised by content; each declines text that is not its own.
        Box::new(InventoryAnalyzer),
        Box::new(MlmodelAnalyzer),
        Box::new(MlflowCodeAnalyzer),
        Box::new(HydraConfigAnalyzer),
        Box::new(PickleAnalyzer),
    ];
    Registry::new(analyzers)
}
