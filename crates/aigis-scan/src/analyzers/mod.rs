//! Every format analyzer, and the one function that lists them. Adding a format means adding a
//! module here and one line to [`registry`].

mod compressed;
mod numpy;
mod onnx;
mod pickle;
mod protobuf;
mod sevenz;
mod tar;
mod tf;
mod tflite;
mod zip;

pub use compressed::CompressedAnalyzer;
pub use numpy::NumpyAnalyzer;
pub use onnx::OnnxAnalyzer;
pub use pickle::PickleAnalyzer;
pub use sevenz::SevenZAnalyzer;
pub use tar::TarAnalyzer;
pub use tf::TfAnalyzer;
pub use tflite::TfliteAnalyzer;
pub use zip::ZipAnalyzer;

use crate::analyzer::{Analyzer, Registry};

/// All analyzers, in the order they are tried. Strong magic numbers come first; the pickle
/// analyzer, whose protocol 0/1 sniff is weak, comes last.
pub fn registry() -> Registry {
    let analyzers: Vec<Box<dyn Analyzer>> = vec![
        Box::new(ZipAnalyzer),
        Box::new(NumpyAnalyzer),
        Box::new(SevenZAnalyzer),
        Box::new(CompressedAnalyzer),
        Box::new(TarAnalyzer),
        Box::new(TfliteAnalyzer),
        // Protobufs have no magic: these sniff the head against message schemas.
        Box::new(TfAnalyzer),
        Box::new(OnnxAnalyzer),
        Box::new(PickleAnalyzer),
    ];
    Registry::new(analyzers)
}
