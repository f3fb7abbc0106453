//! Every format analyzer, and the one function that lists them. Adding a format means adding a
//! module here and one line to [`registry`].

pub mod chat_template;
mod compressed;
mod executable;
mod gguf;
mod numpy;
mod pickle;
mod safetensors;
mod sevenz;
mod tar;
mod zip;

pub use compressed::CompressedAnalyzer;
pub use executable::ExecutableAnalyzer;
pub use gguf::GgufAnalyzer;
pub use numpy::NumpyAnalyzer;
pub use pickle::PickleAnalyzer;
pub use safetensors::SafetensorsAnalyzer;
pub use sevenz::SevenZAnalyzer;
pub use tar::TarAnalyzer;
pub use zip::ZipAnalyzer;

use crate::analyzer::{Analyzer, Registry};

/// All analyzers, in the order they are tried. Strong magic numbers come first; the pickle
/// analyzer, whose protocol 0/1 sniff is weak, comes last.
pub fn registry() -> Registry {
    let analyzers: Vec<Box<dyn Analyzer>> = vec![
        Box::new(ZipAnalyzer),
        Box::new(NumpyAnalyzer),
        Box::new(GgufAnalyzer),
        Box::new(SafetensorsAnalyzer),
        Box::new(SevenZAnalyzer),
        Box::new(CompressedAnalyzer),
        Box::new(TarAnalyzer),
        Box::new(ExecutableAnalyzer),
        Box::new(PickleAnalyzer),
    ];
    Registry::new(analyzers)
}
