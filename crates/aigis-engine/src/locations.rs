//! Where models live on a host: the model caches in every readable home folder, the cache
//! variables of this process, and the system folders model servers use.

use std::path::PathBuf;

/// The standard model locations of this host that exist: model caches in the home folder of
/// every user we can read, the cache variables of this process, and system folders.
pub fn standard_model_locations() -> Vec<PathBuf> {
    let mut homes: Vec<PathBuf> = Vec::new();
    if let Some(home) = std::env::var_os("HOME") {
        homes.push(PathBuf::from(home));
    }
    if let Ok(passwd) = std::fs::read_to_string("/etc/passwd") {
        homes.extend(
            passwd
                .lines()
                .filter_map(|l| l.split(':').nth(5))
                .filter(|h| h.starts_with("/home/") || *h == "/root")
                .map(PathBuf::from),
        );
    }
    if let Ok(entries) = std::fs::read_dir("/home") {
        homes.extend(entries.flatten().map(|e| e.path()));
    }
    let mut roots = Vec::new();
    for home in &homes {
        for sub in [
            ".cache/huggingface",
            ".cache/torch",
            ".keras",
            ".ollama",
            ".cache/lm-studio",
            ".lmstudio",
            ".cache/whisper",
            ".cache/gpt4all",
            ".local/share/nomic.ai",
        ] {
            roots.push(home.join(sub));
        }
    }
    for var in [
        "HF_HOME",
        "HF_HUB_CACHE",
        "HUGGINGFACE_HUB_CACHE",
        "TRANSFORMERS_CACHE",
        "TORCH_HOME",
        "OLLAMA_MODELS",
        "KERAS_HOME",
    ] {
        if let Some(dir) = std::env::var_os(var) {
            roots.push(PathBuf::from(dir));
        }
    }
    for dir in [
        "/models",
        "/opt",
        "/srv",
        "/var/lib/ollama",
        "/usr/share/ollama",
        "/mnt/models",
        "/data/models",
        "/var/lib/triton",
        "/home/model-server",
    ] {
        roots.push(PathBuf::from(dir));
    }
    let mut existing: Vec<PathBuf> = roots.into_iter().filter(|r| r.is_dir()).collect();
    existing.sort();
    existing.dedup();
    // A root inside another root is walked once.
    let all = existing.clone();
    existing.retain(|r| !all.iter().any(|o| o != r && r.starts_with(o)));
    existing
}
