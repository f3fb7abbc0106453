"""The real loader's reading of a pickle stream, with nothing imported or called for real.

CPython's own unpicklers run unchanged: the C `_pickle.Unpickler` and the pure-Python
`pickle._Unpickler`, each fed the bytes three ways (a real file object, `io.BytesIO`, and a
`bytes` object through `pickle.loads` / `pickle._loads`). Their default `find_class` runs too;
only what it reaches is replaced for the duration of a load:

- `builtins.__import__` records the module name and puts a stand-in module into `sys.modules`
  (the real modules are put back afterwards), so `find_class` imports nothing;
- a stand-in module hands out stand-in classes for its attributes; calling one records the call
  (`(module, qualname, whether every argument is a constant)`), `cls.__new__` (NEWOBJ) records a
  construction, and calling anything computed at load time (a call's result, an object from
  `persistent_load`) records a derived call;
- an audit hook records every `pickle.find_class(module, name)` as the pickle spelled it.

Names that cannot be imported in a real environment (a module name that is not dotted
identifiers, an attribute that is not an identifier) fail as the real import or `getattr` would.
`persistent_load` returns `pid[1]` for `torch.save`'s `('module', cls, ...)` ids, as `torch.load`
does, and a stand-in otherwise; out-of-band buffers are provided. The loaders run with the most
permissive settings a real loader uses: `encoding='latin1'` and no limit on integer digits.

An extension code (EXT1/2/4) that nothing registered is read as a loading process that did
register it (`copyreg.add_extension` in any module it imported earlier) reads it: the load is
repeated with each such code in copyreg's registry, naming the stand-in `__aigis_ext__.code_N`
(left out of the name comparison). `copyreg.add_extension(module, name, code)` called by the
pickle with constant strings and an int is the real function (it only fills the registry),
undone after the load. That is the reading that runs more code, and the one aigis
answers for: it rates the lookup high and reads on.

A file-object or `BytesIO` reading calls `load()` again while bytes remain (a legacy `torch.save`
file is pickles back to back); a `bytes` reading loads one pickle, as `pickle.loads` does.
"""

import _pickle
import builtins
import copyreg
import io
import os
import pickle
import sys
import types

__all__ = ["read_all_ways", "WAYS"]

WAYS = ("c-file", "c-bytesio", "c-bytes", "py-file", "py-bytesio", "py-bytes")

# Pickles read back to back from one file object at most.
MAX_PICKLES = 8
# Out-of-band buffers handed to NEXT_BUFFER.
MAX_BUFFERS = 8

_REAL_IMPORT = builtins.__import__

# Codecs the unpicklers decode with, looked up once now: a lookup during a load would import
# `encodings.*` through the recording `__import__`.
for _codec in ("latin1", "latin-1", "ascii", "ASCII", "utf-8", "raw-unicode-escape"):
    b"".decode(_codec)
    "".encode(_codec)
_MODULES = sys.modules
_MISSING = object()
_ModuleType = types.ModuleType
_object_new = object.__new__

sys.set_int_max_str_digits(0)

# A stream may declare lengths of gigabytes, which the pure-Python unpickler allocates (zeroed)
# before reading: cap this process's address space so that fails as MemoryError instead.
try:
    import resource

    _limit = 1 << 30
    _soft, _hard = resource.getrlimit(resource.RLIMIT_AS)
    if _soft == resource.RLIM_INFINITY or _soft > _limit:
        resource.setrlimit(resource.RLIMIT_AS, (_limit, _hard))
except (ImportError, ValueError, OSError):
    pass

# Objects dropped mid-load (a bytearray still exported to a memoryview) report through the
# unraisable hook; they are not an outcome of the load.
sys.unraisablehook = lambda _unraisable: None
_default_excepthook = sys.excepthook


def _excepthook(kind, value, tb):
    # A bytearray freed while a memoryview of it is exported reports through PyErr_Print.
    if kind is SystemError and "exported buffers" in str(value):
        return
    _default_excepthook(kind, value, tb)


sys.excepthook = _excepthook


class _Record:
    """What one load reached."""

    def __init__(self):
        self.attempts = []  # find_class(module, name) as spelled in the pickle
        self.modules = []  # modules find_class imported
        self.globals = []  # (module, qualname) find_class resolved
        self.calls = []  # (module, qualname, constant args) called
        self.news = []  # (module, qualname) constructed with __new__
        self.derived = 0  # calls of objects computed at load time
        self.methods = 0  # extend/append/add the unpickler called on objects
        self.persistent = 0  # persistent_load calls
        self.extensions = []  # codes this load registered through copyreg.add_extension
        self.standins = {}
        self.fake_modules = {}
        self.saved = {}


_REC = None


def _audit(event, args):
    if event == "pickle.find_class" and _REC is not None:
        module, name = args
        _REC.attempts.append((str(module), str(name)))


sys.addaudithook(_audit)


def _constant(value):
    if value is None or type(value) in (bool, int, float, str, bytes):
        return True
    if type(value) is tuple:
        return all(_constant(v) for v in value)
    return False


class _Meta(type):
    """Stand-in classes: what `find_class` returns."""

    def __call__(cls, *args, **kwargs):
        _REC.calls.append((cls._aigis_m, cls._aigis_q, not kwargs and _constant(args)))
        if (
            (cls._aigis_m, cls._aigis_q) == ("copyreg", "add_extension")
            and not kwargs
            and len(args) == 3
            and type(args[0]) is str
            and type(args[1]) is str
            and type(args[2]) is int
        ):
            # The real registry update (it imports and calls nothing); undone after the load.
            copyreg.add_extension(*args)
            _REC.extensions.append(args[2])
            return None
        if (
            (cls._aigis_m, cls._aigis_q) in _GETATTR
            and len(args) in (2, 3)
            and not kwargs
            and isinstance(args[0], _Meta)
            and type(args[1]) is str
        ):
            # getattr(stand-in, name) is what the real getattr returns: that attribute. A dotted
            # name is answered as by a module's `__getattr__` (as `find_class` is, above); a name
            # that no attribute path can have fails as the real getattr does.
            if not _importable(args[1]):
                if len(args) == 3:
                    return args[2]
                raise AttributeError(args[1])
            return _standin(args[0]._aigis_m, args[0]._aigis_q + "." + args[1])
        resolver = _resolver(cls._aigis_m + "." + cls._aigis_q)
        if (
            resolver is not None
            and args
            and type(args[0]) is str
            and not _importable(args[0].removesuffix(":").replace(":", "."))
        ):
            # No module has that name on any host: the real call returns None
            # (`sys.modules.get`, `pydoc.locate`) or raises, which ends the load.
            if resolver:
                return None
            raise ModuleNotFoundError("No module named %r" % (args[0],))
        return _object_new(cls)

    def __getattr__(cls, attr):
        if attr.startswith("__") or not attr.isidentifier():
            raise AttributeError(attr)
        if attr in ("extend", "append", "add"):
            return _object_new(_Method)
        return _standin(cls._aigis_m, cls._aigis_q + "." + attr)

    def __setstate__(cls, state):
        # BUILD on a class or function object: recorded as a method call on it.
        _REC.methods += 1


_GETATTR = {("builtins", "getattr"), ("__builtin__", "getattr")}

# Calls that import by name, as aigis's machine resolves them by their constant argument (also
# reached through another module: `collections._sys.modules.get`), and whether the call returns
# None for a name no host can import (the others raise, which ends the load).
_RESOLVERS = (
    ("builtins.__import__", False),
    ("importlib.__import__", False),
    ("importlib.import_module", False),
    ("sys.modules.get", True),
    ("sys.modules.__getitem__", False),
    ("pydoc.locate", True),
    ("pkgutil.resolve_name", False),
)


def _resolver(full):
    for name, returns_none in _RESOLVERS:
        if full == name or full.endswith("." + name) or full.endswith("._" + name):
            return returns_none
    return None


class _Base(metaclass=_Meta):
    _aigis_m = "<none>"
    _aigis_q = "<none>"

    def __new__(cls, *args, **kwargs):
        _REC.news.append((cls._aigis_m, cls._aigis_q))
        return _object_new(cls)

    def __getattr__(self, attr):
        if attr.startswith("__"):
            raise AttributeError(attr)
        return _object_new(_Method)

    def __call__(self, *args, **kwargs):
        _REC.derived += 1
        return _object_new(_Result)

    def __iter__(self):
        return iter(())


class _Result(_Base):
    """The result of a call: an object computed at load time."""


class _Method:
    """A method the unpickler looks up on an object (`extend`, `append`, `add`)."""

    def __call__(self, *args, **kwargs):
        _REC.methods += 1
        return _object_new(_Result)


def _standin(module, qualname):
    key = (module, qualname)
    cls = _REC.standins.get(key)
    if cls is None:
        _REC.globals.append(key)
        cls = _Meta(
            "standin", (_Base,), {"_aigis_m": module, "_aigis_q": qualname}
        )
        _REC.standins[key] = cls
    return cls


# A module's own metadata: what its repr and the import system ask a stand-in module for.
_MODULE_METADATA = frozenset(
    ("__loader__", "__spec__", "__file__", "__path__", "__package__", "__cached__", "__name__",
     "__doc__", "__dict__", "__class__")
)


class _FakeModule(_ModuleType):
    def __getattr__(self, attr):
        # A dotted name under protocol < 4 is one `getattr`: answered as a module whose
        # `__getattr__` (PEP 562, the lazy modules of transformers and others) resolves it, the
        # reading that runs more code. A dunder is answered where the real module, when this
        # process already has it, defines it (`builtins.__import__`); a module's `__builtins__`
        # is a real attribute a pickle can reach.
        if not _importable(attr):
            raise AttributeError(attr)
        if attr.startswith("__") and attr.endswith("__") and attr != "__builtins__":
            real = _REC.saved.get(self.__name__, _MISSING) if _REC is not None else _MISSING
            if (
                attr in _MODULE_METADATA
                or not isinstance(real, _ModuleType)
                or attr not in real.__dict__
            ):
                raise AttributeError(attr)
        return _standin(self.__name__, attr)


def _importable(name):
    return isinstance(name, str) and name != "" and all(
        part.isidentifier() for part in name.split(".")
    )


def _fake_import(name, globals=None, locals=None, fromlist=(), level=0):
    if isinstance(name, str) and name.startswith("encodings.") and fromlist:
        # The codec registry importing a codec the unpickler decodes with: not the pickle's.
        return _REAL_IMPORT(name, globals, locals, fromlist, level)
    if level != 0 or not _importable(name):
        raise ModuleNotFoundError("No module named %r" % (name,))
    _REC.modules.append(name)
    parts = name.split(".")
    for i in range(1, len(parts) + 1):
        sub = ".".join(parts[:i])
        if sub not in _REC.saved:
            _REC.saved[sub] = _MODULES.get(sub, _MISSING)
        fake = _REC.fake_modules.get(sub)
        if fake is None:
            fake = _FakeModule(sub)
            _REC.fake_modules[sub] = fake
        _MODULES[sub] = fake
    return _MODULES[parts[0]]


def _persistent_load(pid):
    _REC.persistent += 1
    if type(pid) is tuple and len(pid) >= 2 and pid[0] == "module":
        return pid[1]
    return _object_new(_Result)


class _CUnpickler(_pickle.Unpickler):
    def persistent_load(self, pid):
        return _persistent_load(pid)


class _PyUnpickler(pickle._Unpickler):
    def persistent_load(self, pid):
        return _persistent_load(pid)


def _buffers():
    return iter([bytearray(b"buffer") for _ in range(MAX_BUFFERS)])


_OPTIONS = {"encoding": "latin1", "fix_imports": True}


def _load_file(cls, f, size, pickles):
    for _ in range(MAX_PICKLES):
        cls(f, buffers=_buffers(), **_OPTIONS).load()
        pickles.append("ok")
        if f.tell() >= size:
            return


def _run(way, data, path):
    """One reading; returns (record, per-pickle outcomes, last error message)."""
    global _REC
    rec = _Record()
    pickles = []
    error = ""
    _REC = rec
    builtins.__import__ = _fake_import
    f = None
    try:
        if way == "c-bytes":
            pickle.loads(data, buffers=_buffers(), **_OPTIONS)
            pickles.append("ok")
        elif way == "py-bytes":
            pickle._loads(data, buffers=_buffers(), **_OPTIONS)
            pickles.append("ok")
        else:
            if way.endswith("-file"):
                f = open(path, "rb")  # noqa: SIM115 (closed below)
            else:
                f = io.BytesIO(data)
            cls = _CUnpickler if way.startswith("c-") else _PyUnpickler
            _load_file(cls, f, len(data), pickles)
    except BaseException as e:  # noqa: BLE001 (every failure is an outcome)
        if isinstance(e, KeyboardInterrupt):
            raise
        pickles.append("error:" + type(e).__name__)
        try:
            error = str(e)[:200]
        except BaseException:  # noqa: BLE001
            error = "<unprintable>"
    finally:
        builtins.__import__ = _REAL_IMPORT
        for code in rec.extensions:
            key = copyreg._inverted_registry.pop(code, None)
            copyreg._extension_registry.pop(key, None)
            copyreg._extension_cache.pop(code, None)
        for name, module in rec.saved.items():
            if module is _MISSING:
                _MODULES.pop(name, None)
            else:
                _MODULES[name] = module
        _REC = None
        if f is not None:
            f.close()
    return rec, pickles, error


# The module an unregistered extension code is registered to (see the module docstring).
EXT_MODULE = "__aigis_ext__"
# Codes registered for one reading at most (each costs a repeated load).
MAX_EXTENSIONS = 8


def _run_registered(way, data, path):
    """`_run`, with every extension code the load asks for registered to a stand-in."""
    import re

    added = []
    try:
        for _ in range(MAX_EXTENSIONS + 1):
            rec, pickles, error = _run(way, data, path)
            m = re.fullmatch(r"unregistered extension code (-?\d+)", error)
            if m is None or len(added) == MAX_EXTENSIONS:
                return rec, pickles, error
            code = int(m.group(1))
            if code in copyreg._inverted_registry:
                return rec, pickles, error
            copyreg._inverted_registry[code] = (EXT_MODULE, "code_%d" % code)
            added.append(code)
        return rec, pickles, error
    finally:
        for code in added:
            copyreg._inverted_registry.pop(code, None)
            copyreg._extension_cache.pop(code, None)


def _reading(rec, pickles, error):
    return {
        "a": sorted(set(rec.attempts)),
        "m": sorted(set(rec.modules)),
        "g": sorted(set(rec.globals)),
        "c": sorted(set(rec.calls)),
        "n": sorted(set(rec.news)),
        "d": rec.derived,
        "k": rec.methods,
        "p": pickles,
        "e": error,
    }


def read_all_ways(data, path):
    """Every way's reading, readings that agree merged: a list of dicts with `w` (the ways)."""
    with open(path, "wb") as f:
        f.write(data)
    merged = []
    for way in WAYS:
        reading = _reading(*_run_registered(way, data, path))
        for seen in merged:
            if all(seen[k] == reading[k] for k in reading):
                seen["w"].append(way)
                break
        else:
            reading["w"] = [way]
            merged.append(reading)
    return merged


if __name__ == "__main__":
    import json

    blob = bytes.fromhex(sys.argv[1])
    tmp = os.path.join(os.environ.get("TMPDIR", "/tmp"), "aigis-pickle-loader-%d" % os.getpid())
    try:
        print(json.dumps(read_all_ways(blob, tmp), indent=1))
    finally:
        os.unlink(tmp)
