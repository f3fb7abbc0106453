//! How the real loaders read the formats aigis analyses: one table per config format naming the
//! reader a framework uses and the decoding rules aigis must share with it, and one
//! implementation per rule, used by every analyzer of that format. A scanner that parses a file
//! differently from its loader is scanning a different file.
//!
//! | format | loader reads it with | rules (implementation) |
//! |---|---|---|
//! | Keras v3 `.keras` | `zipfile.ZipFile` + `json.loads(zf.read("config.json"))` | zip found where `zipfile` finds it, member names and duplicate winner, CRC checked ([`crate::archive::zip_index`]); JSON as `json.loads(bytes)` ([`json::loads_bytes`]) |
//! | Keras HDF5 | `h5py` attribute → `.decode("utf-8")` → `json.loads(str)` | [`json::loads_bytes`] (wider than the loader: UTF-16/32 are read too) |
//! | skops `.skops` | `zipfile` + `json.loads(zf.read("schema.json"))`, `schema["protocol"]` | as Keras v3; unknown protocol and truncated schema rejected |
//! | NeMo `.nemo` | `tarfile.open` + `extractall`, `OmegaConf.load` (PyYAML `SafeLoader` subclass) | member types `tarfile` extracts as files, names as `tarfile` normalises them ([`crate::archive::tar_members`]); YAML parsed whole, escapes decoded ([`crate::analyzers::yaml`]) — no text pre-filter |
//! | Hydra configs | `OmegaConf.load` / `yaml.safe_load` | as NeMo |
//! | MLflow `MLmodel` | `yaml.safe_load`; pyfunc puts `code` and its sub-folders on `sys.path`, `importlib.import_module(loader_module)` | module resolution as the import system resolves it ([`pymodule`]); loader code parsed ([`crate::python`]) |
//! | `tokenizer_config.json` | `json.load(open(p, encoding="utf-8"))` | [`json::loads_utf8_text`]; `chat_template` (string or named list) |
//! | `chat_template.json` | `json.load(open(p, encoding="utf-8"))` | as above |
//! | `chat_template.jinja` | `open(p, encoding="utf-8").read()` → Jinja | template analysed as GGUF's; parsed as jinja2 parses it (unary plus), names built from literal pieces seen whole |
//! | safetensors | `safetensors` (Rust) `SafeTensors::deserialize` | header checks as the crate's `validate`; what it accepts is valid (unknown fields and identical duplicate keys low, a key twice with different values medium: the library keeps the last), null metadata none |
//! | ONNX external data | `onnx.load` → `load_external_data_for_tensor`; onnxruntime | location inside the model folder, the data file present and offset + length inside it (`analyzers::onnx`) |
//! | `modeling_*.py` & co. | `transformers.dynamic_module_utils`: `auto_map` `module.Class`, relative imports by its regexes | [`crate::analyzers`]`::remote_code` |
//!
//! JSON, zip, tar, YAML, Jinja and safetensors have differential tests over variants generated
//! and read by the real library (`scripts/differential/*.py` → `fixtures/differential/*.jsonl.gz`);
//! the HDF5, ONNX and module-resolution rows are checked by loader-verified fixtures only.

pub mod json;
pub mod pymodule;

#[cfg(test)]
mod tests;
