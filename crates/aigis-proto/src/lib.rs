//! Generated readers for the schema-based model formats aigis inspects.
//!
//! The schemas in `proto/` are subsets written for aigis (only the messages and fields the
//! analyzers read); the Rust code in `src/gen/` is generated from them and committed, so normal
//! builds need no code generator. Regenerate after editing a schema with
//! `cargo run --manifest-path crates/aigis-proto/gen/Cargo.toml`.
//!
//! ```
//! use prost::Message;
//! let model = aigis_proto::onnx::ModelProto { ir_version: 8, ..Default::default() };
//! let bytes = model.encode_to_vec();
//! assert_eq!(aigis_proto::onnx::ModelProto::decode(bytes.as_slice()).map(|m| m.ir_version), Ok(8));
//! ```

pub use prost;

/// ONNX `ModelProto` and the messages it contains (`proto/onnx.proto`).
#[allow(missing_docs, clippy::all, clippy::pedantic)]
pub mod onnx {
    include!("gen/onnx.rs");
}

/// TensorFlow `SavedModel`, `GraphDef` and Keras `SavedMetadata` (`proto/tensorflow.proto`).
#[allow(missing_docs, clippy::all, clippy::pedantic)]
pub mod tensorflow {
    include!("gen/tensorflow.rs");
}
