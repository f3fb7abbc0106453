//! The data the classifier judges names with: what real frameworks need, and what attacks use.
//!
//! All names are `module.qualname` after Python-2 name normalization (see
//! [`normalize_module`]). Three tables:
//!
//! - [`ALLOWED_CALLS`]: callables a legitimate model file invokes while loading, taken from
//!   what PyTorch, NumPy, scikit-learn, pandas, joblib and the standard library actually emit
//!   (PyTorch's `weights_only` allow-list is the reference for torch). Exact match only.
//! - [`TRUSTED_NAMESPACES`]: top-level packages whose *classes* may be constructed without
//!   `__init__` and whose names may be referenced (a dtype, a class passed as an argument).
//!   Constructing or referencing is not calling; the dangerous list still wins.
//! - [`DANGEROUS`]: primitives that attack the host when invoked, grouped by category. An
//!   entry matches a name when the entry equals, or is a dotted prefix of, any suffix of the
//!   name that starts at a component boundary — so `pathlib.os.system` and
//!   `numpy.testing._private.utils.runstring` are caught, and a whole-module entry (`os`)
//!   covers everything under it. A trailing `*` on the last component is a name prefix
//!   (`pandas.read_*`).

/// What a dangerous primitive does; shown in verdict messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Category {
    /// Evaluates Python code or bytecode.
    Exec,
    /// Runs a shell command or a process.
    Shell,
    /// Reads, writes or deletes files.
    File,
    /// Opens network connections.
    Network,
    /// Imports arbitrary modules or loads native code.
    Import,
    /// Deserializes more untrusted data (another pickle, marshal, a model file).
    Loader,
    /// Reflection gadgets that reach arbitrary attributes or call arbitrary objects.
    Reflection,
    /// Forbidden by the user's policy (`Options::extra_denied`).
    Denied,
}

impl Category {
    /// Short lower-case label.
    pub fn label(self) -> &'static str {
        match self {
            Category::Exec => "code execution",
            Category::Shell => "command execution",
            Category::File => "file system access",
            Category::Network => "network access",
            Category::Import => "arbitrary import",
            Category::Loader => "nested deserialization",
            Category::Reflection => "reflection gadget",
            Category::Denied => "denied by policy",
        }
    }
}

use crate::compat_pickle::{IMPORT_MAPPING, NAME_MAPPING};
use Category::*;

/// Dangerous primitives, by category.
pub(crate) const DANGEROUS: &[(Category, &[&str])] = &[
    // Evaluate code: the classic payloads, and stdlib helpers that exec a string.
    (
        Exec,
        &[
            "builtins.eval",
            "builtins.exec",
            "builtins.execfile",
            "builtins.compile",
            "builtins.breakpoint",
            "builtins.input",
            "builtins.globals",
            "builtins.locals",
            "builtins.vars",
            "builtins.apply",
            "code",
            "codeop",
            "runpy",
            "types.CodeType",
            "types.FunctionType",
            "types.MethodType",
            "types.LambdaType",
            "cProfile.run",
            "cProfile.runctx",
            "cProfile.Profile.run",
            "cProfile.Profile.runctx",
            "profile.run",
            "profile.runctx",
            "profile.Profile.run",
            "profile.Profile.runctx",
            "trace.Trace",
            "timeit",
            "pdb",
            "bdb",
            "doctest.debug_script",
            "doctest.debug_src",
            "doctest.run_docstring_examples",
            "doctest.testsource",
            "numpy.testing",
            "numpy.f2py",
            "numpy.distutils",
            "pandas.eval",
            "pandas.core.computation.eval",
            "idlelib",
            "lib2to3",
            "test.support",
            "test.libregrtest",
            "IPython",
            "jinja2.Template",
            "torch._inductor",
            "torch.jit.load",
            "torch.jit.CompilationUnit",
            "torch.jit._script.CompilationUnit",
            "torch._C.CompilationUnit",
            "torch.jit.unsupported_tensor_ops",
            "torch.utils.bottleneck",
            "torch.fx.experimental.symbolic_shapes.ShapeEnv.evaluate_guards_expression",
            "torch.fx.graph_module._exec_with_source",
            "torch.fx.graph_module._forward_from_src",
            "torch.testing._internal",
            "sklearn.utils._testing",
            "tkinter",
            "_tkinter",
            "torch.compile",
            "torch._dynamo",
            "transformers.dynamic_module_utils",
            "keras.layers.Lambda",
            "tensorflow.keras.layers.Lambda",
            "logging.config",
            // Sub-interpreters run source strings (`run_string`, `exec`); the module was
            // `_xxsubinterpreters` up to 3.12, `_interpreters` since 3.13.
            "_interpreters",
            "_xxsubinterpreters",
            "_xxinterpchannels",
            "_interpqueues",
            "concurrent.interpreters",
            "interpreters",
        ],
    ),
    // Run a process or a shell command.
    (
        Shell,
        &[
            "os",
            "posix",
            "nt",
            "subprocess",
            "pty",
            "commands",
            "popen2",
            "_posixsubprocess",
            "_winapi",
            "asyncio",
            "multiprocessing",
            "concurrent.futures.process",
            "torch.multiprocessing",
            "torch.utils.collect_env",
            "_aix_support",
            "platform._syscmd_ver",
            "platform._syscmd_file",
            "platform._syscmd_uname",
            "platform.popen",
            "uuid._get_command_stdout",
            "uuid._popen",
            "pydoc.pipepager",
            "pydoc.tempfilepager",
            "pydoc.pager",
            "pydoc.getpager",
            "builtins.help",
            "mailcap",
            "pipes",
            "_pyrepl",
            "webbrowser",
            "antigravity",
            "distutils",
            "setuptools",
            "pip",
            "ensurepip",
            "venv",
            "signal",
            "threading.Thread",
            "_thread.start_new_thread",
            "_thread.start_new",
            "ctypes",
            "_ctypes",
            "cffi",
        ],
    ),
    // Touch the file system.
    (
        File,
        &[
            "shutil",
            "tempfile",
            "glob",
            "fileinput",
            "filecmp",
            "linecache",
            "csv.writer",
            "csv.DictWriter",
            "builtins.open",
            // Logging handlers open (create, truncate) the file or socket they are given.
            "logging.FileHandler",
            "logging.basicConfig",
            "logging.handlers",
            "io.open",
            "io.open_code",
            "io.FileIO",
            "_io.open",
            "_io.open_code",
            "_io.FileIO",
            "_io.BufferedWriter",
            "_io.BufferedReader",
            "_io.BufferedRandom",
            "_io.TextIOWrapper",
            "zipfile",
            "tarfile",
            "sqlite3",
            "dbm",
            "shelve",
            "mmap",
            "resource",
            "pathlib.Path.write_text",
            "pathlib.Path.write_bytes",
            "pathlib.Path.touch",
            "pathlib.Path.unlink",
            "pathlib.Path.mkdir",
            "pathlib.Path.rmdir",
            "pathlib.Path.rename",
            "pathlib.Path.replace",
            "pathlib.Path.chmod",
            "pathlib.Path.lchmod",
            "pathlib.Path.symlink_to",
            "pathlib.Path.hardlink_to",
            "pathlib.Path.link_to",
            "pathlib.Path.open",
            "pathlib.Path.read_text",
            "pathlib.Path.read_bytes",
            "pathlib.Path.copy",
            "pathlib.Path.move",
            "Path.write_*",
            "Path.read_*",
            "Path.touch",
            "Path.unlink",
            "Path.mkdir",
            "Path.rmdir",
            "Path.rename",
            "Path.replace",
            "Path.chmod",
            "Path.symlink_to",
            "Path.hardlink_to",
            "Path.open",
            "PosixPath.write_*",
            "PosixPath.read_*",
            "PosixPath.touch",
            "PosixPath.unlink",
            "PosixPath.mkdir",
            "PosixPath.rmdir",
            "PosixPath.rename",
            "PosixPath.replace",
            "PosixPath.chmod",
            "PosixPath.symlink_to",
            "PosixPath.hardlink_to",
            "PosixPath.open",
            "WindowsPath.write_*",
            "WindowsPath.read_*",
            "WindowsPath.touch",
            "WindowsPath.unlink",
            "WindowsPath.mkdir",
            "WindowsPath.rename",
            "WindowsPath.open",
            "numpy.save",
            "numpy.savez",
            "numpy.savez_compressed",
            "numpy.savetxt",
            "numpy.fromfile",
            "numpy.loadtxt",
            "numpy.genfromtxt",
            "numpy.fromregex",
            "numpy.memmap",
            "numpy.core.memmap",
            "numpy._core.memmap",
            "numpy.lib.format.open_memmap",
            "numpy.lib.npyio",
            "numpy.lib._npyio_impl",
            "numpy.DataSource",
            "numpy.lib._datasource",
            "numpy.lib.DataSource",
            "numpy.core.records.fromfile",
            "numpy.rec.fromfile",
            "numpy.ndarray.tofile",
            "numpy.ndarray.dump",
            "torch.save",
            "torch.serialization.save",
            "torch.from_file",
            "torch.utils.tensorboard",
            "from_file",
            "tofile",
            "pandas.HDFStore",
            "pandas.ExcelWriter",
            "pandas.ExcelFile",
            "DataFrame.to_*",
            "Series.to_*",
            "NDFrame.to_*",
            "scipy.io",
            "h5py.File",
            "torch.utils.file_baton",
        ],
    ),
    // Open network connections.
    (
        Network,
        &[
            "socket",
            "_socket",
            "ssl",
            "urllib",
            "urllib2",
            "urllib3",
            "http",
            "httplib",
            "requests",
            "httpx",
            "aiohttp",
            "ftplib",
            "smtplib",
            "nntplib",
            "telnetlib",
            "poplib",
            "imaplib",
            "xmlrpc",
            "xmlrpclib",
            "socketserver",
            "SocketServer",
            "select",
            "selectors",
            "torch.distributed.rpc",
            "torch.distributed.TCPStore",
            "torch.distributed.FileStore",
            "torch.distributed.HashStore",
            "torch.distributed.init_process_group",
            "torch.distributed.distributed_c10d",
            "torch.distributed.rendezvous",
            "torch.distributed.launch",
            "torch.distributed.run",
            "torch.distributed.elastic",
            "torch.distributed.checkpoint",
            "torch.hub",
            "torch.utils.model_zoo",
            "torchvision.datasets.utils",
            "sklearn.datasets.fetch_*",
            "huggingface_hub",
            "transformers.utils.hub",
            "keras.utils.get_file",
            "keras.utils.data_utils.get_file",
            "keras.src.utils.file_utils.get_file",
            "tensorflow.keras.utils.get_file",
            "from_pretrained",
            "transformers.pipeline",
            "transformers.pipelines",
        ],
    ),
    // Import modules by name or load native code.
    (
        Import,
        &[
            "builtins.__import__",
            "importlib",
            "imp",
            "zipimport",
            "pkgutil",
            "pydoc",
            "site",
            "sys",
            "sysconfig",
            "gc",
            "inspect",
            "torch.ops.load_library",
            "torch.classes.load_library",
            "torch._ops",
            "torch.utils.cpp_extension",
            "torch.package",
            "torch.cuda.memory._dump_snapshot",
            "numpy.ctypeslib",
            "copyreg.add_extension",
        ],
    ),
    // Deserialize more untrusted data: a second-stage payload.
    (
        Loader,
        &[
            "pickle",
            "_pickle",
            "cPickle",
            "pickletools",
            "dill",
            "cloudpickle",
            "marshal",
            "shelve",
            "joblib.load",
            "joblib.numpy_pickle.load",
            "numpy.load",
            "numpy.lib.format.read_array",
            "torch.load",
            "torch.serialization.load",
            "torch.serialization._load",
            "torch.serialization._legacy_load",
            "torch.utils._config_module.ConfigModule.load_config",
            "torch.utils.data.datapipes.utils.decoder",
            "numpy.loads",
            "numpy.core.numeric.loads",
            "pandas.read_*",
            "pandas.io",
            "yaml.load",
            "yaml.unsafe_load",
            "yaml.full_load",
            "jsonpickle",
        ],
    ),
    // Reach arbitrary attributes or call arbitrary objects with controlled arguments.
    (
        Reflection,
        &[
            "builtins.setattr",
            "builtins.delattr",
            "operator.attrgetter",
            "operator.methodcaller",
            "operator.call",
            "operator.setitem",
            "operator.delitem",
            "_operator.attrgetter",
            "_operator.methodcaller",
            "_operator.call",
            "_operator.setitem",
            "_operator.delitem",
            "functools.partialmethod",
            "object.__reduce__",
            "object.__reduce_ex__",
            "object.__getattribute__",
            "object.__setattr__",
            "object.__subclasses__",
            "type.__subclasses__",
            "builtins.object.__subclasses__",
            "__globals__",
            "__builtins__",
            "__code__",
            "__subclasses__",
            "__dict__",
            "__setattr__",
            "__delattr__",
            "__getattribute__",
            "func_globals",
        ],
    ),
];

/// Framework packages whose classes may be constructed and whose names may be referenced.
///
/// Only for construction without `__init__` (NEWOBJ, `copyreg._reconstructor(cls, object, …)`)
/// and for references; a call must be in [`ALLOWED_CALLS`].
pub(crate) const TRUSTED_NAMESPACES: &[&str] = &[
    // PyTorch, TorchScript classes (compiled from the archive's code, not imported Python).
    "torch",
    "__torch__",
    "torchvision",
    "torchaudio",
    "torchtext",
    // NumPy and the scientific stack.
    "numpy",
    "scipy",
    "pandas",
    "sklearn",
    "xgboost",
    "lightgbm",
    "catboost",
    "joblib",
    "transformers",
    "tokenizers",
    "sentence_transformers",
    "timm",
    "accelerate",
    "peft",
    // Standard library value types.
    "builtins",
    "collections",
    "copyreg",
    "datetime",
    "decimal",
    "fractions",
    "uuid",
    "enum",
    "re",
    "_codecs",
    "codecs",
    "functools",
    "array",
    "pytz",
    "dateutil",
    "zoneinfo",
];

/// Callables a legitimate model file invokes while loading (exact `module.qualname`).
pub(crate) const ALLOWED_CALLS: &[&str] = &[
    // PyTorch tensor and storage rebuilders (torch.serialization / torch._weights_only_unpickler).
    "torch._utils._rebuild_tensor",
    "torch._utils._rebuild_tensor_v2",
    "torch._utils._rebuild_tensor_v3",
    "torch._utils._rebuild_parameter",
    "torch._utils._rebuild_parameter_with_state",
    "torch._utils._rebuild_sparse_tensor",
    "torch._utils._rebuild_sparse_csr_tensor",
    "torch._utils._rebuild_qtensor",
    "torch._utils._rebuild_nested_tensor",
    "torch._utils._rebuild_device_tensor_from_numpy",
    "torch._utils._rebuild_device_tensor_from_cpu_tensor",
    "torch._utils._rebuild_meta_tensor_no_storage",
    "torch._utils._rebuild_wrapper_subclass",
    "torch._utils._rebuild_xla_tensor",
    "torch._utils._rebuild_mlc_tensor",
    "torch._utils._rebuild_typed_storage",
    "torch._tensor._rebuild_from_type",
    "torch._tensor._rebuild_from_type_v2",
    "torch.storage._load_from_bytes",
    "torch.serialization._get_layout",
    "torch.device",
    "torch.Size",
    "torch.nn.parameter.Parameter",
    "torch.nn.parameter.Buffer",
    "torch.storage.UntypedStorage",
    "torch.storage.TypedStorage",
    "torch.storage._TypedStorage",
    "torch.storage._LegacyStorage",
    "torch.Tensor._make_subclass",
    "torch.Tensor._make_wrapper_subclass",
    "torch._C._nn.gelu",
    // TorchScript constant helpers (torch.jit._pickle).
    "torch.jit._pickle.build_intlist",
    "torch.jit._pickle.build_tensorlist",
    "torch.jit._pickle.build_doublelist",
    "torch.jit._pickle.build_boollist",
    "torch.jit._pickle.build_tensor_from_id",
    "torch.jit._pickle.restore_type_tag",
    // NumPy arrays, dtypes, scalars and random generators.
    "numpy.core.multiarray._reconstruct",
    "numpy._core.multiarray._reconstruct",
    "numpy.core.multiarray.scalar",
    "numpy._core.multiarray.scalar",
    "numpy.core.numeric._frombuffer",
    "numpy._core.numeric._frombuffer",
    "numpy.dtype",
    "numpy.ndarray",
    "numpy.ma.core._mareconstruct",
    "numpy.random._pickle.__randomstate_ctor",
    "numpy.random._pickle.__bit_generator_ctor",
    "numpy.random._pickle.__generator_ctor",
    "numpy.random.mtrand.__randomstate_ctor",
    "numpy.random.__RandomState_ctor",
    "numpy.random._mt19937.MT19937",
    "numpy.random._pcg64.PCG64",
    "numpy.random._philox.Philox",
    "numpy.random._sfc64.SFC64",
    "numpy.core._ufunc_reconstruct",
    "numpy._core._ufunc_reconstruct",
    // Python builtins that build plain values.
    "builtins.set",
    "builtins.frozenset",
    "builtins.bytearray",
    "builtins.bytes",
    "builtins.slice",
    "builtins.range",
    "builtins.complex",
    "builtins.object",
    "builtins.dict",
    "builtins.list",
    "builtins.tuple",
    "builtins.int",
    "builtins.float",
    "builtins.str",
    "builtins.bool",
    // Protocol-2 bytes and object helpers.
    "_codecs.encode",
    "codecs.encode",
    "copyreg._reconstructor",
    "copyreg.__newobj__",
    "copyreg.__newobj_ex__",
    // Standard containers and value types.
    "collections.OrderedDict",
    "collections.defaultdict",
    "collections.deque",
    "collections.Counter",
    "fractions.Fraction",
    "decimal.Decimal",
    "datetime.date",
    "datetime.time",
    "datetime.datetime",
    "datetime.timedelta",
    "datetime.timezone",
    "uuid.UUID",
    "re._compile",
    "array._array_reconstructor",
    "array.array",
    "pytz._p",
    "pytz._UTC",
    "pytz.timezone",
    "zoneinfo.ZoneInfo._unpickle",
    "functools.partial",
    // Attribute bags that training scripts keep their hyper-parameters in.
    "argparse.Namespace",
    "types.SimpleNamespace",
    // Path objects (constructing one touches no file; the file methods are dangerous).
    "pathlib.Path",
    "pathlib.PosixPath",
    "pathlib.WindowsPath",
    "pathlib.PurePath",
    "pathlib.PurePosixPath",
    "pathlib.PureWindowsPath",
    "pathlib._local.Path",
    "pathlib._local.PosixPath",
    "pathlib._local.WindowsPath",
    "pathlib._local.PurePath",
    "pathlib._local.PurePosixPath",
    "pathlib._local.PureWindowsPath",
    // scikit-learn Cython types (loss objects are rebuilt with no arguments).
    "sklearn._loss._loss.CyHalfSquaredError",
    "sklearn._loss._loss.CyAbsoluteError",
    "sklearn._loss._loss.CyPinballLoss",
    "sklearn._loss._loss.CyHuberLoss",
    "sklearn._loss._loss.CyHalfPoissonLoss",
    "sklearn._loss._loss.CyHalfGammaLoss",
    "sklearn._loss._loss.CyHalfTweedieLoss",
    "sklearn._loss._loss.CyHalfTweedieLossIdentity",
    "sklearn._loss._loss.CyHalfBinomialLoss",
    "sklearn._loss._loss.CyExponentialLoss",
    "sklearn._loss._loss.CyHalfMultinomialLoss",
    "sklearn.tree._tree.Tree",
    "sklearn.neighbors._kd_tree.newObj",
    "sklearn.neighbors._ball_tree.newObj",
    "sklearn.neighbors.kd_tree.newObj",
    "sklearn.neighbors.ball_tree.newObj",
    "sklearn.neighbors._binary_tree.newObj",
    "sklearn.metrics._dist_metrics.newObj",
    "sklearn.metrics.dist_metrics.newObj",
    "sklearn.neighbors._dist_metrics.newObj",
    "sklearn.neighbors.dist_metrics.newObj",
    // scipy.sparse matrices.
    "scipy.sparse._csr.csr_matrix",
    "scipy.sparse._csc.csc_matrix",
    "scipy.sparse._coo.coo_matrix",
    "scipy.sparse._csr.csr_array",
    "scipy.sparse._csc.csc_array",
    "scipy.sparse.csr.csr_matrix",
    "scipy.sparse.csc.csc_matrix",
    // pandas reconstructors.
    "pandas._libs.internals._unpickle_block",
    "pandas.core.internals.blocks.new_block",
    "pandas.core.internals.blocks._unpickle_block",
    "pandas.core.indexes.base._new_Index",
    "pandas.core.indexes.period._new_PeriodIndex",
    "pandas.core.indexes.multi.MultiIndex",
    "pandas.core.internals.managers.BlockManager",
    "pandas.core.internals.BlockManager",
    "pandas._libs.tslibs.timestamps._unpickle_timestamp",
    "pandas._libs.tslibs.timedeltas._timedelta_unpickle",
    "pandas._libs.tslibs.nattype.__nat_unpickle",
    "pandas._libs.tslibs.period._unpickle_period",
    "pandas._libs.sparse._unpickle_sparse_index",
    "pandas.core.arrays.categorical.Categorical",
    "pandas.core.dtypes.dtypes.CategoricalDtype",
    "pandas._libs.arrays.__pyx_unpickle_NDArrayBacked",
    // joblib array wrappers (the raw array bytes follow in the stream).
    "joblib.numpy_pickle.NumpyArrayWrapper",
    "sklearn.externals.joblib.numpy_pickle.NumpyArrayWrapper",
];

/// Argument kinds of reviewed [`ALLOWED_CALLS`] entries: what their `__reduce__` writes, in
/// every version, is data only (numbers, strings, bytes, tuples of them, values built by other
/// calls), never a function or class. Handed one, the call is high, as a derived data-only call
/// is (entries outside the hand table get their argument kinds from `data/reconstructors.tsv`,
/// see `known.rs`). Entries whose arguments may legitimately be classes or functions are not
/// here: class-first reconstructors (`copyreg._reconstructor`, `_reconstruct`, `_new_Index`),
/// containers that may hold them (`set`, `list`, `dict`, `deque`, `defaultdict`'s factory,
/// attribute bags, `partial`), NumPy's random-state constructors (1.25 passes a function),
/// parameters (their hooks). `module.*` stands for every allowed call of that module.
pub(crate) const DATA_ONLY_CALLS: &[&str] = &[
    "torch.device",
    "torch.Size",
    "torch.serialization._get_layout",
    "torch.jit._pickle.build_intlist",
    "torch.jit._pickle.build_doublelist",
    "torch.jit._pickle.build_boollist",
    "numpy.dtype",
    "numpy.core.multiarray.scalar",
    "numpy._core.multiarray.scalar",
    "numpy.core.numeric._frombuffer",
    "numpy._core.numeric._frombuffer",
    "pandas._libs.tslibs.timestamps._unpickle_timestamp",
    "pandas._libs.tslibs.timedeltas._timedelta_unpickle",
    "builtins.bytearray",
    "builtins.bytes",
    "builtins.slice",
    "builtins.range",
    "builtins.complex",
    "builtins.int",
    "builtins.float",
    "builtins.str",
    "builtins.bool",
    "_codecs.encode",
    "codecs.encode",
    "collections.OrderedDict",
    "collections.Counter",
    "fractions.Fraction",
    "decimal.Decimal",
    "datetime.date",
    "datetime.time",
    "datetime.datetime",
    "datetime.timedelta",
    "datetime.timezone",
    "uuid.UUID",
    "re._compile",
    "pytz._p",
    "pytz._UTC",
    "pytz.timezone",
    "zoneinfo.ZoneInfo._unpickle",
    // Every allowed path class (constructing one touches no file).
    "pathlib.*",
    "pathlib._local.*",
];

/// Callables that receive a callable and invoke it (or build something that will).
///
/// Value: index of the forwarded callable in the positional arguments.
pub(crate) const FORWARDERS: &[(&str, usize)] = &[
    ("torch._tensor._rebuild_from_type_v2", 0),
    ("torch._tensor._rebuild_from_type", 0),
    ("functools.reduce", 0),
    ("builtins.map", 0),
    ("builtins.filter", 0),
    ("builtins.sorted", 0),
    ("itertools.starmap", 0),
    ("itertools.imap", 0),
    ("itertools.ifilter", 0),
    ("itertools.takewhile", 0),
    ("itertools.dropwhile", 0),
    ("itertools.filterfalse", 0),
    ("itertools.accumulate", 1),
    ("operator.call", 0),
    ("_operator.call", 0),
    ("builtins.apply", 0),
];

/// Loaders whose first argument (bytes, or a `BytesIO` over bytes) is a nested pickle.
pub(crate) const NESTED_LOADERS: &[&str] = &[
    "pickle.loads",
    "pickle.load",
    "pickle._loads",
    "pickle._load",
    "pickle.Unpickler",
    "_pickle.loads",
    "_pickle.load",
    "cPickle.loads",
    "cPickle.load",
    "dill.loads",
    "dill.load",
    "dill._dill.loads",
    "cloudpickle.loads",
    "cloudpickle.load",
    "torch.load",
    "torch.serialization.load",
    "torch.storage._load_from_bytes",
    "numpy.loads",
    "numpy.core.numeric.loads",
    "joblib.load",
    "numpy.load",
    "pandas.read_pickle",
    "pandas.io.pickle.read_pickle",
];

/// Wrappers that turn bytes into a file object (`io.BytesIO(b'…')`).
pub(crate) const BYTES_FILES: &[&str] = &[
    "io.BytesIO",
    "_io.BytesIO",
    "cStringIO.StringIO",
    "StringIO.StringIO",
];

/// Third-party packages whose classes act on the host, the network, containers or the cloud
/// when constructed (a process spawner's constructor runs its command: `pexpect.popen_spawn.
/// PopenSpawn('id')`, `psutil.Popen`). Their classes are never "the user's own code", so one
/// built from constants stays high. Reviewed by hand: these libraries are not among the ones
/// `scripts/effects/introspect.py` reads.
pub(crate) const HOST_LIBRARIES: &[&str] = &[
    "ansible",
    "asyncssh",
    "aiohttp",
    "azure",
    "boto",
    "boto3",
    "botocore",
    "celery",
    "comtypes",
    "delegator",
    "docker",
    "envoy",
    "execnet",
    "fabric",
    "fsspec",
    "gcsfs",
    "git",
    "google",
    "grpc",
    "httpx",
    "invoke",
    "kombu",
    "kubernetes",
    "paramiko",
    "pexpect",
    "pip",
    "pkg_resources",
    "playwright",
    "plumbum",
    "psutil",
    "ptyprocess",
    "pwn",
    "pwnlib",
    "pysftp",
    "pythoncom",
    "redis",
    "requests",
    "s3fs",
    "salt",
    "sarge",
    "selenium",
    "setuptools",
    "sh",
    "smart_open",
    "spur",
    "twisted",
    "urllib3",
    "virtualenv",
    "websocket",
    "websockets",
    "win32api",
    "win32com",
    "win32process",
    "wmi",
    "zmq",
];

/// Framework subpackages whose name collides with a dangerous stdlib module; a dangerous
/// whole-module entry does not match *inside* them.
pub(crate) const NAME_COLLISIONS: &[&str] = &[
    "scipy.signal",
    "torch.signal",
    "numpy.polynomial",
    "torch.utils.data._utils.signal_handling",
];

/// Maps Python-2 module names to their Python-3 names (`_compat_pickle.IMPORT_MAPPING`, what
/// `fix_imports` does under protocol < 3), and other spellings of a module to the module
/// (`__builtins__`, the `os.path` implementations). Classification applies it whatever the
/// protocol: the reading that runs more code.
pub(crate) fn normalize_module(module: &str) -> &str {
    match module {
        "__builtins__" | "exceptions" => "builtins",
        "_compat_pickle" => "pickle",
        "posixpath" | "ntpath" | "genericpath" | "os.path" => "os",
        other => import_mapping(other).unwrap_or(other),
    }
}

/// `_compat_pickle.IMPORT_MAPPING[module]`.
fn import_mapping(module: &str) -> Option<&'static str> {
    IMPORT_MAPPING
        .binary_search_by(|(k, _)| (*k).cmp(module))
        .ok()
        .and_then(|i| IMPORT_MAPPING.get(i))
        .map(|(_, v)| *v)
}

/// `_compat_pickle.NAME_MAPPING[(module, name)]`.
pub(crate) fn name_mapping(module: &str, name: &str) -> Option<(&'static str, &'static str)> {
    NAME_MAPPING
        .binary_search_by(|((m, n), _)| (*m, *n).cmp(&(module, name)))
        .ok()
        .and_then(|i| NAME_MAPPING.get(i))
        .map(|(_, v)| *v)
}

/// What `find_class(module, name)` imports under protocol < 3 with `fix_imports` (CPython's
/// default, both unpicklers): the pair `NAME_MAPPING` maps it to, else the module
/// `IMPORT_MAPPING` maps it to; `None` when neither rewrites it.
pub(crate) fn fix_imports(module: &str, name: &str) -> Option<(String, String)> {
    if let Some((m, n)) = name_mapping(module, name) {
        return Some((m.to_owned(), n.to_owned()));
    }
    import_mapping(module).map(|m| (m.to_owned(), name.to_owned()))
}

/// Python-2 builtin names remapped by `fix_imports`.
pub(crate) fn normalize_builtin(name: &str) -> &str {
    match name {
        "xrange" => "range",
        "unicode" | "basestring" => "str",
        "long" => "int",
        "raw_input" => "input",
        "unichr" => "chr",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fix_imports_rewrites_as_compat_pickle_does() {
        assert_eq!(
            fix_imports("__builtin__", "reduce"),
            Some(("functools".into(), "reduce".into()))
        );
        assert_eq!(
            fix_imports("copy_reg", "_reconstructor"),
            Some(("copyreg".into(), "_reconstructor".into()))
        );
        assert_eq!(
            fix_imports("SimpleHTTPServer", "test"),
            Some(("http.server".into(), "test".into()))
        );
        assert_eq!(fix_imports("builtins", "reduce"), None);
        assert_eq!(fix_imports("exceptions", "NoSuchError"), None);
        assert_eq!(normalize_module("dbhash"), "dbm.bsd");
        assert_eq!(normalize_module("os.path"), "os");
        assert!(IMPORT_MAPPING.windows(2).all(|w| w[0].0 < w[1].0));
        assert!(NAME_MAPPING.windows(2).all(|w| w[0].0 < w[1].0));
    }

    #[test]
    fn allow_list_has_no_dangerous_entry() {
        for &name in ALLOWED_CALLS {
            let (module, qualname) = name.rsplit_once('.').unwrap_or((name, ""));
            if name == "functools.partial" {
                continue; // allowed to build; its target decides (see classify).
            }
            assert!(
                crate::classify::dangerous_category(module, qualname).is_none(),
                "{name} is both allowed and dangerous"
            );
        }
    }
}
