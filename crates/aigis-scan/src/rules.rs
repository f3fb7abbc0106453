//! The rule catalogue: every finding carries one stable [`RuleId`], and this module is the single
//! place that says what each rule means, how bad it is by default, what to do about it, and where
//! it is documented elsewhere (CWE, MITRE ATLAS, OWASP). `aigis rules`, SARIF `rules[]` and policy
//! suppressions all read it.

use crate::Severity;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// Description of one rule, as printed by `aigis rules ID`.
#[derive(Debug, Clone, Serialize)]
pub struct Rule {
    /// Stable id, e.g. `PICKLE-CALL-DANGEROUS`.
    pub id: &'static str,
    /// Severity a finding of this rule has unless a policy overrides it.
    pub default_severity: Severity,
    /// One-line title.
    pub title: &'static str,
    /// Why this matters.
    pub explanation: &'static str,
    /// What to do about it.
    pub remediation: &'static str,
    /// External references (CWE, MITRE ATLAS, OWASP, …).
    pub references: &'static [&'static str],
}

const SUPPLY_CHAIN: &[&str] = &[
    "CWE-502: Deserialization of Untrusted Data",
    "MITRE ATLAS AML.T0010: ML Supply Chain Compromise",
    "MITRE ATLAS AML.T0011: User Execution",
    "OWASP LLM03:2025 Supply Chain",
    "OWASP ML06:2023 AI Supply Chain Attacks",
    "NIST AI RMF 1.0 MANAGE 3.1: risks from third-party AI resources are monitored and controlled",
    "EU AI Act Art. 15(5): cybersecurity of high-risk AI systems (model poisoning, supply chain)",
];
const CODE_LOAD: &[&str] = &[
    "CWE-502: Deserialization of Untrusted Data",
    "MITRE ATLAS AML.T0011.000: User Execution: Unsafe ML Artifacts",
    "OWASP LLM03:2025 Supply Chain",
    "OWASP ML06:2023 AI Supply Chain Attacks",
];
const CODE_REMOTE: &[&str] = &[
    "CWE-494: Download of Code Without Integrity Check",
    "CWE-829: Inclusion of Functionality from Untrusted Control Sphere",
    "MITRE ATLAS AML.T0010: ML Supply Chain Compromise",
    "OWASP LLM03:2025 Supply Chain",
];
const MALFORMED: &[&str] = &[
    "CWE-20: Improper Input Validation",
    "OWASP ML06:2023 AI Supply Chain Attacks",
];
const PATH_ESCAPE: &[&str] = &[
    "CWE-22: Improper Limitation of a Pathname to a Restricted Directory",
    "CWE-59: Improper Link Resolution Before File Access",
    "MITRE ATLAS AML.T0010: ML Supply Chain Compromise",
    "OWASP LLM03:2025 Supply Chain",
];
const TEMPLATE_INJECTION: &[&str] = &[
    "CWE-1336: Improper Neutralization of Special Elements Used in a Template Engine",
    "CVE-2024-34359",
    "MITRE ATLAS AML.T0010: ML Supply Chain Compromise",
    "OWASP LLM03:2025 Supply Chain",
];
const STORAGE_EXPOSURE: &[&str] = &[
    "CWE-732: Incorrect Permission Assignment for Critical Resource",
    "MITRE ATLAS AML.T0010: ML Supply Chain Compromise",
    "OWASP LLM03:2025 Supply Chain",
];
const HOST_CONTEXT: &[&str] = &[
    "CWE-732: Incorrect Permission Assignment for Critical Resource",
    "CWE-276: Incorrect Default Permissions",
    "MITRE ATLAS AML.T0010: ML Supply Chain Compromise",
    "OWASP LLM03:2025 Supply Chain",
];
const RESOURCES: &[&str] = &[
    "CWE-400: Uncontrolled Resource Consumption",
    "CWE-409: Improper Handling of Highly Compressed Data",
    "MITRE ATLAS AML.T0029: Denial of ML Service",
];

macro_rules! rules {
    ($( $(#[$doc:meta])* $variant:ident = $id:literal, $sev:ident, $title:literal, $expl:literal, $fix:literal, $refs:expr; )*) => {
        /// Stable identifier of every rule aigis can emit.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum RuleId {
            $( $(#[$doc])* $variant, )*
        }

        impl RuleId {
            /// Every rule, in catalogue order.
            pub const ALL: &'static [RuleId] = &[$(RuleId::$variant),*];

            /// The full catalogue entry.
            pub fn rule(self) -> &'static Rule {
                match self {
                    $( RuleId::$variant => &Rule {
                        id: $id,
                        default_severity: Severity::$sev,
                        title: $title,
                        explanation: $expl,
                        remediation: $fix,
                        references: $refs,
                    }, )*
                }
            }
        }
    };
}

rules! {
    /// A pickle invokes a known code-execution, shell, file, network or import primitive.
    PickleCallDangerous = "PICKLE-CALL-DANGEROUS", Critical,
        "Loading runs a dangerous function",
        "Unpickling calls a function that executes commands or code, writes files, opens network connections or imports modules. Loading this file attacks the machine that loads it.",
        "Do not load this file. Treat the source as compromised; obtain the model from a trusted publisher, preferably as safetensors.",
        SUPPLY_CHAIN;
    /// A pickle invokes a callable outside the allow-list of known framework callables.
    PickleCallUnknown = "PICKLE-CALL-UNKNOWN", High,
        "Loading calls a function no known framework needs",
        "Unpickling calls a function that is not on the allow-list of callables that PyTorch, NumPy, scikit-learn, pandas and the standard library use to rebuild models. Such a call can have any effect.",
        "Review the call. If it is your own code and trusted, allow it with `--allow-global module.name` or the policy file; otherwise do not load the file.",
        SUPPLY_CHAIN;
    /// A pickle loads a reference to a dangerous callable without visibly calling it.
    PickleRefDangerous = "PICKLE-REF-DANGEROUS", High,
        "Pickle references a dangerous function",
        "The pickle imports a code-execution, shell, file or network function. Even when the call is not visible statically, a reference passed into other objects can be invoked during or after loading.",
        "Do not load this file; legitimate models never reference these functions.",
        SUPPLY_CHAIN;
    /// A pickle references a global outside the known framework namespaces.
    PickleRefUnknown = "PICKLE-REF-UNKNOWN", Medium,
        "Pickle references code outside the known-safe set",
        "The pickle imports a module attribute outside the known framework namespaces. Importing a module runs its top-level code.",
        "Check that the module is installed from a trusted source; allow it with `--allow-global` if it is yours.",
        SUPPLY_CHAIN;
    /// A pickle constructs an instance of a class outside the known framework namespaces.
    PickleClassUnknown = "PICKLE-CLASS-UNKNOWN", Medium,
        "Loading constructs a class from outside the known frameworks",
        "The pickle rebuilds an object of a third-party or application class (e.g. a model class from `__main__`). Loading needs that code and trusts its `__setstate__`.",
        "Prefer saving weights only (state_dict + safetensors). If the class is yours, allow it with `--allow-global module.Class`.",
        SUPPLY_CHAIN;
    /// A pickle sets attributes on a module or class object (monkey-patching on load).
    PickleStateOnGlobal = "PICKLE-STATE-ON-GLOBAL", High,
        "Loading modifies a module or class",
        "A BUILD opcode applies state to an imported module or class object, which replaces its attributes: loading monkey-patches code that later runs.",
        "Do not load this file; no framework pickles state onto classes or modules.",
        SUPPLY_CHAIN;
    /// An EXT opcode refers to a copyreg extension code that cannot be resolved statically.
    PickleExtensionUnresolved = "PICKLE-EXT-UNRESOLVED", High,
        "Pickle uses an unregistered extension code",
        "EXT1/EXT2/EXT4 opcodes name a callable through the copyreg extension registry, which is empty unless the loading process registered codes. The target cannot be verified.",
        "Do not load this file unless you know which extension registry it was made for.",
        SUPPLY_CHAIN;
    /// A byte string in a pickle is itself a pickle that a loader call would unpickle.
    PickleNested = "PICKLE-NESTED", Info,
        "Pickle contains a nested pickle passed to a loader",
        "A bytes constant is handed to a pickle loader during unpickling; its content is scanned and reported separately.",
        "Review the nested findings.",
        SUPPLY_CHAIN;
    /// A loader or evaluator receives data computed at load time that cannot be computed statically.
    PickleNestedUnverified = "PICKLE-NESTED-UNVERIFIED", High,
        "Loader receives data computed at load time",
        "A loader or evaluator called during unpickling (a nested pickle or model loader) receives data built at load time by calls the scanner cannot evaluate, so what it loads cannot be verified. Bytes built by pure transformations (bytes of int lists, codecs, base64, zlib/bz2/lzma, concatenation, slicing) are computed and scanned; anything else is reported.",
        "Do not load this file; frameworks hand loaders constant bytes.",
        SUPPLY_CHAIN;
    /// A STACK_GLOBAL whose module or name is computed while loading.
    PickleDynamicImport = "PICKLE-DYNAMIC-IMPORT", High,
        "Pickle imports a name computed at load time",
        "The module or attribute name of a STACK_GLOBAL is not a constant: it is built by calls during unpickling, which hides what is imported from scanners.",
        "Do not load this file; frameworks always write constant names.",
        SUPPLY_CHAIN;
    /// An irregularity in a pickle stream that a loader tolerates (frame length mismatch, …).
    PickleAnomaly = "PICKLE-ANOMALY", Medium,
        "Irregular pickle stream",
        "The stream holds something a loader tolerates but no pickler writes, such as a FRAME whose declared length does not match its content. Such irregularities are used to confuse scanners.",
        "Treat the file as crafted; re-export the model from its framework.",
        MALFORMED;
    /// The file is a pickle (or carries one): loading it runs code by design.
    PickleFormat = "PICKLE-FORMAT", Info,
        "Pickle format runs code on load",
        "Pickle-based formats (PyTorch .pt/.bin, joblib, NumPy object arrays) can execute arbitrary code when loaded. Nothing dangerous was found, but the format cannot be made safe.",
        "Prefer safetensors (or ONNX/GGUF) for distribution; load pickles only with `torch.load(weights_only=True)` or an equivalent restricted loader.",
        SUPPLY_CHAIN;
    /// The pickle stream is malformed (truncated, bad opcode, stack misuse).
    PickleMalformed = "PICKLE-MALFORMED", Medium,
        "Malformed pickle stream",
        "The pickle stream breaks: a loader executes every opcode up to the break, so anything reported before it still runs. Malformed streams are also used to confuse scanners.",
        "Do not load the file; re-export it from the source framework.",
        MALFORMED;
    /// An archive or compressed stream is malformed.
    ArchiveMalformed = "ARCHIVE-MALFORMED", Medium,
        "Malformed archive",
        "The archive or compressed stream is truncated or corrupt. Lenient loaders may still read parts that strict tools skip.",
        "Re-download or re-export the file.",
        MALFORMED;
    /// An archive member aigis cannot decode (a coder it lacks, encryption, a decoder limit),
    /// though the archive's extractor can.
    ArchiveUnscannableMember = "ARCHIVE-UNSCANNABLE-MEMBER", High,
        "Archive member could not be scanned",
        "A member is stored with a coder aigis cannot decode (for 7z: Deflate64, BCJ2, an unknown or future method), is encrypted, or needs more decoder memory than aigis allows. The archive's extractor may still unpack it, so its content is unknown: a member hidden this way is exactly how a payload passes a scanner.",
        "Extract the archive with a trusted tool and scan the extracted files, or re-create it with a common coder (LZMA2, LZMA, Deflate).",
        MALFORMED;
    /// An archive member would be written outside the extraction folder.
    ArchivePathTraversal = "ARCHIVE-PATH-TRAVERSAL", High,
        "Archive member escapes the extraction folder",
        "A member name is absolute or contains `..`: extracting the archive writes outside the destination (archive slip), e.g. over shell start-up files.",
        "Do not extract this archive; it was crafted to overwrite files.",
        PATH_ESCAPE;
    /// An archive member is a symbolic or hard link that points outside the archive.
    ArchiveLinkEscape = "ARCHIVE-LINK-ESCAPE", High,
        "Archive link points outside the archive",
        "A symbolic or hard link member targets an absolute path or climbs out with `..`; extraction makes later writes land outside the destination.",
        "Do not extract this archive.",
        PATH_ESCAPE;
    /// An archive contains device files, FIFOs or other special members.
    ArchiveSpecialMember = "ARCHIVE-SPECIAL-MEMBER", Medium,
        "Archive contains a device or special file",
        "Model archives hold regular files only; device nodes and FIFOs are a sign of tampering.",
        "Inspect the archive before extracting it.",
        PATH_ESCAPE;
    /// Two archive members have the same name, so tools disagree on which one is read.
    ArchiveDuplicateName = "ARCHIVE-DUPLICATE-NAME", Medium,
        "Duplicate member names in archive",
        "Different readers pick different members when names repeat, a known way to show a scanner one file and a loader another.",
        "Re-create the archive.",
        MALFORMED;
    /// Local and central zip headers disagree, or a zip entry is hidden from the central directory.
    ZipInconsistent = "ZIP-INCONSISTENT", Medium,
        "Zip headers disagree",
        "The local header and the central directory of a zip entry disagree (name, flags, CRC) or an entry appears in only one of them. Loaders and scanners then read different contents.",
        "Re-export the model with its framework; treat the file as tampered.",
        MALFORMED;
    /// The file is valid as two formats at once.
    Polyglot = "POLYGLOT-FILE", Medium,
        "File is valid as two formats",
        "The content parses as one format from its start and as another (e.g. a zip found from its end). Loaders that pick different views load different content, and scanners that read one view miss the other.",
        "Treat the file as crafted; re-export the model from its framework.",
        MALFORMED;
    /// An ONNX tensor's external data lives outside the model folder.
    OnnxExternalDataEscape = "ONNX-EXTERNAL-DATA-ESCAPE", Critical,
        "ONNX external data points outside the model folder",
        "A tensor stores its data in an external file whose `location` is absolute, climbs out with `..` or is a URL. Runtimes join it with the model folder and read it on load, so the model reads an arbitrary file of the host (e.g. keys or /etc/passwd) into a tensor whose values the model's outputs can leak.",
        "Do not load this model. Legitimate external data sits beside the model file or in a subfolder.",
        PATH_ESCAPE;
    /// An ONNX operator from a non-standard domain, or a model-local function.
    OnnxCustomOp = "ONNX-CUSTOM-OP", Medium,
        "ONNX model uses custom operators",
        "The graph uses operators outside the ONNX standard and ONNX Runtime built-in domains, which run only after a custom op library (native code) is registered, or defines model-local functions that run as operators.",
        "Check that the custom op library comes from a trusted publisher before registering it.",
        SUPPLY_CHAIN;
    /// A TensorFlow graph (or a TFLite Flex op) runs an op that touches files, the network or Python.
    TfDangerousOp = "TF-DANGEROUS-OP", Critical,
        "TensorFlow graph runs a file, network or Python op",
        "A node of the graph or of one of its functions runs an op that reads or writes files (ReadFile, WriteFile, MatchingFiles, dataset readers and writers), calls Python (PyFunc, EagerPyFunc), opens network connections (RPC, data service) or writes debug output to a path or URL. Serving or calling the model does it on the host; no model computation needs it.",
        "Do not serve or call this model; rebuild it from trusted code.",
        SUPPLY_CHAIN;
    /// A TensorFlow or TFLite op that is not part of the framework.
    TfCustomOp = "TF-CUSTOM-OP", Medium,
        "TensorFlow model uses custom ops",
        "The graph uses ops that TensorFlow (or TFLite) does not ship. They run only after a custom op library (native code) is loaded, which then runs with the model.",
        "Check that the op library comes from a trusted publisher before loading it.",
        SUPPLY_CHAIN;
    /// A Keras Lambda layer in a Keras 2 SavedModel's `keras_metadata.pb`.
    TfKerasLambda = "TF-KERAS-LAMBDA", Critical,
        "Keras SavedModel metadata carries a Lambda layer",
        "`keras_metadata.pb` describes a Lambda layer. For a lambda the config holds marshalled Python bytecode that `tf.keras.models.load_model` turns back into a function and runs; a named function is imported from its module.",
        "Do not load this model with Keras; load only the TensorFlow graph with `tf.saved_model.load`, or rebuild the model in code.",
        SUPPLY_CHAIN;
    /// TorchScript code calls something that touches host files, Python internals or native libraries.
    TorchscriptDangerousCall = "TORCHSCRIPT-DANGEROUS-CALL", Critical,
        "TorchScript code touches files or escapes to Python",
        "The `code/` of a TorchScript archive is compiled and run by `torch.jit.load`: `__setstate__` (and what it calls) at load time, `forward` and other methods when the model is called. A call here creates or writes a file (`torch.from_file(..., shared=True)` maps a file writably and creates it, `torch.save`), reads a host file into a tensor, loads another model or a native library, or reaches `os`, `subprocess`, `builtins`, `eval`/`exec`. No model computation needs that.",
        "Do not load or call this model; re-export it from trusted source code.",
        SUPPLY_CHAIN;
    /// TorchScript code calls operators that only a native extension library registers.
    TorchscriptCustomOp = "TORCHSCRIPT-CUSTOM-OP", Medium,
        "TorchScript model uses custom operators",
        "The TorchScript code calls `ops.<namespace>.<op>` outside the namespaces PyTorch and its domain libraries register. `torch.jit.load` succeeds only after a native library that registers them is loaded (`torch.ops.load_library`), and that native code runs with the model; called from `__setstate__`, it runs at load time (high).",
        "Check that the operator library comes from a trusted publisher before loading it.",
        SUPPLY_CHAIN;
    /// A decompression bomb or an input beyond a resource limit.
    ResourceLimit = "RESOURCE-LIMIT", Medium,
        "Input exceeds a resource limit",
        "The file hits a limit on size, decompression ratio, nesting depth, opcode count, memo size or time. The part beyond the limit was not analysed.",
        "Inspect the file by other means; raise the limit only for trusted inputs.",
        RESOURCES;
    /// Analysis of a file did not finish within the per-file time limit.
    TimeLimit = "TIME-LIMIT", Medium,
        "Analysis exceeded the time limit",
        "The file took longer than the per-file time limit to analyse and was not fully examined. Crafted files use this to make scanners give up.",
        "Inspect the file by other means; raise `--time-limit` only for trusted inputs.",
        RESOURCES;
    /// A Keras Lambda layer carries marshalled Python bytecode.
    KerasLambda = "KERAS-LAMBDA", High,
        "Keras Lambda layer runs Python bytecode",
        "A Lambda layer stores a Python function as marshalled bytecode; Keras runs it when the model is loaded with safe_mode off (and through safe-mode bypasses) and on every call. The message lists the names and strings the bytecode uses.",
        "Do not load the model with safe_mode=False. Re-create the layer from source code you trust, or replace it with built-in layers.",
        SUPPLY_CHAIN;
    /// A Keras config names a dangerous callable or a file/network gadget.
    KerasDangerousReference = "KERAS-DANGEROUS-REFERENCE", Critical,
        "Keras config references a dangerous function",
        "The model config names a function or class that Keras imports and calls while loading, and that runs commands, evaluates code, touches files or the network (e.g. keras.utils.get_file), or disables safe mode (keras.config.enable_unsafe_deserialization, CVE-2025-9906).",
        "Do not load this model; legitimate models never reference these functions.",
        SUPPLY_CHAIN;
    /// A Keras layer config names a file or URL that loading reads.
    KerasFileReference = "KERAS-FILE-REFERENCE", High,
        "Keras layer reads a file named in its config",
        "Lookup and text layers (StringLookup, IntegerLookup, TextVectorization) and Keras-team tokenizers accept their vocabulary as a path and read it when the layer is built, even in safe mode (CVE-2025-12058): a config can make the loading host read any local file or fetch a remote one. Keras 3 `.keras` files never store such a path (vocabularies are saved inline or as archive assets), so one there was put by hand; Keras 2 files keep the path the model was built from (low).",
        "Do not load a `.keras` file whose config names a path; for Keras 2 models, check that the path is the vocabulary you expect.",
        PATH_ESCAPE;
    /// A Keras config needs a custom object from outside Keras.
    KerasCustomObject = "KERAS-CUSTOM-OBJECT", Medium,
        "Keras model needs a custom object",
        "The config names a class or function from outside Keras (a custom layer, loss or activation). Loading imports that code and runs it.",
        "Check that the custom code comes from a trusted source before loading the model.",
        SUPPLY_CHAIN;
    /// A Keras TorchModuleWrapper carries a pickled torch module.
    KerasTorchModule = "KERAS-TORCH-MODULE", Medium,
        "Keras TorchModuleWrapper unpickles a torch module",
        "TorchModuleWrapper stores a torch module as a base64 pickle that Keras loads with torch.load(weights_only=False), even in safe mode (CVE-2025-49655). The pickle is scanned and reported separately.",
        "Load only from trusted sources, or upgrade Keras to a release that restricts the wrapper.",
        SUPPLY_CHAIN;
    /// A Hydra `_target_` in a model config names code outside the known frameworks.
    HydraTarget = "HYDRA-TARGET", Medium,
        "Model config instantiates code outside the known frameworks",
        "Hydra/OmegaConf model configs (NeMo `.nemo`) name classes and functions in `_target_` keys that are imported and called when the model is built. A target outside NeMo, PyTorch and their libraries needs trust; a standard-library reflection or forwarding helper (`builtins.getattr`, `operator.getitem`, `builtins.sorted` with a key) reaches any object; a command, code or file primitive attacks the host. Dotted paths are resolved as Hydra's `_locate` resolves them, attribute by attribute (`torch.serialization.os.system` is `os.system`).",
        "Review every `_target_`; do not restore models whose targets you do not recognise.",
        SUPPLY_CHAIN;
    /// A skops schema loads a function, method or type outside the trusted set.
    SkopsUntrusted = "SKOPS-UNTRUSTED", High,
        "skops file loads an untrusted function or type",
        "The skops schema asks the loader to import and call a function or method, or to construct a type, outside skops' default trusted set (scikit-learn, NumPy, SciPy, safe builtins). skops.io.load with trusted= or an over-wide trust list runs it (CVE-2025-54412, CVE-2025-54413, CVE-2025-54886).",
        "Call skops.io.get_untrusted_types and review each entry; never pass trusted=True.",
        SUPPLY_CHAIN;
    /// Python code in an MLflow model folder runs when the model loads.
    MlflowCode = "MLFLOW-CODE", Medium,
        "MLflow model code runs on load",
        "mlflow.pyfunc.load_model puts the model's code paths on sys.path and imports its loader module: this Python file runs on load. Static red flags (commands, code evaluation, network) raise the severity.",
        "Read the code before loading the model; load models only from trusted registries.",
        SUPPLY_CHAIN;
    /// A repository's Python file that transformers imports with `trust_remote_code=True`.
    HfRemoteCode = "HF-REMOTE-CODE", Info,
        "Repository code runs on load (trust_remote_code)",
        "The repository's `auto_map` (in config.json, tokenizer_config.json or a processor config) names its own classes: loading it with trust_remote_code=True imports this file and every file its relative imports reach. Static red flags in that code (commands, code evaluation, network, file writes, deserialisers) raise the severity.",
        "Read the code before loading the model with trust_remote_code=True, and pin revision= to the commit you reviewed.",
        CODE_REMOTE;
    /// An MLflow MLmodel loads through a custom module or a pickle-based flavor.
    MlflowLoader = "MLFLOW-LOADER", Medium,
        "MLflow model loads through custom code",
        "The MLmodel file names a loader module outside MLflow (imported on load), or a flavor whose model is a (cloud)pickle.",
        "Review the loader module and code paths; prefer flavors that store weights in safe formats.",
        SUPPLY_CHAIN;
    /// A tabular/other model format carries a custom extension that needs code.
    ModelExtension = "MODEL-EXTENSION", Medium,
        "Model needs custom code or carries scripts",
        "The model declares custom layers or extension elements (CoreML custom layers, PMML Extension content) that a runtime resolves to code outside the format.",
        "Check that the custom code the model needs comes from a trusted source.",
        SUPPLY_CHAIN;
    /// The file claims a model format but is malformed.
    FormatMalformed = "FORMAT-MALFORMED", Medium,
        "Malformed model file",
        "The file starts like a known model format but its structure is invalid.",
        "Re-download or re-export the file.",
        MALFORMED;
    /// The file's name says it is a model, but its content is no model format.
    ModelUnrecognised = "MODEL-UNRECOGNISED", Medium,
        "Named like a model, but not one",
        "The file (or archive member) is named like a model (`.pt`, `.safetensors`, `.onnx`, `saved_model.pb`, `pytorch_model.bin`…) but its content is none of the formats aigis reads: empty, a Git LFS pointer left by a clone without LFS, an HTML page saved by a failed download, or an unknown format under a model's name. Whatever loads it by that name was not judged, so the file is invalid rather than unsupported.",
        "Fetch the real file (git lfs pull, re-download) and scan it again, or rename a file that is not a model.",
        MALFORMED;
    /// The file could not be read.
    ReadError = "READ-ERROR", Medium,
        "File could not be read",
        "An I/O error prevented the scan; the file was not analysed.",
        "Check permissions and retry.",
        &["CWE-703: Improper Check or Handling of Exceptional Conditions"];
    /// A file that would change what aigis reads or how it judges sits inside a scanned target
    /// and was not applied.
    ConfigNotApplied = "CONFIG-NOT-APPLIED", Low,
        "aigis configuration inside a scanned target was not applied",
        "An `aigis.toml` or `.aigisignore` sits inside the scanned files, outside the operator's project. aigis takes its policy and ignore rules from the operator (the working directory's project, `--policy`, `AIGIS_POLICY`, `--ignore-file`), never from the content it judges: a downloaded model folder could otherwise allow its own payload, exclude it or lower its severity.",
        "If the file is yours, run aigis from its project folder or pass it with `--policy` / `--ignore-file`; if it came with a download, find out why a model ships scanner configuration.",
        &["CWE-15: External Control of System or Configuration Setting", "MITRE ATLAS AML.T0010: ML Supply Chain Compromise"];
    /// Loading the model in the `aigis detonate` sandbox started a process.
    RuntimeExec = "RUNTIME-EXEC", Critical,
        "Loading the model started a process",
        "`aigis detonate` loaded the file with its real loader in a sandbox (no network, read-only system, private /tmp) and the load executed a program: the command a victim's machine would run. Nothing the framework does when it is imported is counted, only what happens from the moment the file is read.",
        "Do not load the file. Find where it came from and which other copies exist; the static findings of the same file say which call starts the process.",
        SUPPLY_CHAIN;
    /// Loading the model in the sandbox tried to reach the network.
    RuntimeConnect = "RUNTIME-CONNECT", Critical,
        "Loading the model tried to connect somewhere",
        "In the `aigis detonate` sandbox, which has no network but loopback, the load tried to open a connection (the address and port are in the message; a connection to a local socket is high): a beacon, a download of a second stage, or a reverse shell.",
        "Do not load the file; block the address it tried to reach and look for it in network logs.",
        SUPPLY_CHAIN;
    /// Loading the model in the sandbox tried to write, delete or rename files.
    RuntimeFileWrite = "RUNTIME-FILE-WRITE", High,
        "Loading the model tried to change files",
        "In the `aigis detonate` sandbox the load opened a file for writing, created, renamed or deleted one outside its working folder (blocked by the read-only system; a write inside the sandbox's private /tmp is medium): persistence, a dropped payload, or tampering.",
        "Do not load the file; check the paths it tried to write on the hosts that did.",
        SUPPLY_CHAIN;
    /// The real loader failed, crashed or ran out of time in the sandbox.
    RuntimeCrash = "RUNTIME-CRASH", Medium,
        "Loading the model failed in the sandbox",
        "`aigis detonate` loaded the file with its real loader and the load did not finish: an exception (its last lines are in the message), a crash, the memory limit or the time limit. A payload often raises after it ran; a file the loader cannot read is not a working model.",
        "Read the loader's message; compare with the static findings of the same file.",
        &["CWE-703: Improper Check or Handling of Exceptional Conditions"];
    /// Loading the model in the sandbox attempted a system call the sandbox's seccomp filter
    /// denies.
    RuntimeSyscallDenied = "RUNTIME-SYSCALL-DENIED", High,
        "Loading the model attempted a system call the sandbox denies",
        "In the `aigis detonate` sandbox the load called one of the system calls its seccomp filter refuses (kernel modules, eBPF, perf events, keyrings, ptrace and cross-process memory, new namespaces and mounts, userfaultfd, file handles, the clock, swap, reboot): no model loader needs them, and they are how a payload attacks the kernel or escapes a container.",
        "Do not load the file; the call named in the message is what the payload reached for. Check hosts that loaded it for privilege escalation.",
        SUPPLY_CHAIN;
    /// aigis itself failed while analysing a file (an internal error, caught).
    AnalysisCrashed = "ANALYSIS-CRASHED", Medium,
        "Analysis failed with an internal error",
        "aigis hit an internal error while analysing this file and stopped; the file was not fully examined. Other files of the run are unaffected.",
        "Inspect the file by other means and report the error (the message says where it happened) to the aigis maintainers.",
        &["CWE-703: Improper Check or Handling of Exceptional Conditions"];
    /// A Jinja chat template reaches Python internals: rendering it unsandboxed runs code.
    ChatTemplateInjection = "CHAT-TEMPLATE-INJECTION", Critical,
        "Chat template escapes the Jinja sandbox",
        "The model's Jinja chat template (e.g. GGUF `tokenizer.chat_template`) walks to Python internals such as `__globals__`, `__subclasses__` or `__builtins__`. Loaders that render templates with an unsandboxed Jinja environment (llama-cpp-python < 0.2.72, CVE-2024-34359) run the commands it reaches as soon as a chat starts.",
        "Do not load this model with a Python loader. Replace the chat template with the publisher's original, and render templates only in a sandboxed environment (`jinja2.sandbox.ImmutableSandboxedEnvironment`).",
        TEMPLATE_INJECTION;
    /// A Jinja chat template does something no real chat template needs (computed attributes,
    /// walks from Jinja globals, private attributes, module names).
    ChatTemplateSuspicious = "CHAT-TEMPLATE-SUSPICIOUS", High,
        "Chat template uses sandbox-escape building blocks",
        "The chat template reads attributes by computed names, walks attributes of Jinja globals (`cycler`, `lipsum`, `self`, …), touches private attributes or names modules such as `os`. Real chat templates only read message fields; these are the first steps of a sandbox escape.",
        "Review the template; replace it with the publisher's original and render it sandboxed.",
        TEMPLATE_INJECTION;
    /// A Jinja chat template does not parse.
    ChatTemplateUnparsable = "CHAT-TEMPLATE-UNPARSABLE", Medium,
        "Chat template does not parse",
        "The chat template is not valid Jinja for a strict parser, so it could not be analysed as a syntax tree (its raw text was still checked for sandbox-escape names). Python's Jinja may still render it.",
        "Review the template text by hand before loading the model with a Python loader.",
        TEMPLATE_INJECTION;
    /// A GGUF count or length is large enough to overflow a loader's arithmetic.
    GgufOverflow = "GGUF-OVERFLOW", High,
        "GGUF header sized to overflow a loader",
        "A tensor, metadata or array count, a string length or a tensor dimension is close to the integer limits. No model needs such values; they are the shape of llama.cpp heap-overflow exploits (e.g. CVE-2024-21802, CVE-2024-21836, CVE-2024-23496, CVE-2024-23605).",
        "Do not load this file; update llama.cpp/ggml-based loaders.",
        MALFORMED;
    /// An executable that carries a model (llamafile and similar).
    ExecutableModel = "EXECUTABLE-MODEL", High,
        "Model ships inside an executable",
        "The file is a native executable (ELF, PE, Mach-O or an Actually Portable Executable such as llamafile) that embeds model weights. Running it runs native code that no scan of the weights can vouch for; it is not a data file.",
        "Use the embedded model as a plain GGUF file with a loader you trust, or run the executable only if you trust its publisher and have verified its signature.",
        SUPPLY_CHAIN;
    /// `--deep`: tensor data holds an executable, archive, pickle or script.
    WeightsEmbeddedPayload = "WEIGHTS-EMBEDDED-PAYLOAD", High,
        "Tensor data hides a payload",
        "With `--deep`, the bytes of a tensor hold a validated executable (ELF, PE, Mach-O), archive (zip, gzip, 7z, xz, tar), pickle (parsed to its STOP; its own findings are reported too) or script at the start of the tensor or at a 512/4096-byte aligned offset inside it. Weights are numbers; a well-formed file inside them is there to be carved out and run by something else (a second-stage loader, a malicious `__setstate__`, a cooperating process).",
        "Do not use this model; ask its publisher how the bytes got there, and check the code that loads it for anything that reads raw tensor bytes.",
        SUPPLY_CHAIN;
    /// `--deep`: float tensors entirely or partly NaN/Inf.
    WeightsNanInf = "WEIGHTS-NAN-INF", Medium,
        "Float tensor holds NaN or Inf",
        "With `--deep`, a float tensor (F16, BF16, F32, F64) holds NaN or infinite values; a trained checkpoint has none. A tensor made wholly of NaN/Inf (high) breaks every output it touches: a sabotaged or corrupted model. Counts are in the message.",
        "Compare the file with the publisher's digest; do not serve a model whose weights are NaN/Inf.",
        SUPPLY_CHAIN;
    /// `--deep`: what a tensor declares does not match its bytes.
    WeightsLayoutMismatch = "WEIGHTS-LAYOUT-MISMATCH", Medium,
        "Tensor layout does not match its bytes",
        "With `--deep`, a tensor's declared dtype and shape do not match the byte range it owns (safetensors offsets, GGUF tensor infos and their type block sizes), tensors overlap, or bytes between tensors hold data that no tensor declares. Loaders then read other bytes than the header says, and the unclaimed bytes are a hiding place.",
        "Re-export the model with the framework's own writer and compare it with the publisher's file.",
        MALFORMED;
    /// `--deep`: the low-order mantissa bits of a float tensor are not what trained weights show.
    WeightsLowBitAnomaly = "WEIGHTS-LOWBIT-ANOMALY", Low,
        "Low-order bits of a tensor look like hidden data",
        "With `--deep`, the lowest mantissa byte of an F32/F64 tensor, which is close to uniform noise in trained or randomly initialised weights (and all zero in weights widened from a lower precision), is skewed in a way steganography tools that overwrite the low bits produce (the chi-square statistic over 255 degrees of freedom is in the message). Medium when the skewed low bytes are mostly printable text (trained weights show about 37%, the uniform share); low when they are not text but skewed far past what real checkpoints show (position tables and weights upcast from half precision reach a statistic of about 2,600; reported past 4,000). A statistic, not proof: never high on its own.",
        "Compare the tensor with the publisher's copy; zeroing the low mantissa bits destroys such a payload at no cost to accuracy.",
        SUPPLY_CHAIN;
    /// Anonymous or all-authenticated users can write where the model is stored.
    StoragePublicWrite = "STORAGE-PUBLIC-WRITE", Critical,
        "Anyone can replace this model",
        "The bucket or container holding this model lets anonymous users (or every authenticated user of the cloud) write objects: a bucket policy allowing `s3:PutObject` to `*`, an ACL grant of WRITE/FULL_CONTROL to AllUsers/AuthenticatedUsers, or a GCS IAM binding of a write role to `allUsers`/`allAuthenticatedUsers`. Anyone can swap the file for a malicious one after it was reviewed. A grant restricted by conditions is reported as `high`.",
        "Remove the public write grant, enable Block Public Access (S3) or public access prevention (GCS), and verify the model against a recorded hash before loading it.",
        STORAGE_EXPOSURE;
    /// Anonymous or all-authenticated users can read or list where the model is stored.
    StoragePublicRead = "STORAGE-PUBLIC-READ", Medium,
        "Model storage is publicly readable",
        "The bucket or container lets anonymous users read or list objects (S3 policy or ACL, Azure container public access level `blob`/`container`, GCS `allUsers` reader role). Private or fine-tuned weights may leak.",
        "Make the bucket private unless the model is meant to be public.",
        STORAGE_EXPOSURE;
    /// The bucket's access configuration could not be read, so exposure is unknown.
    StorageAccessUnknown = "STORAGE-ACCESS-UNKNOWN", Low,
        "Bucket access configuration could not be checked",
        "Reading the bucket policy, ACL or IAM policy was denied or failed, so aigis cannot tell whether anyone can replace the model. The absence of exposure findings is not a clean bill.",
        "Grant the scanning identity read access to the bucket configuration (s3:GetBucketPolicy, s3:GetBucketAcl, s3:GetBucketPublicAccessBlock; storage.buckets.getIamPolicy; Azure container properties) or check it by other means.",
        STORAGE_EXPOSURE;
    /// S3 Block Public Access is not fully enabled on the bucket.
    StoragePublicAccessBlockOff = "STORAGE-PUBLIC-ACCESS-BLOCK-OFF", Info,
        "S3 Block Public Access is off for the bucket",
        "The bucket has no Public Access Block configuration, or some of its four settings are off, so a future policy or ACL change can expose the model. (An account-level block may still apply; it is not checked.)",
        "Enable all four Block Public Access settings on buckets that hold models.",
        STORAGE_EXPOSURE;
    /// A model file, or a folder above it, that other users of the host can write.
    HostWritablePath = "HOST-WRITABLE-PATH", Medium,
        "Model path writable by other users of the host",
        "The model file or a folder above it can be written by users other than the model's owner and root: it is world-writable (a folder without the sticky bit), group-writable by a group other than the owner's own group, or owned by another user. Anyone in that position can replace the model with a malicious one that runs code when it is next loaded. World-writable paths are high; the others medium.",
        "Make the model and every folder above it owned by the model's owner or root and writable only by them (e.g. chmod o-w,g-w; chown).",
        HOST_CONTEXT;
    /// A symbolic link that leads out of the scanned tree.
    HostSymlinkEscape = "HOST-SYMLINK-ESCAPE", Medium,
        "Symbolic link leads out of the scanned tree",
        "A symbolic link in the model tree points to a file outside the tree that was scanned. A loader follows it and reads content that this scan did not vouch for, and whoever controls the target controls the model.",
        "Replace the link with the file it points to, or scan the link target too.",
        PATH_ESCAPE;
    /// Python code loads a model with a deserialiser that runs code.
    CodeUnsafeLoad = "CODE-UNSAFE-LOAD", High,
        "Code loads a model with a deserialiser that runs code",
        "A load site in Python source or a notebook deserialises with pickle, dill, cloudpickle, joblib, pandas.read_pickle, shelve, numpy.load(allow_pickle=True) or torch.load without weights_only=True (weights_only=False, or torch older than 2.6 where it is the default): whatever the file holds runs when this line does. The finding names the file when its path is a constant.",
        "Store and load weights in a format without code (safetensors; torch.load(..., weights_only=True)); scan every file this line can load; load only from locations only you can write.",
        CODE_LOAD;
    /// Python code loads a Keras model with safe mode off.
    CodeKerasUnsafe = "CODE-KERAS-UNSAFE", High,
        "Code turns off Keras safe mode",
        "keras.models.load_model(..., safe_mode=False) or keras.config.enable_unsafe_deserialization() lets a model's Lambda layers run their marshalled Python bytecode on load.",
        "Keep safe_mode on; rebuild Lambda layers in code instead of loading them.",
        CODE_LOAD;
    /// Python code lets a hub repository run its own code.
    CodeTrustRemoteCode = "CODE-TRUST-REMOTE-CODE", High,
        "Code runs a hub repository's code (trust_remote_code=True)",
        "from_pretrained / pipeline / AutoConfig with trust_remote_code=True imports the Python files of the repository it downloads: whoever can push to that repository runs code in this process. Unpinned, that is whoever controls it tomorrow.",
        "Avoid trust_remote_code; when it is needed, pin revision= to a reviewed 40-hex commit and scan the repository's code.",
        CODE_REMOTE;
    /// Python code downloads a model from a hub without pinning a commit.
    CodeUnpinnedDownload = "CODE-UNPINNED-DOWNLOAD", Medium,
        "Code downloads a model without pinning its revision",
        "from_pretrained, hf_hub_download, snapshot_download, load_dataset, torch.hub.load or timm's hf-hub: models fetch whatever the repository holds at run time unless revision= names a commit (40 hex digits): a branch or tag can be moved by whoever controls the repository.",
        "Pass revision=\"<40-hex commit>\" (and review that commit), or load from a local, scanned copy.",
        CODE_REMOTE;
    /// Python code parses YAML with a loader that constructs arbitrary objects.
    CodeUnsafeYaml = "CODE-UNSAFE-YAML", High,
        "Code parses YAML with a loader that runs code",
        "yaml.load without a safe Loader, yaml.unsafe_load, yaml.full_load (PyYAML < 5.4) and yaml.load_all alike construct Python objects named by the document: a config file becomes code.",
        "Use yaml.safe_load, or Loader=yaml.SafeLoader / CSafeLoader.",
        CODE_LOAD;
    /// Python code executes content it downloads.
    CodeExecDownloaded = "CODE-EXEC-DOWNLOADED", Critical,
        "Code executes content it downloads",
        "exec, eval, compile, runpy or a deserialiser is handed data fetched from the network (requests, urllib, httpx, sockets) in the same code: whoever serves that URL runs code here.",
        "Never execute downloaded content; ship code with the package and verify downloaded data against a pinned digest.",
        CODE_REMOTE;
    /// A dependency version known to be vulnerable.
    DepVulnerable = "DEP-VULNERABLE", High,
        "Dependency with a known advisory",
        "A requirement or lock file pins an ML library version (torch, transformers, keras, tensorflow, mlflow, onnx, vllm, gradio, …) that a published advisory affects — often exactly the loader bugs that let a model run code — or allows only a range of such versions, excluding the fixed release (medium). In the environment MLflow records beside a model (conda.yaml, python_env.yaml, requirements.txt next to MLmodel) the finding is low: the model file is judged on its own. The advisory ids and the database date are in the finding and the result.",
        "Upgrade to a version the advisories list as fixed and pin it; refresh the database with `aigis db update --from FILE` (an OSV export).",
        CODE_LOAD;
    /// An ML dependency without a version constraint.
    DepUnpinned = "DEP-UNPINNED", Low,
        "ML dependency without a version constraint",
        "An ML library is required without any version: installs pick up whatever is newest, including a release with a known advisory or one published by whoever took over the project.",
        "Pin ML dependencies (== in a lock file, or a lower bound at a fixed version) and update them deliberately.",
        CODE_REMOTE;
    /// A load site in code names a model file that aigis rated high or critical.
    CodeLoadsFlaggedModel = "CODE-LOADS-FLAGGED-MODEL", Critical,
        "Code loads a model that is malicious or suspicious",
        "A load site names, as a constant path, a model file scanned in the same run whose content is rated high or critical: running this code runs that file's payload. The finding quotes the model's verdict; its severity is the model's.",
        "Remove or replace the model file; review how it got there (the code's load site is where the attack lands).",
        CODE_LOAD;
    /// The inventory saw other content at a location that held a model before.
    ModelReplaced = "MODEL-REPLACED", High,
        "Model replaced at its location",
        "A recorded scan (`--record`) found content at a path, bucket object or hub file different from what the inventory recorded there before. Models are replaced legitimately, but a model silently swapped where others can write (a world-writable folder, a publicly writable bucket) is how a reviewed model becomes a malicious one. Critical when others can write the location or the new content is rated worse than the old; high when the new content is rated high or worse; medium otherwise. The finding names the old and new SHA-256 and verdicts; `aigis inventory changes` lists every replacement.",
        "Confirm who replaced the model and why (deployment logs, bucket access logs); restore the recorded content if the change was not expected; close the write access of others to the location.",
        SUPPLY_CHAIN;
    /// A credential (API key, token, private key) stored in a model's metadata.
    MetadataSecret = "METADATA-SECRET", Medium,
        "Credential embedded in a model",
        "A model's metadata (GGUF key/values, safetensors `__metadata__`, ONNX `metadata_props` or `doc_string`, a Keras or Hugging Face config, a pickle's string constants) holds a credential in a format recognised exactly: an AWS access key id, a GitHub token (checksum verified), a Hugging Face, OpenAI, Slack or Google API key, a private key, a JSON Web Token. Whoever downloads the model has the credential. Documented example keys (`AKIAIOSFODNN7EXAMPLE`) are not reported. The evidence is redacted in every report (the prefix and the last four characters).",
        "Revoke and rotate the credential now, then remove it from the file and publish a clean copy; check where the model was published and who downloaded it.",
        &["CWE-798: Use of Hard-coded Credentials", "CWE-200: Exposure of Sensitive Information to an Unauthorized Actor", "OWASP LLM02:2025 Sensitive Information Disclosure"];
    /// A URL or IP address in model metadata outside documentation.
    MetadataNetworkIndicator = "METADATA-NETWORK-INDICATOR", Low,
        "Network address in model metadata",
        "A model's metadata, its card or a pickle's string constants name a network address: an IP address literal, or a URL to a host that is not a hub, code host or paper site (those are provenance and not reported). Low for an IP address or a URL in a pickle; info for a URL in other metadata. On its own it runs nothing; beside other findings it says where a payload calls home.",
        "Check that the address belongs to the model's publisher; an unknown host or a bare IP address in a model is worth a look at what else the file does.",
        &["CWE-506: Embedded Malicious Code", "MITRE ATLAS AML.T0010: ML Supply Chain Compromise"];
    /// A model whose license the policy denies.
    LicenseDenied = "LICENSE-DENIED", High,
        "Model license denied by policy",
        "The model declares a license (model card front-matter, `config.json`, GGUF `general.license`, safetensors metadata, normalised to an SPDX expression) that the policy's `deny_licenses` matches, or that `allow_licenses` does not list.",
        "Replace the model with one whose license your use allows, or change the policy after legal review.",
        &["NIST AI RMF 1.0 GOVERN 6.1: policies address AI risks of third-party entities, including intellectual property", "EU AI Act Art. 53(1)(c): copyright policy of general-purpose AI model providers"];
    /// A model without a license where the policy requires one.
    LicenseUnknown = "LICENSE-UNKNOWN", Medium,
        "Model without a declared license",
        "The policy's `require_license` covers this model, and neither its card, its `config.json` nor its weight headers declare a license (or only `other`/`unknown`).",
        "Find the model's license from its publisher and record it in the card front-matter (`license:`), or exempt the path in the policy.",
        &["NIST AI RMF 1.0 GOVERN 6.1: policies address AI risks of third-party entities, including intellectual property"];
    /// A model's signature (`model.sig`, OpenSSF Model Signing) does not verify.
    SignatureInvalid = "SIGNATURE-INVALID", Critical,
        "Model signature does not verify",
        "The model carries an OpenSSF Model Signing signature (a Sigstore bundle over a manifest of its files' digests) that does not hold: the signature does not verify with the key, certificate chain or trusted root given, the signer is not the identity and issuer required, the manifest is inconsistent with its root digest, or it cannot be checked at all (an unsupported serialization or hash algorithm). A key- or certificate-signed model scanned without `--key` or `--certificate-chain` cannot be checked: that is medium, not critical. Verification is offline (`aigis verify` shows the same result). A model whose signature fails may have been re-signed or forged by someone else.",
        "Verify with the publisher's key or identity (`aigis verify MODEL --key PUB.pem`, or `--identity`/`--issuer`); obtain the model again from its publisher if it still fails.",
        SUPPLY_CHAIN;
    /// A model's file differs from what its signature lists.
    SignatureMismatch = "SIGNATURE-MISMATCH", Critical,
        "Model file differs from what was signed",
        "The model's signature verifies, but a file differs from the signed manifest: its digest changed, a signed file is missing, or a file that was not signed was added (the signature's ignored paths and the signature file itself excepted). The finding names the file. A changed or added file in a signed model is the signature of tampering after publication.",
        "Obtain the model again from its publisher; compare the named file with the published one.",
        SUPPLY_CHAIN;
    /// A model has no signature.
    ModelUnsigned = "MODEL-UNSIGNED", Info,
        "Model is not signed",
        "The model has no OpenSSF Model Signing signature (`model.sig`), so where it came from and whether it is the published one cannot be checked. Raised only when signatures were asked for: the operator passed `--key`, `--certificate-chain`, `--identity` or `--signature`, or the policy's `require_signature` globs cover the model's path (then it is high).",
        "Ask the publisher for a signed model (model-signing), or sign models you publish and verify them where they are loaded.",
        SUPPLY_CHAIN;
}

impl RuleId {
    /// Whether the rule describes where a file is (who can replace it: a writable folder, a
    /// public bucket, a link out of the tree) rather than what its content does. Reports show
    /// such findings as location context, apart from the file's verdict.
    pub fn is_location(self) -> bool {
        matches!(
            self,
            RuleId::HostWritablePath
                | RuleId::HostSymlinkEscape
                | RuleId::StoragePublicWrite
                | RuleId::StoragePublicRead
                | RuleId::StorageAccessUnknown
                | RuleId::StoragePublicAccessBlockOff
        )
    }

    /// The stable string id.
    pub fn as_str(self) -> &'static str {
        self.rule().id
    }

    /// Looks a rule up by its string id (case-insensitive).
    pub fn from_id(id: &str) -> Option<RuleId> {
        RuleId::ALL
            .iter()
            .copied()
            .find(|rule| rule.as_str().eq_ignore_ascii_case(id))
    }
}

impl fmt::Display for RuleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for RuleId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for RuleId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let id = String::deserialize(deserializer)?;
        RuleId::from_id(&id).ok_or_else(|| serde::de::Error::custom(format!("unknown rule `{id}`")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn ids_are_unique_and_documented() {
        let mut seen = HashSet::new();
        for rule in RuleId::ALL {
            let entry = rule.rule();
            assert!(seen.insert(entry.id), "duplicate id {}", entry.id);
            assert!(!entry.title.is_empty() && !entry.explanation.is_empty());
            assert_eq!(RuleId::from_id(&entry.id.to_lowercase()), Some(*rule));
        }
    }
}
