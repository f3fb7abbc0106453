#!/usr/bin/env python3
"""Builds the offline advisory database aigis ships for the Python ML stack
(crates/aigis-scan/data/advisories-ml.json) from an OSV export of PyPI advisories: a checkout of
the PyPA advisory database (github.com/pypa/advisory-database or a mirror; vulns/<package>/*.yaml),
or a folder of OSV JSON files (an osv.dev export, e.g. `gsutil cp gs://osv-vulnerabilities/PyPI/all.zip`
unzipped). Only the ML packages below are kept, and of each advisory only what matching needs:
id, aliases, a one-line summary, the PyPI ECOSYSTEM ranges, and a severity computed from its CVSS
v3/v4 vector with the `cvss` package (pinned in requirements.txt).

  python3 -m venv /tmp/adv && /tmp/adv/bin/pip install -r scripts/advisories/requirements.txt
  /tmp/adv/bin/python scripts/advisories/build_ml_db.py PATH/TO/advisory-database [REVISION] \
      > crates/aigis-scan/data/advisories-ml.json

The same output is what `aigis db update --from FILE` accepts (as does a raw OSV JSON list).
"""
import datetime
import json
import re
import os
import subprocess
import sys

import yaml
from cvss import CVSS3, CVSS4

PACKAGES = sorted({
    "torch", "torchvision", "torchaudio", "transformers", "tokenizers", "keras", "tf-keras",
    "tensorflow", "tensorflow-cpu", "tensorflow-gpu", "onnx", "onnxruntime", "llama-cpp-python",
    "mlflow", "joblib", "numpy", "scipy", "safetensors", "huggingface-hub", "diffusers", "gradio",
    "vllm", "langchain", "langchain-core", "langchain-community", "llama-index", "pytorch-lightning",
    "lightning", "scikit-learn", "pandas", "sentence-transformers", "timm", "accelerate", "datasets",
    "pyyaml", "ray", "bentoml", "nltk", "dill", "cloudpickle", "skops", "xgboost", "lightgbm",
    "catboost", "paddlepaddle", "jax", "jaxlib", "flax", "optimum", "peft", "deepspeed",
    "fastai", "spacy", "gensim", "openai", "anthropic", "litellm", "gguf", "modelscan", "picklescan",
    "fickling", "torchserve", "triton", "tritonclient", "kserve", "sagemaker", "wandb", "clearml",
    "comet-ml", "streamlit", "jupyterlab", "notebook", "nbconvert", "ipython", "pillow",
})


def severity(entry):
    best = None
    for s in entry.get("severity") or []:
        vector = s.get("score", "")
        try:
            if vector.startswith("CVSS:3"):
                score = CVSS3(vector).base_score
            elif vector.startswith("CVSS:4"):
                score = CVSS4(vector).base_score
            else:
                continue
        except Exception:  # a malformed vector is skipped, not trusted
            continue
        best = score if best is None else max(best, float(score))
    if best is None:
        text = ((entry.get("database_specific") or {}).get("severity") or "").lower()
        return {"critical": "critical", "high": "high", "moderate": "medium", "medium": "medium",
                "low": "low"}.get(text, "high")
    best = float(best)
    return "critical" if best >= 9.0 else "high" if best >= 7.0 else "medium" if best >= 4.0 else "low"


def summary(entry):
    text = (entry.get("summary") or entry.get("details") or "").strip().replace("\n", " ")
    sentences = [x for x in text.split(". ") if x]
    # Skip the project's self-description ("PyTorch is a Python package that ...").
    useful = [x for x in sentences if not re.match(r"^[\w. -]+ is (an?|the) ", x)] or sentences or [""]
    first = useful[0]
    return (first[:237] + "...") if len(first) > 240 else first


def compact(entry):
    packages = []
    for a in entry.get("affected") or []:
        pkg = a.get("package") or {}
        name = (pkg.get("name") or "").lower().replace("_", "-")
        if pkg.get("ecosystem") != "PyPI" or name not in PACKAGES:
            continue
        ranges = []
        for r in a.get("ranges") or []:
            if r.get("type") != "ECOSYSTEM":
                continue
            ranges.append([{k: str(v) for k, v in ev.items()} for ev in r.get("events") or []])
        versions = [str(v) for v in a.get("versions") or []] if not ranges else []
        if ranges or versions:
            packages.append({"name": name, "ranges": ranges, "versions": versions})
    if not packages or entry.get("withdrawn"):
        return None
    return {"id": entry["id"], "aliases": sorted(entry.get("aliases") or []), "summary": summary(entry),
            "severity": severity(entry), "modified": str(entry.get("modified", ""))[:10], "packages": packages}


def entries(src):
    vulns = os.path.join(src, "vulns")
    if os.path.isdir(vulns):
        for pkg in sorted(os.listdir(vulns)):
            if pkg.lower() not in PACKAGES:
                continue
            for name in sorted(os.listdir(os.path.join(vulns, pkg))):
                if name.endswith((".yaml", ".yml")):
                    with open(os.path.join(vulns, pkg, name)) as f:
                        yield yaml.safe_load(f)
    else:
        for root, _, files in os.walk(src):
            for name in sorted(files):
                if name.endswith(".json"):
                    with open(os.path.join(root, name)) as f:
                        yield json.load(f)


def main():
    src = sys.argv[1]
    out = [c for c in (compact(e) for e in entries(src)) if c]
    out.sort(key=lambda c: c["id"])
    commit = sys.argv[2] if len(sys.argv) > 2 else ""
    if not commit:
        try:
            commit = subprocess.run(["git", "-C", src, "rev-parse", "HEAD"], capture_output=True,
                                    text=True, check=True).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            commit = ""
    # The newest modification that is not in the future (a few entries carry bad dates).
    today = datetime.date.today().isoformat()
    date = max((c["modified"] for c in out if c["modified"] <= today), default="")
    doc = {"format": "aigis-advisories/1", "source": "PyPA advisory database (OSV)",
           "source_revision": commit, "date": date, "packages": PACKAGES, "advisories": out}
    json.dump(doc, sys.stdout, indent=0, sort_keys=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
