"""`hearth models`, `models add`, `models info` handlers via argparse, in-process."""

from __future__ import annotations

import argparse
import json
import os

import pytest

from app.cli.models import register
from inference.bundled import BUNDLED_NAME, bundled_model_path


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="hearth")
    p.add_argument("--data-dir", default=None)
    p.add_argument("--json", action="store_true")
    register(p.add_subparsers(dest="command"))
    return p


def run(capsys, *argv):
    args = parser().parse_args(list(argv))
    code = args.func(args)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_models_json_lists_bundled_with_fit(tmp_path, capsys):
    code, out, _ = run(capsys, "--data-dir", str(tmp_path), "models", "--json")
    assert code == 0
    rows = {r["name"]: r for r in json.loads(out)["models"]}
    smol = rows[BUNDLED_NAME]
    assert smol["selected"] and smol["source"] == "bundled"
    assert smol["info"]["architecture"] == "llama"
    assert smol["fit"]["verdict"] in ("fits", "tight", "won't fit")
    assert smol["estimate"]["total_bytes"] > smol["info"]["tensor_bytes"]


def test_global_json_flag_also_works(tmp_path, capsys):
    code, out, _ = run(capsys, "--json", "--data-dir", str(tmp_path), "models")
    assert code == 0 and "models" in json.loads(out)


def test_models_table(tmp_path, capsys):
    code, out, _ = run(capsys, "--data-dir", str(tmp_path), "models")
    assert code == 0 and BUNDLED_NAME in out and "Q4_1" in out and out.startswith("  NAME")


def test_add_then_info_by_name(tmp_path, capsys):
    src = tmp_path / "Tiny-Chat.gguf"
    os.symlink(bundled_model_path(), src)
    data = str(tmp_path / "data")
    code, out, _ = run(capsys, "--data-dir", data, "models", "add", str(src))
    assert code == 0 and "Added Tiny-Chat" in out
    assert (tmp_path / "data" / "models" / "Tiny-Chat.gguf").is_file()
    code, out, _ = run(capsys, "--data-dir", data, "models", "info", "Tiny-Chat", "--json")
    info = json.loads(out)
    assert code == 0 and info["name"] == "Tiny-Chat" and info["info"]["quantization"] == "Q4_1"
    assert info["gpu_offload"] is False and info["lora_adapter"] is None
    code, out, _ = run(capsys, "--data-dir", data, "models", "info", "Tiny-Chat")
    assert code == 0 and "Fit:" in out and "KV cache" in out


def test_through_hearth_cli_entry(tmp_path, capsys):
    from app.cli import run_cli

    assert run_cli(["models", "--json", "--data-dir", str(tmp_path)]) == 0
    assert BUNDLED_NAME in {r["name"] for r in json.loads(capsys.readouterr().out)["models"]}
    assert run_cli(["models", "info", "bundled", "--json", "--data-dir", str(tmp_path)]) == 0
    assert json.loads(capsys.readouterr().out)["info"]["architecture"] == "llama"


@pytest.mark.parametrize("sub", [["add"], ["info"]])
def test_errors_exit_1_with_message(tmp_path, capsys, sub):
    bad = tmp_path / "junk.gguf"
    bad.write_bytes(b"\0" * 64)
    code, out, err = run(capsys, "--data-dir", str(tmp_path), "models", *sub, str(bad), "--json")
    assert code == 1 and "not a GGUF" in err and "not a GGUF" in json.loads(out)["error"]
