//! Format ids, decided from content, never from a file name.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

macro_rules! formats {
    ($( $(#[$doc:meta])* $variant:ident = $id:literal, )*) => {
        /// A file format aigis recognises. The id strings are part of the JSON contract.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Format {
            $( $(#[$doc])* $variant, )*
        }

        impl Format {
            /// Lower-case id used in JSON output.
            pub fn as_str(self) -> &'static str {
                match self { $( Format::$variant => $id, )* }
            }

            /// The format with this id, if any.
            pub fn from_id(id: &str) -> Option<Format> {
                match id { $( $id => Some(Format::$variant), )* _ => None }
            }
        }
    };
}

formats! {
    /// A raw pickle stream of any protocol.
    Pickle = "pickle",
    /// PyTorch zip checkpoint (`torch.save` since 1.6).
    PytorchZip = "pytorch-zip",
    /// PyTorch legacy stacked pickles (`_use_new_zipfile_serialization=False`).
    PytorchLegacy = "pytorch-legacy",
    /// Very old PyTorch tar checkpoint (`sys_info`, `pickle`, `storages`, `tensors`).
    PytorchTar = "pytorch-tar",
    /// TorchScript archive (`torch.jit.save`).
    Torchscript = "torchscript",
    /// joblib pickle with interleaved NumPy buffers, possibly compressed.
    Joblib = "joblib",
    /// NumPy `.npy`.
    Numpy = "numpy",
    /// NumPy `.npz` (a zip of `.npy`).
    NumpyNpz = "numpy-npz",
    /// safetensors.
    Safetensors = "safetensors",
    /// GGUF (llama.cpp).
    Gguf = "gguf",
    /// ONNX protobuf.
    Onnx = "onnx",
    /// TensorFlow SavedModel / GraphDef protobuf.
    TfSavedmodel = "tf-savedmodel",
    /// TensorFlow Lite flatbuffer.
    Tflite = "tflite",
    /// Keras v3 `.keras` zip.
    KerasV3 = "keras-v3",
    /// Keras HDF5.
    KerasH5 = "keras-h5",
    /// NeMo `.nemo` archive or its Hydra model config.
    Nemo = "nemo",
    /// skops `.skops` zip.
    Skops = "skops",
    /// MLflow model (`MLmodel` or a code file it loads).
    Mlflow = "mlflow",
    /// A chat template outside GGUF: `tokenizer_config.json`, `chat_template.json`, `*.jinja`.
    ChatTemplate = "chat-template",
    /// Flax msgpack checkpoint.
    Flax = "flax",
    /// Core ML `.mlmodel` protobuf.
    Coreml = "coreml",
    /// OpenVINO IR (`.xml` network).
    Openvino = "openvino",
    /// XGBoost JSON or UBJSON model.
    Xgboost = "xgboost",
    /// LightGBM text model.
    Lightgbm = "lightgbm",
    /// CatBoost binary model.
    Catboost = "catboost",
    /// PMML XML model.
    Pmml = "pmml",
    /// Plain zip archive.
    Zip = "zip",
    /// Plain tar archive.
    Tar = "tar",
    /// gzip stream.
    Gzip = "gzip",
    /// zlib stream.
    Zlib = "zlib",
    /// bzip2 stream.
    Bz2 = "bz2",
    /// xz stream.
    Xz = "xz",
    /// Legacy `.lzma` (LZMA-alone) stream.
    Lzma = "lzma",
    /// LZ4 frame.
    Lz4 = "lz4",
    /// Zstandard frame.
    Zstd = "zstd",
    /// 7-Zip archive.
    SevenZ = "7z",
    /// Python source code (`.py`): scanned for the places it loads models.
    PythonCode = "python",
    /// A Jupyter notebook (`.ipynb`): its code cells scanned as Python.
    Notebook = "jupyter-notebook",
    /// A Python dependency file (requirements, pyproject, poetry/uv/Pipfile lock, conda
    /// environment): matched against the advisory database.
    PythonDependencies = "python-dependencies",
    /// A Hugging Face config (`config.json`, `tokenizer_config.json`, a processor config) whose
    /// `auto_map` makes transformers import repository code with `trust_remote_code=True`.
    TransformersConfig = "transformers-config",
    /// A model card (`README.md`, card front-matter) holding a credential; a card without one is
    /// `unknown`.
    ModelCard = "model-card",
    /// A native executable carrying a model (llamafile and similar).
    Executable = "executable",
    /// Nothing aigis knows.
    Unknown = "unknown",
}

impl Format {
    /// True for formats that hold or describe a model — what the inventory groups into models.
    /// Nothing known (`unknown`) and the pipeline around models (Python code, notebooks,
    /// dependency files) are not: they are scanned and reported, and the AI-BOM links them to
    /// models, but they are not models themselves.
    pub fn is_model(self) -> bool {
        !matches!(
            self,
            Format::Unknown
                | Format::PythonCode
                | Format::Notebook
                | Format::PythonDependencies
                | Format::TransformersConfig
                | Format::ModelCard
        )
    }

    /// True for formats whose loading can run pickle code.
    pub fn is_pickle_family(self) -> bool {
        matches!(
            self,
            Format::Pickle
                | Format::PytorchZip
                | Format::PytorchLegacy
                | Format::PytorchTar
                | Format::Torchscript
                | Format::Joblib
        )
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Format {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Format {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let id = String::deserialize(deserializer)?;
        Format::from_id(&id)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown format `{id}`")))
    }
}
