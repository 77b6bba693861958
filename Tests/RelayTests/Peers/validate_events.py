#!/usr/bin/env python3
"""Validates call events, one JSON object a line on stdin, against docs/call-event.schema.json with
the `jsonschema` package (formats checked) and as CloudEvents with the `cloudevents` SDK.

Prints one JSON line: {"valid": N, "invalid": [{"line": i, "errors": [...]}, ...]}.
"""
import json
import sys

from cloudevents.v1.http import from_json
from jsonschema import Draft202012Validator


def main():
    with open(sys.argv[1]) as handle:
        schema = json.load(handle)
    Draft202012Validator.check_schema(schema)
    validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    valid, invalid = 0, []
    for number, line in enumerate(sys.stdin, 1):
        line = line.strip()
        if not line:
            continue
        errors = []
        try:
            event = json.loads(line)
            errors += [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(event)]
            from_json(line)
        except Exception as exc:  # a parse failure is a finding, not a crash
            errors.append(f"{type(exc).__name__}: {exc}")
        if errors:
            invalid.append({"line": number, "errors": errors[:5]})
        else:
            valid += 1
    print(json.dumps({"valid": valid, "invalid": invalid[:20]}))


if __name__ == "__main__":
    main()
