#!/usr/bin/env python3
"""Effect tables of the trusted model libraries, generated from their real code (issue 18).

Developer tool: run in a throwaway venv holding the pinned packages of requirements.txt, never
at scan time and never in CI. It imports the library *modules* (to reach their functions and to
check object identity) but never calls library functions: every effect comes from the Python
source of each function (`inspect.getsource` + `ast`), statically.

Output (stdout, or --out): a sorted TSV that `crates/aigis-pickle/src/effects.rs` embeds.

  alias   <module.attr>    <original>          the attribute *is* a dangerous stdlib object
  func    <module.qualname> <effects>  <why>   a function/method with an effect
  class   <module.qualname> <effects>  <why>   a class whose __init__/__new__/__setstate__/
                                               __reduce__/__call__ has an effect

Effects (comma separated):
  calls:<i>   calls its positional parameter i (a forwarder: whatever callable it is handed runs)
  loads[:i]   unpickles/unmarshals/torch.loads (its parameter i, when that is what it loads)
  exec[:i]    exec/eval/compile/runpy (of its parameter i)
  spawn       subprocess, os.system/popen/exec*/spawn*
  write       opens a file for writing, creates/removes/moves files or directories
  network     urllib/socket/http/requests
  import      importlib.import_module/__import__ of a computed name
  setstate:<effect> / init:<effect> / new:<effect> / call:<effect>   (class rows: which method)

Effects are found in the function's own body, and through one level of helpers: a call of
another analysed Python function contributes that function's direct effects (a helper's
`calls:i` maps back when the argument passed at position i is one of the caller's parameters).

  /work/venvs/effects/bin/python scripts/effects/introspect.py \
      --out crates/aigis-pickle/data/effects.tsv
"""
import argparse
import ast
import collections
import builtins
import importlib
import importlib.metadata as md
import inspect
import pkgutil
import sys
import textwrap
import time
import types
import warnings

PACKAGES = [
    "torch", "numpy", "scipy", "pandas", "sklearn", "joblib", "transformers", "tokenizers",
    "gensim", "spacy", "xgboost", "lightgbm", "catboost", "statsmodels", "timm",
    "sentence_transformers", "torchvision",
]
DISTS = {
    "torch": "torch", "numpy": "numpy", "scipy": "scipy", "pandas": "pandas",
    "sklearn": "scikit-learn", "joblib": "joblib", "transformers": "transformers",
    "tokenizers": "tokenizers", "gensim": "gensim", "spacy": "spacy", "xgboost": "xgboost",
    "lightgbm": "lightgbm", "catboost": "catboost", "statsmodels": "statsmodels",
    "timm": "timm", "sentence_transformers": "sentence-transformers",
    "torchvision": "torchvision", "cloudpickle": "cloudpickle",
}
# Standard-library modules in the trusted namespaces of callables.rs (whole module, no walk).
STDLIB_TRUSTED = [
    "collections", "copyreg", "datetime", "decimal", "fractions", "uuid", "enum", "re",
    "codecs", "functools", "array", "zoneinfo", "argparse", "types", "pathlib",
]
SKIP_PARTS = {"tests", "test", "testing", "_testing", "conftest", "benchmarks", "_inductor",
              "_dynamo", "f2py", "distutils"}
# Dangerous standard-library modules: every callable in them, by identity.
DANGER_MODULES = [
    "os", "posix", "subprocess", "pickle", "_pickle", "marshal", "shutil", "tempfile",
    "urllib.request", "urllib.parse", "http.client", "socket", "importlib", "importlib.util",
    "runpy", "code", "codeop", "pty", "ctypes", "webbrowser", "zipfile", "tarfile", "glob",
    "io", "_io", "pydoc", "pkgutil", "ftplib", "smtplib", "shelve", "multiprocessing",
    "importlib.machinery", "multiprocessing.pool",
]
DANGER_CLASSES = {"subprocess.Popen", "pickle.Unpickler", "_pickle.Unpickler",
                  "zipfile.ZipFile", "tarfile.TarFile", "io.FileIO", "_io.FileIO",
                  "multiprocessing.Process", "multiprocessing.pool.Pool", "code.InteractiveConsole",
                  "code.InteractiveInterpreter", "importlib.machinery.SourceFileLoader",
                  "shelve.Shelf", "shelve.DbfilenameShelf", "tempfile.NamedTemporaryFile",
                  "tempfile.TemporaryDirectory", "http.client.HTTPConnection",
                  "http.client.HTTPSConnection", "socket.socket", "ftplib.FTP", "smtplib.SMTP"}
DANGER_BUILTINS = ["exec", "eval", "compile", "open", "__import__", "breakpoint", "input",
                   "getattr", "setattr", "delattr", "globals", "vars", "locals"]

LOADERS = {"pickle.load", "pickle.loads", "_pickle.load", "_pickle.loads", "marshal.load",
           "marshal.loads", "torch.load", "torch.serialization.load", "dill.load",
           "dill.loads", "cloudpickle.load", "cloudpickle.loads", "joblib.load",
           "joblib.numpy_pickle.load", "pickle.Unpickler", "_pickle.Unpickler",
           "shelve.open", "yaml.load", "yaml.unsafe_load"}
EXECS = {"builtins.exec", "builtins.eval", "builtins.compile", "runpy.run_path",
         "runpy.run_module", "code.InteractiveInterpreter", "codeop.compile_command"}
SPAWN_PREFIX = ("subprocess.", "pty.spawn", "os.system", "os.popen", "os.exec", "os.spawn",
                "os.posix_spawn", "posix.system", "multiprocessing.Process", "webbrowser.open",
                "os.fork", "os.startfile")
WRITE = {"os.makedirs", "os.mkdir", "os.remove", "os.unlink", "os.rename", "os.replace",
         "os.rmdir", "os.removedirs", "os.symlink", "os.link", "os.chmod", "os.truncate",
         "shutil.copy", "shutil.copy2", "shutil.copyfile", "shutil.copytree", "shutil.move",
         "shutil.rmtree", "shutil.make_archive", "shutil.unpack_archive",
         "tempfile.mkstemp", "tempfile.mkdtemp", "tarfile.TarFile.extractall",
         "zipfile.ZipFile.extractall", "urllib.request.urlretrieve"}
NETWORK_PREFIX = ("urllib.request.url", "urllib.request.Request", "http.client.HTTP",
                  "socket.socket", "socket.create_connection", "requests.get", "requests.post",
                  "requests.request", "requests.Session", "httpx.get", "httpx.Client",
                  "huggingface_hub.file_download.hf_hub_download",
                  "huggingface_hub._snapshot_download.snapshot_download", "ftplib.FTP",
                  "smtplib.SMTP")
IMPORTS = {"importlib.import_module", "builtins.__import__", "importlib.util.spec_from_file_location",
           "importlib.util.module_from_spec"}
CLASS_METHODS = {"__init__": "init", "__new__": "new", "__setstate__": "setstate",
                 "__reduce__": "reduce", "__call__": "call"}


def qualify(obj):
    mod = getattr(obj, "__module__", None)
    name = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", None)
    if not mod or not name:
        return None
    return f"{mod}.{name}"


def danger_map():
    """id -> public name of every function the dangerous modules *define* (not what they
    import: `os.Mapping` is collections.abc's), plus the classes of DANGER_CLASSES."""
    out = {}
    for modname in DANGER_MODULES:
        try:
            mod = importlib.import_module(modname)
        except Exception:
            continue
        owners = {modname, "_" + modname, "posix" if modname == "os" else modname}
        for attr, obj in sorted(vars(mod).items()):
            if attr.startswith("_") or isinstance(obj, types.ModuleType):
                continue
            if isinstance(obj, type):
                if f"{modname}.{attr}" not in DANGER_CLASSES:
                    continue
            elif not isinstance(obj, (types.FunctionType, types.BuiltinFunctionType)):
                continue
            elif getattr(obj, "__module__", None) not in owners:
                continue
            if id(obj) not in out:
                out[id(obj)] = f"{modname}.{attr}"
    for attr in DANGER_BUILTINS:
        out[id(getattr(builtins, attr))] = f"builtins.{attr}"
    return out


def walk(top, budget):
    """Modules of package `top`, imported (skipping tests), within `budget` seconds."""
    start = time.time()
    try:
        pkg = importlib.import_module(top)
    except Exception as e:
        print(f"# cannot import {top}: {e!r}", file=sys.stderr)
        return [], True
    mods = [pkg]
    path = getattr(pkg, "__path__", None)
    if path is None:
        return mods, False
    cut = False
    for info in pkgutil.walk_packages(path, top + ".", onerror=lambda _n: None):
        if set(info.name.split(".")) & SKIP_PARTS:
            continue
        if time.time() - start > budget:
            cut = True
            break
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                mods.append(importlib.import_module(info.name))
        except BaseException:
            continue
    return mods, cut


def dotted(node):
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return list(reversed(parts))
    return None


def own_nodes(fn):
    """The nodes of `fn`'s body, not those of functions, lambdas or classes defined inside it
    (their code runs only if something calls them later)."""
    todo = list(ast.iter_child_nodes(fn))
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            continue
        yield node
        todo.extend(ast.iter_child_nodes(node))


class Analysis:
    def __init__(self, dangers):
        self.dangers = dangers
        self.direct = {}  # name -> (set(effects), why, helper calls [(callee_obj, argmap)])
        self.objs = {}

    def resolve(self, parts, globs):
        """The dotted name and the object a call's callee names, if resolvable."""
        head = parts[0]
        if head in globs:
            obj = globs[head]
        elif hasattr(builtins, head):
            obj = getattr(builtins, head)
        else:
            return None, None
        for p in parts[1:]:
            try:
                obj = inspect.getattr_static(obj, p)
            except Exception:
                if isinstance(obj, types.ModuleType):
                    return f"{obj.__name__}.{'.'.join(parts[parts.index(p):])}", None
                return None, None
            if isinstance(obj, (staticmethod, classmethod)):
                obj = obj.__func__
        if id(obj) in self.dangers:
            return self.dangers[id(obj)], obj
        if isinstance(obj, types.ModuleType):
            return obj.__name__, obj
        return qualify(obj), obj

    def analyse(self, name, fn, drop_first=False):
        try:
            src = textwrap.dedent(inspect.getsource(fn))
            tree = ast.parse(src)
        except Exception:
            return
        node = next((n for n in ast.walk(tree)
                     if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))), None)
        if node is None:
            return
        params = [a.arg for a in node.args.posonlyargs + node.args.args]
        # `len=len`- and `_os=os`-style defaults capture a global: calling them is not calling
        # an argument. A public parameter whose default is another function
        # (`bit_generator_ctor=__bit_generator_ctor`) is an argument a pickle can pass.
        positional = node.args.posonlyargs + node.args.args

        def captures(a, d):
            if isinstance(d, ast.Name):
                return d.id == a.arg or a.arg.startswith("_")
            return isinstance(d, ast.Attribute) and a.arg.startswith("_")
        captured = {a.arg for a, d in zip(positional[len(positional) - len(node.args.defaults):],
                                          node.args.defaults) if captures(a, d)}
        # Indices are those of the pickle call: a constructor's arguments exclude `self`, a
        # classmethod's its `cls`; a plain method named as `Class.method` receives `self` first.
        offset = 1 if drop_first and params else 0
        pindex = {p: i - offset for i, p in enumerate(params)
                  if i >= offset and p not in captured}
        # A local that is only ever a parameter under another name (`cls = bit_generator`,
        # then `cls()`): numpy's pickling helpers forward their argument this way.
        assigned = collections.defaultdict(set)
        for n in own_nodes(node):
            if isinstance(n, ast.Assign) and len(n.targets) == 1 \
                    and isinstance(n.targets[0], ast.Name):
                v = n.value
                assigned[n.targets[0].id].add(v.id if isinstance(v, ast.Name) else None)
        for local, sources in assigned.items():
            if local in pindex or local in captured:
                continue
            idx = {pindex.get(src) for src in sources if src is not None}
            if len(idx) == 1 and None not in idx:
                pindex[local] = idx.pop()
        globs = getattr(fn, "__globals__", {})
        effects, why, helpers = set(), [], []

        def slot(arg):
            if isinstance(arg, ast.Name) and arg.id in pindex:
                return pindex[arg.id]
            # `io.BytesIO(data)`, `bytes(data)`: the parameter still is what gets loaded.
            if isinstance(arg, ast.Call) and len(arg.args) == 1 \
                    and isinstance(arg.args[0], ast.Name) and arg.args[0].id in pindex:
                return pindex[arg.args[0].id]
            return None

        for call in own_nodes(node):
            if not isinstance(call, ast.Call):
                continue
            parts = dotted(call.func)
            if parts is None:
                continue
            if len(parts) == 1 and parts[0] in pindex:
                effects.add(f"calls:{pindex[parts[0]]}")
                why.append(f"{parts[0]}(...)")
                continue
            target, obj = self.resolve(parts, globs)
            if target is None or (isinstance(obj, type) and issubclass(obj, BaseException)):
                continue
            first = slot(call.args[0]) if call.args else None
            hit = None
            if target in LOADERS:
                hit = "loads" if first is None else f"loads:{first}"
            elif target in EXECS:
                hit = "exec" if first is None else f"exec:{first}"
            elif target.startswith(SPAWN_PREFIX):
                hit = "spawn"
            elif target == "builtins.open" or target in ("io.open", "_io.open"):
                mode = call.args[1] if len(call.args) > 1 else next(
                    (k.value for k in call.keywords if k.arg == "mode"), None)
                if isinstance(mode, ast.Constant) and isinstance(mode.value, str) \
                        and any(c in mode.value for c in "wax+"):
                    hit = "write"
            elif target in WRITE:
                hit = "write"
            elif target.startswith(NETWORK_PREFIX):
                hit = "network"
            elif target in IMPORTS and call.args and not isinstance(call.args[0], ast.Constant):
                hit = "import"
            elif target in ("functools.partial", "functools.reduce", "builtins.map") \
                    and first is not None:
                hit = f"calls:{first}"
            if hit:
                effects.add(hit)
                why.append(target)
            elif isinstance(obj, (types.FunctionType, types.MethodType)):
                argmap = {i: slot(a) for i, a in enumerate(call.args)}
                helpers.append((obj, argmap))
        self.direct[name] = (effects, why, helpers)
        self.objs[name] = fn

    def effects(self, name):
        effects, why, helpers = self.direct[name]
        effects, why = set(effects), list(why)
        for obj, argmap in helpers:
            hname = qualify(obj)
            if hname is None or hname == name:
                continue
            # Standard-library helpers are judged by the dangerous table, not by their code
            # (`collections.namedtuple` execs a class body it generates itself).
            if hname.split(".")[0] in sys.stdlib_module_names:
                continue
            if hname not in self.direct:
                self.analyse(hname, obj)
            if hname not in self.direct:
                continue
            heff, _hwhy, _ = self.direct[hname]
            for e in heff:
                kind, _, idx = e.partition(":")
                if idx:
                    mine = argmap.get(int(idx))
                    if kind == "calls" and mine is None:
                        continue
                    e = kind if mine is None else f"{kind}:{mine}"
                effects.add(e)
                why.append(f"{hname}")
        return effects, why


def version(pkg):
    try:
        return md.version(DISTS.get(pkg, pkg))
    except Exception:
        return "?"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out")
    ap.add_argument("--budget", type=float, default=90.0, help="seconds of imports per package")
    ap.add_argument("--packages", nargs="*", default=PACKAGES)
    opts = ap.parse_args()
    dangers = danger_map()
    an = Analysis(dangers)
    aliases, funcs, classes, cut = {}, {}, {}, []
    seen = set()
    modules = []
    for top in opts.packages:
        mods, was_cut = walk(top, opts.budget)
        if was_cut:
            cut.append(top)
        modules += mods
    for name in STDLIB_TRUSTED:
        modules.append(importlib.import_module(name))
    for mod in modules:
        mname = mod.__name__
        try:
            items = sorted(vars(mod).items())
        except Exception:
            continue
        for attr, obj in items:
            # Dunders are the module's own machinery; `__name` helpers are real functions
            # (numpy's pickling helpers `__generator_ctor`, `__bit_generator_ctor`).
            if attr.startswith("__") and attr.endswith("__") and attr != "__import__":
                continue
            full = f"{mname}.{attr}"
            if id(obj) in dangers and dangers[id(obj)] != full \
                    and mname.split(".")[0] not in ("os", "posix", "io", "_io"):
                if not mname.startswith(tuple(m + "." for m in DANGER_MODULES)) \
                        and mname not in DANGER_MODULES:
                    aliases[full] = dangers[id(obj)]
                continue
            if getattr(obj, "__module__", None) != mname or id(obj) in seen:
                continue
            seen.add(id(obj))
            if isinstance(obj, types.FunctionType):
                q = f"{mname}.{obj.__qualname__}"
                an.analyse(q, obj)
                if q in an.direct:
                    funcs[q] = obj
            elif isinstance(obj, type):
                for mattr, m in sorted(vars(obj).items()):
                    drop = mattr in CLASS_METHODS and mattr != "__new__"
                    if isinstance(m, classmethod) or mattr == "__new__":
                        drop = True
                    if isinstance(m, (staticmethod, classmethod)):
                        m = m.__func__
                    if not isinstance(m, types.FunctionType):
                        continue
                    q = f"{mname}.{obj.__qualname__}.{mattr}"
                    an.analyse(q, m, drop)
                    if q in an.direct:
                        funcs[q] = m
                        if mattr in CLASS_METHODS:
                            classes.setdefault(f"{mname}.{obj.__qualname__}", []).append((mattr, q))
    rows = []
    for full, orig in aliases.items():
        rows.append(("alias", full, orig, ""))
    func_eff = {}
    for q in funcs:
        eff, why = an.effects(q)
        if eff:
            func_eff[q] = (eff, why)
            rows.append(("func", q, ",".join(sorted(eff)), " ".join(sorted(set(why)))[:200]))
    for cls, methods in classes.items():
        eff, why = set(), set()
        for mattr, q in methods:
            if q in func_eff:
                for e in func_eff[q][0]:
                    eff.add(f"{CLASS_METHODS[mattr]}:{e}")
                why.update(func_eff[q][1])
        if eff:
            rows.append(("class", cls, ",".join(sorted(eff)), " ".join(sorted(why))[:200]))
    rows.sort(key=lambda r: (r[1], r[0]))
    out = open(opts.out, "w", encoding="utf-8") if opts.out else sys.stdout
    with out:
        out.write("# Generated by scripts/effects/introspect.py; do not edit by hand.\n")
        out.write(f"# python {sys.version.split()[0]}; "
                  + "; ".join(f"{p} {version(p)}" for p in opts.packages) + "\n")
        if cut:
            out.write(f"# import budget cut the walk of: {' '.join(cut)}\n")
        out.write("# kind\tname\teffects-or-original\tevidence\n")
        for r in rows:
            out.write("\t".join(r).rstrip("\t") + "\n")


if __name__ == "__main__":
    main()
