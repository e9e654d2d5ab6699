"""The user's input checked before any work: numbers in range, paths that exist, query files that
are UTF-8 text (exit code 2 with a plain message otherwise)."""

from __future__ import annotations

import argparse
import json
import os

from rag.base.errors import HearthError


def missing_paths(paths: list[str]) -> list[str]:
    return [p for p in paths if not os.path.exists(p)]

def bounded(kind: type, lo: float, hi: float, name: str):  # noqa: ANN201 - an argparse type
    """An argparse type for a number from lo to hi (NaN and infinity refused), with a plain
    message: `-k -3` or `--temperature nan` must not be taken silently."""
    what = "a whole number" if kind is int else "a number"

    def parse(text: str):  # noqa: ANN202
        try:
            value = kind(text)
        except ValueError:
            value = None
        if value is None or value != value or not lo <= value <= hi:
            raise argparse.ArgumentTypeError(f"{name} must be {what} from {lo:g} to {hi:g}, "
                                             f"not {text!r}")
        return value

    return parse

def inputs_problem(args, one: str, many: str) -> str | None:
    """Why a search or ask can't start (plain words), or None: an `--in` path that does not
    exist, not exactly one of the single `one` and the file `--many`, or an unreadable file."""
    if missing := missing_paths(args.scope or []):
        return "no such file or folder: " + ", ".join(missing)
    path = getattr(args, many)
    if (getattr(args, one) is None) == (path is None):
        return f"give one {one}, or --{many} FILE"
    return None if path is None else input_file_problem(path)

def input_file_problem(path: str) -> str | None:
    """Why `path` can't be read as a list of questions or queries (plain words), or None."""
    if os.path.isdir(path):
        return f"{path} is a folder; give a text file with one question per line"
    if not os.path.exists(path):
        return f"no such file: {path}"
    if not os.path.isfile(path):
        return f"{path} is not a regular file (a pipe or a device); give a text file"
    return None

def read_queries(path: str) -> list[tuple[str, str]]:
    """(id, text) pairs from plain lines (id = line number) or BEIR-style JSONL."""
    try:
        return _read_queries(path)
    except UnicodeDecodeError as exc:
        raise HearthError(f"{path} is not UTF-8 text (an unreadable byte at position "
                          f"{exc.start}); save it as UTF-8") from exc

def _read_queries(path: str) -> list[tuple[str, str]]:
    out = []
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            line = line.strip()
            if not line:
                continue
            if line.startswith("{"):
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise HearthError(f"{path} line {n} is not valid JSON: {exc.msg}") from exc
                text = obj.get("text") or obj.get("query") or obj.get("question") or ""
                out.append((str(obj.get("_id", obj.get("id", n))), str(text)))
            else:
                out.append((str(n), line))
    return out
