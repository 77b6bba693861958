#!/usr/bin/env python3
"""Checks Standard Webhooks signatures with the standard's own `standardwebhooks` library.

Reads JSON lines {"secret", "body", "headers"} on stdin; prints one JSON line per input:
{"ok": true} or {"ok": false, "error": "..."}.
"""
import json
import sys

from standardwebhooks.webhooks import Webhook

for line in sys.stdin:
    if not line.strip():
        continue
    case = json.loads(line)
    try:
        Webhook(case["secret"]).verify(case["body"], case["headers"])
        print(json.dumps({"ok": True}))
    except Exception as exc:  # a failed check is the answer, not a crash
        print(json.dumps({"ok": False, "error": f"{type(exc).__name__}: {exc}"}))
