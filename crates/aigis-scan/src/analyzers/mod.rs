//! Every format analyzer, and the one function that lists them. Adding a format means adding a
//! module here and one line to [`registry`].

mod callables;
pub mod chat_template;
mod code;
mod compressed;
mod deps;
mod executable;
mod flax;
mod gguf;
mod inventory;
pub(crate) mod keras;
mod mlflow;
mod model_card;
pub(crate) mod nemo;
mod numpy;
mod onnx;
mod pickle;
mod protobuf;
mod remote_code;
mod safetensors;
mod sevenz;
pub(crate) mod skops;
mod tar;
mod tf;
mod tflite;
mod torchscript;
pub mod yaml;
mod zip;

pub use chat_template::ChatTemplateAnalyzer;
pub use code::PythonCodeAnalyzer;
pub use compressed::CompressedAnalyzer;
pub use deps::DependencyAnalyzer;
pub use executable::ExecutableAnalyzer;
pub use flax::FlaxAnalyzer;
pub use gguf::GgufAnalyzer;
pub use inventory::{CoremlAnalyzer, InventoryAnalyzer};
pub use keras::{KerasH5Analyzer, KerasV3Analyzer};
pub use mlflow::{MlflowCodeAnalyzer, MlmodelAnalyzer};
pub use model_card::ModelCardAnalyzer;
pub use nemo::HydraConfigAnalyzer;
pub use numpy::NumpyAnalyzer;
pub use onnx::OnnxAnalyzer;
pub use pickle::PickleAnalyzer;
pub use remote_code::{AutoMapConfigAnalyzer, RemoteCodeAnalyzer};
pub use safetensors::SafetensorsAnalyzer;
pub use sevenz::SevenZAnalyzer;
pub use skops::SkopsAnalyzer;
pub use tar::TarAnalyzer;
pub use tf::TfAnalyzer;
pub use tflite::TfliteAnalyzer;
pub use torchscript::TorchscriptCodeAnalyzer;
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
        Box::new(TfliteAnalyzer),
        Box::new(ExecutableAnalyzer),
        // Protobufs have no magic: these sniff the head against message schemas, and ONNX
        // declines what is not a plausible ModelProto before Core ML looks.
        Box::new(TfAnalyzer),
        Box::new(OnnxAnalyzer),
        Box::new(CoremlAnalyzer),
        Box::new(FlaxAnalyzer),
        // Text formats, recognised by content; each declines text that is not its own.
        Box::new(TorchscriptCodeAnalyzer),
        Box::new(InventoryAnalyzer),
        Box::new(MlmodelAnalyzer),
        Box::new(MlflowCodeAnalyzer),
        Box::new(RemoteCodeAnalyzer),
        Box::new(PythonCodeAnalyzer),
        Box::new(DependencyAnalyzer),
        Box::new(AutoMapConfigAnalyzer),
        Box::new(ChatTemplateAnalyzer),
        Box::new(HydraConfigAnalyzer),
        Box::new(PickleAnalyzer),
        // Last: a card is judged as one only when no format claimed the file.
        Box::new(ModelCardAnalyzer),
    ];
    Registry::new(analyzers)
}
