//! The Keras HDF5 differential: every case of `fixtures/differential/hdf5.jsonl.gz` (made by
//! `scripts/differential/hdf5_attrs.py`, which records what `h5py.File(path, "r")` and Keras's
//! legacy loader — `f.attrs.get(name)`, `.decode("utf-8")`, `json.loads` — read from the root
//! attributes of generated files) must be read by aigis as the loader reads it.
//!
//! Two levels. The reading: for a file h5py opens, [`hdf5::RootAttributes::reading`] gives, for
//! `model_config`, `training_config`, `keras_version` and `backend`, the same outcome (absent,
//! refused, or exactly the same text) and [`hdf5::json_loads_str`] accepts the text exactly
//! when `json.loads` does. Where aigis cannot read the root attributes as libhdf5 does (the
//! header does not parse whole, a dense-storage checksum fails: [`hdf5::RootAttributes::strict_error`])
//! it reads them message by message and may read more than h5py, never less. The verdict,
//! scanning the file as `model.h5`:
//! - the loader reads a malicious `model_config` (or, with it, a malicious `training_config`):
//!   rated high or worse;
//! - the loader reads a benign `model_config` (and a benign or no `training_config`), and the
//!   `model_config` attributes hold nothing else (a second attribute of the name, which aigis
//!   judges too): a Keras HDF5 file, status ok, nothing high;
//! - h5py cannot open the file, or the loader gets no `model_config` it can parse: never ok —
//!   invalid, or declined as an HDF5 file that is not Keras (which for a file named `model.h5` is
//!   also invalid: a model aigis does not recognise).

use super::tests::{b64, cases, report};
use crate::analyzers::keras::hdf5;
use crate::{Format, MemorySource, Severity, Status};
use serde_json::Value;

const NAMES: [&str; 4] = [
    "model_config",
    "training_config",
    "keras_version",
    "backend",
];
const CONFIGS: [&str; 2] = ["model_config", "training_config"];

/// The loader's reading recorded for `name`: `Absent`, `Text` (with whether `json.loads` takes it
/// and what payload it is) or `Refused`.
fn recorded(case: &Value, name: &str) -> (hdf5::Reading, bool, Option<String>) {
    let r = &case["attrs"][name];
    let reading = match r["state"].as_str() {
        Some("absent") => hdf5::Reading::Absent,
        Some("text") => hdf5::Reading::Text(b64(&r["text"])),
        _ => hdf5::Reading::Refused(r["error"].as_str().unwrap_or("").to_string()),
    };
    let json = r["json"] == Value::Bool(true);
    (reading, json, r["kind"].as_str().map(str::to_string))
}

fn brief(reading: &hdf5::Reading) -> String {
    match reading {
        hdf5::Reading::Text(t) => {
            let s = String::from_utf8_lossy(t);
            let tail: String = s
                .chars()
                .rev()
                .take(40)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            format!("text of {} bytes …{tail:?}", t.len())
        }
        other => format!("{other:?}"),
    }
}

#[test]
fn keras_hdf5_attributes_are_read_as_h5py_and_keras_read_them() {
    let scanner = crate::Scanner::new(crate::ScanOptions::default());
    let all = cases("hdf5.jsonl.gz");
    let mut divergences = Vec::new();
    // Cases h5py opens, whose model_config the loader parses, malicious, benign.
    let mut counts = [0usize; 4];
    for case in &all {
        let bytes = b64(&case["b"]);
        let why = case["why"].as_str().unwrap_or("");
        let opened = case["open"] == Value::Bool(true);
        let readings: Vec<_> = NAMES.iter().map(|n| recorded(case, n)).collect();

        // The reading, where h5py opens the file. aigis reads all root attributes or none (libhdf5
        // decodes them one by one as it looks for a name): failing all of them agrees with h5py
        // where the loader gets no model_config text either.
        let mut other_texts = false;
        if opened {
            let ours = hdf5_reader::Hdf5File::from_vec(bytes.clone())
                .map_err(|e| e.to_string())
                .and_then(|f| hdf5::root_attributes(&f));
            match ours {
                Err(err) => {
                    if matches!(readings[0].0, hdf5::Reading::Text(_)) {
                        divergences.push(format!("{why}: h5py reads model_config, aigis: {err}"));
                    }
                }
                Ok(attributes) => {
                    if let hdf5::Reading::Text(text) = &readings[0].0 {
                        other_texts = attributes
                            .lenient_texts("model_config")
                            .iter()
                            .any(|t| t != text);
                    }
                    for (name, (theirs, json, _)) in NAMES.iter().zip(&readings) {
                        let mine = attributes.reading(name);
                        let same = match (&mine, theirs) {
                            (hdf5::Reading::Refused(_), hdf5::Reading::Refused(_)) => true,
                            // Read message by message, without checksums, aigis may read more
                            // than libhdf5 (and says the file is malformed), never less.
                            (_, hdf5::Reading::Absent | hdf5::Reading::Refused(_))
                                if attributes.strict_error().is_some() =>
                            {
                                true
                            }
                            (a, b) => a == b,
                        };
                        if !same {
                            divergences.push(format!(
                                "{why}: {name}: h5py {}, aigis {}",
                                brief(theirs),
                                brief(&mine)
                            ));
                        } else if let (hdf5::Reading::Text(text), hdf5::Reading::Text(_)) =
                            (&mine, theirs)
                            && CONFIGS.contains(name)
                        {
                            let ok = hdf5::json_loads_str(text)
                                .is_ok_and(|j| crate::loaders::json::loads_bytes(&j, 100).is_ok());
                            if ok != *json {
                                divergences.push(format!(
                                    "{why}: {name}: json.loads {}, aigis {}",
                                    if *json { "parses" } else { "refuses" },
                                    if ok { "parses" } else { "refuses" }
                                ));
                            }
                        }
                    }
                }
            }
        }

        // The verdict.
        let result = scanner.scan_source("model.h5".into(), &MemorySource::new(bytes));
        let worst = result
            .findings
            .iter()
            .map(|f| f.severity)
            .max()
            .unwrap_or(Severity::Info);
        let verdict = || {
            let why: Vec<&str> = result.findings.iter().map(|f| f.message.as_str()).collect();
            format!(
                "aigis {} {:?} {worst:?}: {why:?}",
                result.format, result.status
            )
        };
        let (model, model_json, model_kind) = &readings[0];
        let (training, training_json, training_kind) = &readings[1];
        let model_read = opened && matches!(model, hdf5::Reading::Text(_)) && *model_json;
        let training_read = matches!(training, hdf5::Reading::Text(_)) && *training_json;
        let malicious = model_read
            && (model_kind.as_deref() == Some("malicious")
                || (training_read && training_kind.as_deref() == Some("malicious")));
        // Benign: what the loader reads, and all that the model_config attributes hold (a second
        // attribute of the name or array elements are judged too, see `judge_attribute`).
        let benign = model_read
            && !other_texts
            && model_kind.as_deref() == Some("benign")
            && (matches!(training, hdf5::Reading::Absent)
                || (training_read && training_kind.as_deref() == Some("benign")));
        for (i, yes) in [opened, model_read, malicious, benign]
            .into_iter()
            .enumerate()
        {
            counts[i] += usize::from(yes);
        }
        if malicious && worst < Severity::High {
            divergences.push(format!(
                "{why}: the loader reads a malicious config; {}",
                verdict()
            ));
        }
        if benign
            && (worst >= Severity::High
                || result.status != Status::Ok
                || result.format != Format::KerasH5)
        {
            divergences.push(format!(
                "{why}: the loader reads a benign config; {}",
                verdict()
            ));
        }
        // Never clean when the loader fails: invalid, or an HDF5 file that is not Keras (named
        // `model.h5`, that too is invalid).
        if !model_read && result.status == Status::Ok {
            let what = if opened {
                format!("the loader gets no config ({})", brief(model))
            } else {
                let error = case["error"].as_str().unwrap_or("");
                format!("h5py cannot open it ({error})")
            };
            divergences.push(format!("{why}: {what}; {}", verdict()));
        }
    }
    let [opened, read, malicious, benign] = counts;
    eprintln!(
        "Keras HDF5: h5py opens {opened}, the loader parses model_config in {read} ({malicious} malicious, {benign} benign)"
    );
    report("Keras HDF5", all.len(), &divergences);
}
