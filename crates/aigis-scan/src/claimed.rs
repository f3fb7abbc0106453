//! What a file's name claims it is. Formats are decided from content alone; a name only matters
//! when the content is no format aigis reads: a file named like a model that is not one (empty,
//! a Git LFS pointer left by a clone without LFS, an HTML error page saved by a failed download,
//! or bytes of a format aigis does not know) is `invalid`, never a quiet `unsupported`, because
//! whatever loads it under that name was not judged.

use crate::analyzer::Context;
use crate::rules::RuleId;

/// Extensions a model file goes by, with what they claim. `.bin` is left out here: besides
/// `torch.save` checkpoints it names fastText, word2vec and CTranslate2 models and firmware, so
/// only the Hugging Face weight names below claim a PyTorch checkpoint.
const MODEL_EXTENSIONS: &[(&str, &str)] = &[
    ("pt", "a PyTorch checkpoint"),
    ("pth", "a PyTorch checkpoint"),
    ("ckpt", "a checkpoint"),
    ("pkl", "a pickle"),
    ("pickle", "a pickle"),
    ("joblib", "a joblib file"),
    ("safetensors", "a safetensors file"),
    ("onnx", "an ONNX model"),
    ("keras", "a Keras model"),
    ("gguf", "a GGUF model"),
    ("npy", "a NumPy array"),
    ("npz", "a NumPy archive"),
    ("tflite", "a TensorFlow Lite model"),
    ("skops", "a skops model"),
    ("nemo", "a NeMo model"),
];

/// Stems of the `.bin` files `transformers`, `peft` and `accelerate` write with `torch.save`.
const TORCH_BIN_STEMS: &[&str] = &[
    "pytorch_model",
    "adapter_model",
    "training_args",
    "optimizer",
    "scheduler",
];

/// What `name` (a file name or an archive member's path) says the file is, if it names a model.
pub(crate) fn claimed_model(name: &str) -> Option<&'static str> {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    // An image layer's whiteout (`.wh.x.pt` deletes `x.pt`) and macOS's AppleDouble shadow
    // (`._x.pt`, often under `__MACOSX/`) are named after a model but are no file a loader opens.
    if base.starts_with(".wh.") || base.starts_with("._") || name.contains("__MACOSX/") {
        return None;
    }
    if base == "saved_model.pb" {
        return Some("a TensorFlow SavedModel");
    }
    let (stem, ext) = base.rsplit_once('.')?;
    if stem.is_empty() {
        return None;
    }
    let ext = ext.to_ascii_lowercase();
    if ext == "bin" {
        return TORCH_BIN_STEMS
            .iter()
            .any(|s| stem == *s || stem.starts_with(&format!("{s}-")))
            .then_some("a PyTorch checkpoint");
    }
    MODEL_EXTENSIONS
        .iter()
        .find(|(e, _)| *e == ext)
        .map(|&(_, what)| what)
}

fn is_bin(name: &str) -> bool {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    base.len() > 4
        && base.to_ascii_lowercase().ends_with(".bin")
        && !base.starts_with(".wh.")
        && !base.starts_with("._")
}

/// Reports (and makes `invalid`) a file or member whose name claims a model format that its
/// content, `head` of `len` bytes, is not. Called only when no analyzer claimed the content and
/// nothing was reported about it.
pub(crate) fn judge_unrecognised(name: &str, head: &[u8], len: u64, cx: &mut Context<'_>) {
    let text = head.trim_ascii_start();
    let lower = |n: usize| text[..text.len().min(n)].to_ascii_lowercase();
    let lfs = head.starts_with(b"version https://git-lfs.github.com/spec/");
    let html = lower(15).starts_with(b"<!doctype html") || lower(5).starts_with(b"<html");
    let what = match claimed_model(name) {
        Some(what) => what,
        // Any other `.bin` may be a format aigis does not read (fastText, CTranslate2) or no
        // model at all (firmware, an empty placeholder), but a pointer or a web page is one that
        // was never fetched.
        None if is_bin(name) && (lfs || html) => "a model weights file",
        None => return,
    };
    let message = if len == 0 {
        format!("an empty file named like {what}: there is no model to load or judge")
    } else if lfs {
        format!(
            "a Git LFS pointer in place of {what}: the content was never fetched (git lfs pull), \
             so the model was not scanned"
        )
    } else if html {
        format!(
            "an HTML page named like {what} (a failed or redirected download?): the model was not \
             scanned"
        )
    } else {
        format!(
            "named like {what}, but its content is no model format aigis reads ({len} bytes): a \
             loader given it under this name was not judged"
        )
    };
    cx.malformed(RuleId::ModelUnrecognised, message, None);
}

#[cfg(test)]
mod tests {
    use super::claimed_model;

    #[test]
    fn names_that_claim_a_model() {
        for name in [
            "model.pt",
            "dir/weights.PTH",
            "last.ckpt",
            "model.safetensors",
            "model-00001-of-00002.safetensors",
            "m.onnx",
            "saved_model.pb",
            "export/1/saved_model.pb",
            "m.keras",
            "llama.Q4_K_M.gguf",
            "pytorch_model.bin",
            "pytorch_model-00001-of-00003.bin",
            "training_args.bin",
            "x.npy",
            "clf.joblib",
        ] {
            assert!(claimed_model(name).is_some(), "{name}");
        }
        for name in [
            "model.bin",
            "cc.en.300.bin",
            "firmware.bin",
            "graph.pb",
            "config.json",
            ".pt",
            "README",
            "model.h5",
            "tokenizer.model",
            "opt/models/.wh.old.pkl",
            "__MACOSX/m/._model.pt",
            "._model.pt",
        ] {
            assert!(claimed_model(name).is_none(), "{name}");
        }
    }
}
