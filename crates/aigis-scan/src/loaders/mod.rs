//! How the real loaders read the formats aigis analyses: one table per config format naming the
//! reader a framework uses and the decoding rules aigis must share with it, and one
//! implementation per rule, used by every analyzer of that format. A scanner that parses a file
//! differently from its loader is scanning a different file.
//!
//! | format | loader reads it with | rules (implementation) |
//! |---|---|---|
//! | Keras v3 `.keras` | `zipfile.ZipFile` + `json.loads(zf.read("config.json"))` | zip found where `zipfile` finds it, member names and duplicate winner, CRC checked ([`crate::archive::zip_index`]); JSON as `json.loads(bytes)` ([`json::loads_bytes`]) |
//! | Keras HDF5 | h5py `f.attrs.get(name)` → `.decode("utf-8")` if bytes → `json.loads(str)` | [`crate::analyzers::keras::hdf5`]: vlen strings to the first NUL with invalid bytes kept as h5py keeps them, fixed strings padded as HDF5 converts them and strictly decoded, arrays and non-strings refused; JSON as `json.loads(str)`; the signature found past a user block of any size, as libhdf5 finds it |
//! | skops `.skops` | `zipfile` + `json.loads(zf.read("schema.json"))`, `schema["protocol"]` | as Keras v3; unknown protocol and truncated schema rejected |
//! | NeMo `.nemo` | `tarfile.open` + `extractall`, `OmegaConf.load` (PyYAML `SafeLoader` subclass) | member types `tarfile` extracts as files, names as `tarfile` normalises them ([`crate::archive::tar_members`]); YAML parsed whole, escapes decoded ([`crate::analyzers::yaml`]) — no text pre-filter |
//! | Hydra configs | `OmegaConf.load` / `yaml.safe_load` | as NeMo |
//! | MLflow `MLmodel` | `yaml.safe_load`; pyfunc puts `code` and its sub-folders on `sys.path`, `importlib.import_module(loader_module)` | module resolution as the import system resolves it ([`pymodule`]); loader code parsed ([`crate::python`]) |
//! | Python modules (MLflow `loader_module`, Hydra/NeMo local targets) | `importlib.machinery.PathFinder`/`FileFinder` per dotted part | resolved once per interpreter the folder's extension tags name (plus untagged Linux and Windows), extensions in CPython's order; the reading that runs the most code; `runs` = every file any reading runs, cached pyc included ([`pymodule`]) |
//! | `tokenizer_config.json` | `json.load(open(p, encoding="utf-8"))` | [`json::loads_utf8_text`]; `chat_template` (string or named list) |
//! | `chat_template.json` | `json.load(open(p, encoding="utf-8"))` | as above |
//! | `chat_template.jinja` | `open(p, encoding="utf-8").read()` → Jinja | template analysed as GGUF's; parsed as jinja2 parses it (unary plus), names built from literal pieces seen whole |
//! | GGUF | gguf-py `GGUFReader` (transformers) and llama.cpp `gguf_init_from_file` | valid only when both load it: either byte order, v2/v3, keys non-empty, UTF-8 and unique, no nested arrays, `general.alignment` a u32 power of two, tensors back to back in info order inside the file; every template any reader sees is analysed (each duplicate copy, keys up to a NUL, strings of arrays, text cut short by the end of the file) (`analyzers::gguf`) |
//! | safetensors | `safetensors` (Rust) `SafeTensors::deserialize` | header checks as the crate's `validate`; what it accepts is valid (unknown fields and identical duplicate keys low, a key twice with different values medium: the library keeps the last), null metadata none |
//! | ONNX | `onnx.load` → protobuf `ParseFromString` (upb); `ExternalDataInfo`; onnxruntime | wire read as upb reads it: merge, last wins, unknown fields, groups and wrong wire types skipped, keys and lengths ≤ 5 bytes, 100 levels, proto2 strings not UTF-8-checked, the whole schema parsed (`analyzers::protobuf`); the last external-data `location` read, every one judged; a local function exempts only its own (domain, name) (`analyzers::onnx`) |
//! | ONNX external data | `onnx.load` → `load_external_data_for_tensor`; onnxruntime | location inside the model folder, the data file present and offset + length inside it (`analyzers::onnx`) |
//! | `modeling_*.py` & co. | `transformers.dynamic_module_utils`: `auto_map` `module.Class`, relative imports by its regexes | [`crate::analyzers`]`::remote_code` |
//!
//! Every row has a differential test over variants generated and read by the real library
//! (`scripts/differential/*.py` → `fixtures/differential/*.jsonl.gz`, tested in `tests*.rs`):
//! JSON, zip, tar, YAML, Jinja, safetensors, GGUF, Keras HDF5 attributes, ONNX protobuf and
//! module resolution.

pub mod json;
pub mod pymodule;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_gguf;
#[cfg(test)]
mod tests_hdf5;
#[cfg(test)]
mod tests_onnx;
#[cfg(test)]
mod tests_pymodule;
