#!/usr/bin/env python3
"""Differential cases for Python module resolution: where the import system finds a module name.

Writes fixtures/differential/pymodule.jsonl.gz (gzip, mtime 0), one case per line:
  {"id": n, "layout": ["a/", "a/pkg/__init__.py", ...], "path": ["a", "", "f"], "module": "pkg.sub",
   "readings": {"cpython-311": {"found": bool, "parts": [{"name", "loader", "origin", "locations",
   "cached"}, ...]}, "cpython-312": ..., "cpython-313": ..., "windows-311": ...,
   "windows-312": ...}}
Paths are relative to the case root; a layout entry ending in `/` is a folder; a search-path entry
"" is the current directory (the case root).

Layouts are generated (fixed seed) from the things a model folder can hold: packages with every
kind of `__init__` (source, sourceless, extension of this and another interpreter, a folder named
`__init__.py`), folders without `__init__` (namespace portions, in several entries), `name.py`,
`name.pyc`, cached `__pycache__/name.*.pyc`, `name.abi3.so`, `name.so`, tagged extensions of this
and another interpreter, Windows `.pyd`, a file `name` without suffix, a folder `name.py`, case
variants (`Mod.py`, `mod.PY`), names with leading underscores; search paths of 1-3 entries, some
missing, some a plain file, some empty, some `""`.

The reading is CPython's own, with nothing imported or executed: the dotted name is walked part by
part with `importlib.machinery.PathFinder.find_spec(fullname, path)`, `path` being the search path
for the top level and the parent spec's `submodule_search_locations` after. `find_spec` does not
import the parent; only a namespace package below the top level looks its parent up in
`sys.modules` (`_NamespacePath` reads the parent's `__path__`), so a bare `types.ModuleType` with
that `__path__` stands in for the parent during the call. An audit hook, a `sys.modules` snapshot
and a listing of the case folder before and after prove that no module was imported, compiled or
executed and no bytecode written. `sys.path_importer_cache` is cleared and
`importlib.invalidate_caches()` called before every reading.

Five readings per case: "cpython-311" is the running interpreter (3.11, default `sys.path_hooks`).
The others are the same `PathFinder`/`FileFinder` code given another interpreter's loader
suffixes, the only thing in which they differ here: "cpython-312" (its tagged `.so` first, then
`.abi3.so`, `.so`), "cpython-313" (a Linux interpreter whose tagged files the layouts never hold)
"windows-311" (`.cp311-win_amd64.pyd`, `.pyd`) and "windows-312" (a Windows interpreter whose
tagged files the layouts never hold). Their `cached` is the 3.11 one with their tag.

Run: python3 scripts/differential/module_resolution.py [--seed S] [--count N] [--out FILE]
"""
import argparse
import importlib
import importlib.machinery as machinery
import os
import random
import shutil
import sys
import tempfile
import types
from importlib._bootstrap_external import _code_to_timestamp_pyc, _NamespacePath

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from casefile import write_cases  # noqa: E402

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "fixtures", "differential", "pymodule.jsonl.gz")
ARGS = argparse.ArgumentParser()
ARGS.add_argument("--seed", type=int, default=31)
ARGS.add_argument("--count", type=int, default=4000)
ARGS.add_argument("--out", default=OUT)
OPTS = ARGS.parse_args()

TAG311 = ".cpython-311-x86_64-linux-gnu.so"
TAG312 = ".cpython-312-x86_64-linux-gnu.so"
TAG313 = ".cpython-313-x86_64-linux-gnu.so"
WIN311 = ".cp311-win_amd64.pyd"
WIN312 = ".cp312-win_amd64.pyd"
assert machinery.EXTENSION_SUFFIXES == [TAG311, ".abi3.so", ".so"], machinery.EXTENSION_SUFFIXES
assert sys.implementation.cache_tag == "cpython-311"


def simulated(extensions):
    """`sys.path_hooks` of an interpreter whose extension suffixes are `extensions`."""
    return [machinery.FileFinder.path_hook(
        (machinery.ExtensionFileLoader, extensions),
        (machinery.SourceFileLoader, machinery.SOURCE_SUFFIXES),
        (machinery.SourcelessFileLoader, machinery.BYTECODE_SUFFIXES),
    )]


READINGS = [
    ("cpython-311", list(sys.path_hooks), "cpython-311"),
    ("cpython-312", simulated([TAG312, ".abi3.so", ".so"]), "cpython-312"),
    ("cpython-313", simulated([TAG313, ".abi3.so", ".so"]), "cpython-313"),
    ("windows-311", simulated([WIN311, ".pyd"]), "cpython-311"),
    ("windows-312", simulated([WIN312, ".pyd"]), "cpython-312"),
]

# --- no code runs: every import, compile or exec while a reading is taken is an error ----------
WATCHING = [False]
EVENTS = []


def audit(event, _args):
    if WATCHING[0] and event in ("import", "exec", "compile", "marshal.loads", "marshal.load", "code.__new__"):
        EVENTS.append(event)


sys.addaudithook(audit)

# --- layouts ---------------------------------------------------------------------------------
NAMES = ["mod", "pkg", "sub", "_mod", "__mod", "leaf", "Mod"]
ENTRIES = ["a", "b", "c", "", "f", "nope"]
PYC = _code_to_timestamp_pyc(compile("x = 1\n", "<layout>", "exec"), 0, 6)


def module_ingredients(rng, d, name, last):
    """Files (and odd folders) for module `name` directly in folder `d`."""
    j = lambda *p: "/".join(x for x in (d,) + p if x)  # noqa: E731
    out = []
    for rel, p in [
        (name + ".py", 0.45 if last else 0.12),
        (name + ".pyc", 0.14),
        ("__pycache__/" + name + ".cpython-311.pyc", 0.18),
        ("__pycache__/" + name + ".cpython-312.pyc", 0.08),
        ("__pycache__/" + name + ".cpython-311.opt-1.pyc", 0.05),
        (name + ".abi3.so", 0.07),
        (name + ".so", 0.07),
        (name + TAG311, 0.06),
        (name + TAG312, 0.1),
        (name + ".pyd", 0.04),
        (name + WIN311, 0.03),
        (name, 0.04),
        (name + ".py/", 0.04),
        (name + ".so/", 0.02),
        (name.swapcase() + ".py", 0.06),
        (name[:1].upper() + name[1:] + ".py", 0.04),
        (name + ".PY", 0.03),
        (name + ".pyw", 0.02),
    ]:
        if rng.random() < p:
            out.append(j(rel))
    return out


INITS = [
    ("__init__.py", 0.4),
    ("__init__.pyc", 0.1),
    ("__init__" + TAG311, 0.06),
    ("__init__" + TAG312, 0.1),
    ("__init__.abi3.so", 0.05),
    ("__init__.so", 0.04),
    ("__init__.pyd", 0.03),
    ("__init__.py/", 0.04),
    ("__pycache__/__init__.cpython-311.pyc", 0.1),
]


def package_ingredients(rng, d, name):
    """The folder `d/name` with a random set of `__init__` files (none: a namespace portion)."""
    base = "/".join(x for x in (d, name) if x)
    out = [base + "/"]
    for rel, p in INITS:
        if rng.random() < p:
            out.append(base + "/" + rel)
    return out


def make_case(rng):
    k = rng.choice([1, 1, 2, 2, 2, 3, 3])
    search = [rng.choices(ENTRIES, weights=[5, 4, 3, 2, 1, 1])[0] for _ in range(k)]
    parts = [rng.choice(NAMES) for _ in range(rng.choice([1, 1, 2, 2, 3]))]
    wanted = []
    for entry in ["a", "b", "c", ""]:
        if entry not in search and rng.random() > 0.1:
            continue
        if entry and rng.random() < 0.15:
            wanted.append(entry + "/")  # an empty folder on the path
            continue
        if rng.random() < 0.05:
            continue
        d = entry
        if d:
            wanted.append(d + "/")
        for i, name in enumerate(parts):
            last = i + 1 == len(parts)
            if rng.random() < 0.15:  # a decoy beside it
                wanted += module_ingredients(rng, d, rng.choice(NAMES), True)
            wanted += module_ingredients(rng, d, name, last)
            if last:
                if rng.random() < 0.35:
                    wanted += package_ingredients(rng, d, name)
                break
            if rng.random() < 0.85:
                wanted += package_ingredients(rng, d, name)
                d = "/".join(x for x in (d, name) if x)
            else:
                break
    if "f" in search or rng.random() < 0.1:
        wanted.append("f")
    # First claim wins: a path is a file or a folder, and only a folder has children.
    kinds = {}
    for p in wanted:
        is_dir = p.endswith("/")
        p = p.rstrip("/")
        segs = p.split("/")
        if any(kinds.get("/".join(segs[:n])) == "file" for n in range(1, len(segs))):
            continue
        if p in kinds:
            continue
        for n in range(1, len(segs)):
            kinds["/".join(segs[:n])] = "dir"
        kinds[p] = "dir" if is_dir else "file"
    layout = sorted(p + "/" if kind == "dir" else p for p, kind in kinds.items())
    return layout, search, ".".join(parts)


def materialise(root, layout):
    for rel in layout:
        full = os.path.join(root, rel)
        if rel.endswith("/"):
            os.makedirs(full, exist_ok=True)
            continue
        os.makedirs(os.path.dirname(full), exist_ok=True)
        if rel.endswith(".pyc"):
            data = PYC
        elif rel.endswith((".so", ".pyd")):
            data = b"\x7fELF\x02\x01\x01" + bytes(9)
        else:
            data = b"x = 1\n"
        with open(full, "wb") as f:
            f.write(data)


def listing(root):
    out = []
    for d, dirs, files in os.walk(root):
        out += [os.path.join(d, x) + "/" for x in dirs] + [os.path.join(d, x) for x in files]
    return sorted(out)


def rel(root, p):
    if p is None:
        return None
    r = os.path.relpath(p, root)
    assert not r.startswith(".."), (root, p)
    return r.replace(os.sep, "/")


def read(root, module, search, hooks, cache_tag):
    """One interpreter's walk of `module` over `search`."""
    saved_hooks = sys.path_hooks[:]
    saved_modules = dict(sys.modules)
    sys.path_hooks[:] = hooks
    sys.path_importer_cache.clear()
    importlib.invalidate_caches()
    names = module.split(".")
    parts, found, path = [], False, search
    try:
        for i, name in enumerate(names):
            fullname = ".".join(names[: i + 1])
            parent = ".".join(names[:i])
            stub = None
            if parent:
                stub = types.ModuleType(parent)
                stub.__path__ = list(path)
                sys.modules[parent] = stub
            WATCHING[0] = True
            try:
                spec = machinery.PathFinder.find_spec(fullname, path)
            finally:
                WATCHING[0] = False
                if parent:
                    assert sys.modules.get(parent) is stub
                    if parent in saved_modules:
                        sys.modules[parent] = saved_modules[parent]
                    else:
                        del sys.modules[parent]
            if spec is None:
                break
            locations = spec.submodule_search_locations
            if isinstance(locations, _NamespacePath):
                locations = list(locations._path)  # not iterated: that recomputes from sys.path
            loader = type(spec.loader).__name__ if spec.loader is not None else None
            cached = spec.cached
            if cached is not None and loader == "SourceFileLoader":
                cached = cached.replace(sys.implementation.cache_tag, cache_tag)
            parts.append({
                "name": name,
                "loader": loader,
                "origin": rel(root, spec.origin) if spec.loader is not None else None,
                "locations": None if locations is None else [rel(root, p) for p in locations],
                "cached": rel(root, cached),
            })
            if i + 1 == len(names):
                found = True
            elif locations is None:
                break  # a module, not a package: `import a.b` fails after running `a`
            else:
                path = list(locations)
    finally:
        sys.path_hooks[:] = saved_hooks
        sys.path_importer_cache.clear()
    assert not EVENTS, EVENTS
    assert dict(sys.modules) == saved_modules, set(sys.modules) ^ set(saved_modules)
    return {"found": found, "parts": parts}


def main():
    rng = random.Random(OPTS.seed)
    cwd = os.getcwd()
    cases, outcomes = [], {}
    base = tempfile.mkdtemp(prefix="aigis-pymodule-")
    try:
        for n in range(OPTS.count):
            layout, search, module = make_case(rng)
            root = os.path.join(base, str(n))
            os.makedirs(root)
            materialise(root, layout)
            before = listing(root)
            os.chdir(root)  # "" on the search path is the current directory
            try:
                entries = [os.path.join(root, e) if e else "" for e in search]
                readings = {name: read(root, module, entries, hooks, tag) for name, hooks, tag in READINGS}
            finally:
                os.chdir(cwd)
            assert listing(root) == before, "the reading wrote into the layout"
            shutil.rmtree(root)
            for name, r in readings.items():
                last = r["parts"][-1] if r["found"] else None
                key = (name, (last["loader"] or "namespace") if last else "not found")
                outcomes[key] = outcomes.get(key, 0) + 1
            cases.append({"id": n, "layout": layout, "path": search, "module": module, "readings": readings})
    finally:
        shutil.rmtree(base, ignore_errors=True)
    write_cases(OPTS.out, cases)
    def seen(r):
        return repr([(p["loader"], p["origin"], p["locations"]) for p in r["parts"]] + [r["found"]])

    differ = sum(1 for c in cases if len({seen(r) for r in c["readings"].values()}) > 1)
    print(f"{len(cases)} cases -> {OPTS.out}; interpreters disagree in {differ}")
    for key in sorted(outcomes):
        print(f"  {key[0]:12} {key[1]:22} {outcomes[key]}")


main()
