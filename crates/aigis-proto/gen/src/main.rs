//! Regenerates `crates/aigis-proto/src/gen/*.rs` from `crates/aigis-proto/proto/*.proto` with
//! `prost-build`, compiling the schemas with `protox` (pure Rust, no `protoc`).
//!
//! Run from anywhere: `cargo run --manifest-path crates/aigis-proto/gen/Cargo.toml`.

use anyhow::Context;
use std::path::PathBuf;

fn main() -> anyhow::Result<()> {
    let crate_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .context("gen/ has a parent")?
        .to_path_buf();
    let proto_dir = crate_dir.join("proto");
    let out_dir = crate_dir.join("src").join("gen");
    std::fs::create_dir_all(&out_dir)?;
    let files = ["onnx.proto", "tensorflow.proto"];
    let descriptors = protox::compile(files, [&proto_dir]).context("compiling .proto files")?;
    prost_build::Config::new()
        .out_dir(&out_dir)
        .compile_fds(descriptors)
        .context("generating Rust code")?;
    for file in files {
        println!("generated from {}", proto_dir.join(file).display());
    }
    Ok(())
}
