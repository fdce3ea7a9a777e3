"""Checks the custom resources of a rendered manifest stream against the
JSON Schemas beside this file; prints one line per error and exits 1 when
there is any. Kinds without a schema here are left to kubernetes-validate.

usage: validate_crs.py RENDERED.yaml
"""
import json
import pathlib
import sys

import jsonschema
import yaml

HERE = pathlib.Path(__file__).parent
SCHEMAS = {
    "ServiceMonitor": "servicemonitor.json",
    "PrometheusRule": "prometheusrule.json",
    "SecurityContextConstraints": "securitycontextconstraints.json",
}


def main(path):
    errors = 0
    checked = 0
    with open(path) as f:
        for doc in yaml.safe_load_all(f):
            if not doc or doc.get("kind") not in SCHEMAS:
                continue
            schema = json.loads((HERE / SCHEMAS[doc["kind"]]).read_text())
            name = doc.get("metadata", {}).get("name", "?")
            checked += 1
            for e in jsonschema.Draft7Validator(schema).iter_errors(doc):
                where = ".".join(str(p) for p in e.absolute_path) or "(top)"
                print(f"ERROR {doc['kind']}/{name}: {where}: {e.message}")
                errors += 1
    print(f"checked {checked} custom resources")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
