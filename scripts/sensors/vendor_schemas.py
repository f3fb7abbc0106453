#!/usr/bin/env python3
"""Writes what the `aigis export falco|tetragon` tests validate against, from the tools' own
repositories (Apache-2.0), into crates/aigis-cli/tests/sensors/:

- falco_rule_schema.json: the JSON schema Falco validates rules files with
  (falco: userspace/engine/rule_json_schema.h, the string inside LONG_STRING_CONST(...));
- falco_fields.txt: every field (`proc.name`, `fd.sip.name`, `proc.aname[2]`…) the official
  rules files use in a condition or an output (falcosecurity/rules: rules/*.yaml): fields Falco
  is known to accept, since no Falco binary can be installed here to load our rules;
- tetragon_tracingpolicy_schema.json: the openAPIV3Schema of Tetragon's TracingPolicy CRD
  (cilium/tetragon: pkg/k8s/apis/cilium.io/client/crds/v1alpha1/cilium.io_tracingpolicies.yaml).

Usage: vendor_schemas.py FALCO_GIT_DIR RULES_GIT_DIR TETRAGON_GIT_DIR
(bare git directories, read at HEAD with `git show`; the commits are written to README.md).
Needs PyYAML (any venv with it, e.g. the moto venv .ci/run makes).
"""
import json
import os
import re
import subprocess
import sys

import yaml

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "crates", "aigis-cli",
                   "tests", "sensors")


def show(git_dir, path):
    return subprocess.run(["git", "--git-dir", git_dir, "show", f"HEAD:{path}"], check=True,
                          capture_output=True, text=True).stdout


def head(git_dir):
    return subprocess.run(["git", "--git-dir", git_dir, "rev-parse", "HEAD"], check=True,
                          capture_output=True, text=True).stdout.strip()


def ls(git_dir, prefix):
    out = subprocess.run(["git", "--git-dir", git_dir, "ls-tree", "-r", "--name-only", "HEAD",
                          prefix], check=True, capture_output=True, text=True).stdout
    return [line for line in out.splitlines() if line.endswith(".yaml")]


FIELD = re.compile(r"(?<![\w.%])%?([a-z][a-z0-9_]*\.[a-z0-9_.]+(?:\[[^\]\s]*\])?)")


def main():
    falco, rules, tetragon = sys.argv[1:4]
    os.makedirs(OUT, exist_ok=True)
    header = show(falco, "userspace/engine/rule_json_schema.h")
    # The macro's argument: from after the definition's `LONG_STRING_CONST(` to the `);` closing it.
    body = header.split("= LONG_STRING_CONST(", 1)[1].rsplit(");", 1)[0]
    schema = json.loads(body)
    with open(os.path.join(OUT, "falco_rule_schema.json"), "w") as f:
        json.dump(schema, f, indent=1, sort_keys=True)
        f.write("\n")

    fields = set()
    for path in ls(rules, "rules"):
        for item in yaml.safe_load(show(rules, path)) or []:
            for key in ("condition", "output"):
                text = item.get(key)
                if not isinstance(text, str):
                    continue
                # Quoted strings are values, not fields.
                text = re.sub(r"\"[^\"]*\"|'[^']*'", " ", text)
                for m in FIELD.finditer(text):
                    name = m.group(1).rstrip(".")
                    # Numbers like 127.0.0.0/8 and file names are not fields.
                    if re.match(r"^(evt|proc|fd|user|group|container|k8s|fs|thread|spawned_process|ka|proc\w*)\.", name) or \
                            name.split(".")[0] in {"evt", "proc", "fd", "user", "group", "container", "k8s", "fs", "thread"}:
                        fields.add(name)
    with open(os.path.join(OUT, "falco_fields.txt"), "w") as f:
        f.write("\n".join(sorted(fields)) + "\n")

    crd = yaml.safe_load(show(tetragon,
                              "pkg/k8s/apis/cilium.io/client/crds/v1alpha1/cilium.io_tracingpolicies.yaml"))
    version = next(v for v in crd["spec"]["versions"] if v["name"] == "v1alpha1")
    with open(os.path.join(OUT, "tetragon_tracingpolicy_schema.json"), "w") as f:
        json.dump(version["schema"]["openAPIV3Schema"], f, separators=(",", ":"), sort_keys=True)
        f.write("\n")

    with open(os.path.join(OUT, "README.md"), "w") as f:
        f.write(f"""# Runtime-sensor schemas (test data)

Written by `scripts/sensors/vendor_schemas.py`; what the `aigis export falco|tetragon` tests
validate the exported documents against. All three come from Apache-2.0 projects:

- `falco_rule_schema.json`: falcosecurity/falco `userspace/engine/rule_json_schema.h` at
  {head(falco)} (the schema Falco validates rules files with).
- `falco_fields.txt`: the fields used by falcosecurity/rules `rules/*.yaml` at {head(rules)}.
- `tetragon_tracingpolicy_schema.json`: cilium/tetragon TracingPolicy CRD (`v1alpha1`
  `openAPIV3Schema`) at {head(tetragon)}.

Copyright The Falco Authors and The Tetragon Authors; licensed under the Apache License 2.0
(https://www.apache.org/licenses/LICENSE-2.0).
""")


if __name__ == "__main__":
    main()
