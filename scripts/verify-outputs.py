#!/usr/bin/env python3
"""Checks stage0-runner's machine-readable outputs with verifiers from outside the project.

  verify-outputs.py attestation FILE      in-toto Statement v1 + SLSA Provenance v1
  verify-outputs.py schema SCHEMA FILE    a JSON file against a JSON Schema (2020-12)

The attestation is parsed with the in-toto project's own bindings (PyPI
`in-toto-attestation`): strictly into its Statement and SLSA Provenance v1 protobuf
messages (an unknown or mistyped field is an error), then the Statement's own validate()
and the SLSA v1 required fields. Schemas are checked with PyPI `jsonschema`.
Exit status: 0 valid, 1 invalid (the reason on stderr), 2 usage.
"""
import json
import re
import sys


def fail(msg):
    print(f"verify-outputs: INVALID: {msg}", file=sys.stderr)
    sys.exit(1)


def verify_attestation(path):
    from google.protobuf import json_format
    from in_toto_attestation.predicates.provenance.v1 import provenance_pb2
    from in_toto_attestation.v1 import statement_pb2
    from in_toto_attestation.v1.resource_descriptor import ResourceDescriptor
    from in_toto_attestation.v1.statement import Statement

    with open(path, encoding="utf-8") as f:
        text = f.read()
    try:
        pb = json_format.Parse(text, statement_pb2.Statement())
        Statement.copy_from_pb(pb).validate()
    except Exception as e:  # noqa: BLE001 - any parse or validation error is the verdict
        fail(f"{path}: not an in-toto Statement v1: {e}")
    if pb.predicate_type != "https://slsa.dev/provenance/v1":
        fail(f"{path}: predicateType is {pb.predicate_type!r}")
    try:
        prov = json_format.ParseDict(json.loads(text)["predicate"], provenance_pb2.Provenance())
    except Exception as e:  # noqa: BLE001
        fail(f"{path}: predicate is not SLSA Provenance v1: {e}")
    bd, rd = prov.build_definition, prov.run_details
    if not bd.build_type:
        fail("buildDefinition.buildType is empty")
    if not bd.external_parameters:
        fail("buildDefinition.externalParameters is empty")
    if not rd.builder.id:
        fail("runDetails.builder.id is empty")
    descriptors = list(pb.subject) + list(bd.resolved_dependencies) + list(rd.byproducts)
    for d in descriptors:
        ResourceDescriptor.copy_from_pb(d).validate()
        for alg, value in d.digest.items():
            if alg == "sha256" and not re.fullmatch(r"[0-9a-f]{64}", value):
                fail(f"{d.name}: sha256 {value!r} is not 64 lowercase hex digits")
    print(
        f"verify-outputs: {path}: valid in-toto Statement v1 / SLSA Provenance v1: "
        f"{len(pb.subject)} subjects, {len(bd.resolved_dependencies)} resolved dependencies, "
        f"builder {rd.builder.id}"
    )


def verify_schema(schema_path, path):
    import jsonschema

    with open(schema_path, encoding="utf-8") as f:
        schema = json.load(f)
    with open(path, encoding="utf-8") as f:
        instance = json.load(f)
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    errors = sorted(cls(schema).iter_errors(instance), key=lambda e: list(e.path))
    if errors:
        e = errors[0]
        fail(f"{path} against {schema_path}: at /{'/'.join(map(str, e.path))}: {e.message}")
    print(f"verify-outputs: {path}: valid against {schema_path}")


def main(argv):
    if len(argv) == 3 and argv[1] == "attestation":
        verify_attestation(argv[2])
    elif len(argv) == 4 and argv[1] == "schema":
        verify_schema(argv[2], argv[3])
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
