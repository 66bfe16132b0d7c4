#!/usr/bin/env python3
"""Validate JSON-lines events against the CSM Threats backend schema.

Usage: validate_events.py [FILE ...]   (reads stdin when no file is given)

Each non-empty line must be one JSON object valid against schema/backend_event.schema.json
(Draft 2020-12, with format checking so `date-time` strings are checked too). Prints the first
errors with their line numbers; exits 1 on any invalid or non-JSON line, 0 otherwise.
"""
import json
import os
import sys

from jsonschema import Draft202012Validator

MAX_REPORTED = 20
SCHEMA_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "schema",
                           "backend_event.schema.json")


def main(argv):
    with open(SCHEMA_PATH, encoding="utf-8") as handle:
        schema = json.load(handle)
    Draft202012Validator.check_schema(schema)
    validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)

    sources = [(path, open(path, encoding="utf-8", errors="strict")) for path in argv] or [("<stdin>", sys.stdin)]
    valid = 0
    failures = 0
    for name, handle in sources:
        try:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    event = json.loads(line)
                except ValueError as error:
                    failures += 1
                    if failures <= MAX_REPORTED:
                        print(f"{name}:{number}: not JSON: {error}")
                    continue
                errors = sorted(validator.iter_errors(event), key=lambda e: list(e.absolute_path))
                if errors:
                    failures += 1
                    if failures <= MAX_REPORTED:
                        for error in errors[:5]:
                            where = "/".join(str(p) for p in error.absolute_path) or "<root>"
                            print(f"{name}:{number}: {where}: {error.message}")
                else:
                    valid += 1
        except UnicodeDecodeError as error:
            failures += 1
            print(f"{name}: not UTF-8: {error}")
        finally:
            if handle is not sys.stdin:
                handle.close()

    if failures:
        print(f"{failures} invalid line(s), {valid} valid")
        return 1
    print(f"{valid} events valid")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
