"""What every command prints: one JSON object with --json, plain lines otherwise, and a failure as
one line on stderr with its exit code."""

from __future__ import annotations

import json
import sys


def emit(args, payload, text: str | None = None) -> None:
    if args.json:
        sys.stdout.write(json.dumps(payload, ensure_ascii=False, indent=2) + "\n")
    elif text is not None:
        sys.stdout.write(text + ("" if text.endswith("\n") else "\n"))

def fail(args, message: str, code: int) -> int:
    if getattr(args, "json", False):
        sys.stdout.write(json.dumps({"error": message}) + "\n")
    print(f"hearth: {message}", file=sys.stderr)
    return code
