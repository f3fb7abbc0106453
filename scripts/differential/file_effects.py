#!/usr/bin/env python3
"""Which callables a config can instantiate create or truncate files: measured, not guessed.

Each candidate (standard library and the libraries models are built from) is called the way a
config would call it — with the config's path argument — inside a fresh temporary folder, in a
child process, and the folder is compared before and after. Those that created, truncated or
replaced a file are written to crates/aigis-scan/src/analyzers/data/file_effects.txt
(`module.name` per line), which `analyzers/callables.rs` reads as data: a Hydra `_target_`, a
Keras object or a skops node naming one of them is a file-write effect (critical).

Only these library callables run, on paths inside the temporary folder; no model content is
loaded. Pins: scripts/differential/requirements-config.txt (Python 3.11.7).
Run: /work/venvs/config/bin/python scripts/differential/file_effects.py
"""
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "..", "crates", "aigis-scan", "src", "analyzers", "data", "file_effects.txt")

# (dotted name, Python expression calling it with P = a path in the folder, D = the folder,
#  S = an existing source file there).
CANDIDATES = [
    ("logging.FileHandler", "logging.FileHandler(P)"),
    ("logging.handlers.RotatingFileHandler", "logging.handlers.RotatingFileHandler(P)"),
    ("logging.handlers.TimedRotatingFileHandler", "logging.handlers.TimedRotatingFileHandler(P)"),
    ("logging.handlers.WatchedFileHandler", "logging.handlers.WatchedFileHandler(P)"),
    ("logging.basicConfig", "logging.basicConfig(filename=P)"),
    ("logging.StreamHandler", "logging.StreamHandler()"),
    ("gzip.open", "gzip.open(P, 'wb')"),
    ("gzip.GzipFile", "gzip.GzipFile(P, 'wb')"),
    ("bz2.open", "bz2.open(P, 'wb')"),
    ("bz2.BZ2File", "bz2.BZ2File(P, 'wb')"),
    ("lzma.open", "lzma.open(P, 'wb')"),
    ("lzma.LZMAFile", "lzma.LZMAFile(P, 'wb')"),
    ("codecs.open", "codecs.open(P, 'w')"),
    ("io.open", "io.open(P, 'w')"),
    ("io.FileIO", "io.FileIO(P, 'w')"),
    ("_io.FileIO", "_io.FileIO(P, 'w')"),
    ("builtins.open", "open(P, 'w')"),
    ("os.open", "os.open(P, os.O_CREAT | os.O_WRONLY)"),
    ("os.mkdir", "os.mkdir(P)"),
    ("os.makedirs", "os.makedirs(P)"),
    ("os.truncate", "os.truncate(S, 0)"),
    ("py_compile.compile", "py_compile.compile(S, cfile=P)"),
    ("compileall.compile_file", "compileall.compile_file(S, quiet=1)"),
    ("compileall.compile_dir", "compileall.compile_dir(D, quiet=1)"),
    ("tempfile.NamedTemporaryFile", "tempfile.NamedTemporaryFile(dir=D, delete=False)"),
    ("tempfile.mkstemp", "tempfile.mkstemp(dir=D)"),
    ("tempfile.mkdtemp", "tempfile.mkdtemp(dir=D)"),
    ("tempfile.TemporaryDirectory", "tempfile.TemporaryDirectory(dir=D).name"),
    ("tempfile.gettempdir", "tempfile.gettempdir()"),
    ("shutil.copyfile", "shutil.copyfile(S, P)"),
    ("shutil.copy", "shutil.copy(S, P)"),
    ("shutil.copy2", "shutil.copy2(S, P)"),
    ("shutil.copytree", "shutil.copytree(D, P)"),
    ("shutil.move", "shutil.move(S, P)"),
    ("shutil.make_archive", "shutil.make_archive(P, 'zip', D)"),
    ("shutil.which", "shutil.which('ls')"),
    ("zipfile.ZipFile", "zipfile.ZipFile(P, 'w').close()"),
    ("tarfile.open", "tarfile.open(P, 'w').close()"),
    ("shelve.open", "shelve.open(P).close()"),
    ("dbm.open", "dbm.open(P, 'c').close()"),
    ("sqlite3.connect", "sqlite3.connect(P).execute('create table t(x)')"),
    ("pathlib.Path", "pathlib.Path(P)"),
    ("json.dumps", "json.dumps({})"),
    ("numpy.save", "numpy.save(P, numpy.zeros(1))"),
    ("numpy.savez", "numpy.savez(P, a=numpy.zeros(1))"),
    ("numpy.savetxt", "numpy.savetxt(P, numpy.zeros(1))"),
    ("numpy.memmap", "numpy.memmap(P, mode='w+', shape=(1,))"),
    ("numpy.zeros", "numpy.zeros(1)"),
    ("omegaconf.OmegaConf.save", "omegaconf.OmegaConf.save({}, P)"),
    ("omegaconf.OmegaConf.create", "omegaconf.OmegaConf.create({})"),
    ("sklearn.datasets.dump_svmlight_file", "sklearn.datasets.dump_svmlight_file(numpy.zeros((1, 1)), numpy.zeros(1), P)"),
    ("h5py.File", "h5py.File(P, 'w').close()"),
]

CHILD = r"""
import importlib, os, sys, json
name, call, folder = sys.argv[1], sys.argv[2], sys.argv[3]
os.chdir(folder)
P = os.path.join(folder, "target")
D = os.path.join(folder, "tree")
S = os.path.join(folder, "source.py")
os.makedirs(D)
with open(S, "w") as f: f.write("x = 1\n")
with open(os.path.join(D, "f"), "w") as f: f.write("y")
for mod in ("logging", "logging.handlers", "gzip", "bz2", "lzma", "codecs", "io", "_io", "py_compile",
            "compileall", "tempfile", "shutil", "zipfile", "tarfile", "shelve", "dbm", "sqlite3", "pathlib", "json"):
    globals()[mod.split(".")[0]] = importlib.import_module(mod.split(".")[0])
    importlib.import_module(mod)
for mod in ("numpy", "omegaconf", "sklearn.datasets", "h5py"):
    try:
        globals()[mod.split(".")[0]] = importlib.import_module(mod.split(".")[0]); importlib.import_module(mod)
    except ImportError:
        pass
def snapshot():
    out = {}
    for root, dirs, files in os.walk(folder):
        for n in files + dirs:
            p = os.path.join(root, n)
            st = os.stat(p)
            out[p] = (st.st_size, st.st_mtime_ns)
    return out
before = snapshot()
error = None
try:
    eval(call)
except Exception as e:
    error = f"{type(e).__name__}: {e}"
after = snapshot()
changed = sorted(p for p in set(before) | set(after) if before.get(p) != after.get(p))
print(json.dumps({"changed": changed, "error": error}))
"""


def main():
    writes = []
    for name, call in CANDIDATES:
        with tempfile.TemporaryDirectory() as folder:
            out = subprocess.run([sys.executable, "-c", CHILD, name, call, folder], capture_output=True, text=True, timeout=60)
            try:
                result = json.loads(out.stdout.strip().splitlines()[-1])
            except (IndexError, json.JSONDecodeError):
                print(f"{name}: child failed: {out.stderr[-300:]}")
                continue
        creates = bool(result["changed"])
        print(f"{name}: {'writes' if creates else 'no file change'}{' (' + result['error'] + ')' if result['error'] else ''}")
        if creates:
            writes.append(name)
    with open(OUT, "w") as f:
        f.write("# Callables that created, truncated or replaced a file when called with a path, measured by\n")
        f.write("# scripts/differential/file_effects.py (Python 3.11.7, pins in requirements-config.txt).\n")
        for name in sorted(writes):
            f.write(name + "\n")
    print(f"{OUT}: {len(writes)} callables")


if __name__ == "__main__":
    main()
