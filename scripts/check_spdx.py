#!/usr/bin/env python3
"""Reads an aigis SPDX 3 document back with the official SPDX 3 Python bindings
(`spdx-python-model`, pinned in scripts/requirements-spdx.txt) and checks its shape.

    python scripts/check_spdx.py BOM.spdx.json [--expect-models N]

Fails (exit 1) when the JSON-LD does not deserialize, when a reference does not resolve, or when
an AI package lacks what aigis always writes.
"""

import argparse
import sys

from spdx_python_model import v3_0_1 as spdx


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("bom")
    parser.add_argument("--expect-models", type=int)
    args = parser.parse_args()
    objset = spdx.SHACLObjectSet()
    with open(args.bom) as f:
        spdx.JSONLDDeserializer().read(f, objset)
    missing = objset.link()
    problems = [f"unresolved reference {ref}" for ref in sorted(missing)]
    docs = list(objset.foreach_type(spdx.SpdxDocument))
    if len(docs) != 1:
        problems.append(f"{len(docs)} SpdxDocument elements, expected 1")
    packages = list(objset.foreach_type(spdx.ai_AIPackage))
    for pkg in packages:
        if pkg.ai_safetyRiskAssessment is None:
            problems.append(f"{pkg.name}: no ai_safetyRiskAssessment")
        if pkg.software_primaryPurpose != spdx.software_SoftwarePurpose.model:
            problems.append(f"{pkg.name}: primary purpose is not model")
    contains = [
        r for r in objset.foreach_type(spdx.Relationship)
        if r.relationshipType == spdx.RelationshipType.contains
    ]
    files = {id(f) for f in objset.foreach_type(spdx.software_File)}
    for rel in contains:
        for target in rel.to:
            if id(target) not in files:
                problems.append(f"contains target {target} is not a software_File")
    if args.expect_models is not None and len(packages) != args.expect_models:
        problems.append(f"{len(packages)} ai_AIPackage elements, expected {args.expect_models}")
    for problem in problems:
        print(f"{args.bom}: {problem}", file=sys.stderr)
    print(f"{args.bom}: {len(packages)} AI packages, {len(files)} files, {len(contains)} contains relationships")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
