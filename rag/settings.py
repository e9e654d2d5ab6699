"""Typed, versioned user settings stored as JSON in the data dir."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from rag.paths import private_file

SCHEMA_VERSION = 1
FILENAME = "settings.json"


@dataclass
class Settings:
    schema_version: int = SCHEMA_VERSION
    model: str = ""  # "" = bundled SmolLM2; else a model name or a .gguf path
    n_threads: int = 0  # 0 = physical cores
    n_ctx: int = 4096
    n_gpu_layers: int = -1  # -1 = automatic
    temperature: float = 0.0  # grounded answers: the same question gets the same answer
    max_answer_tokens: int = 512
    top_k_sources: int = 5
    lora_adapters: dict[str, str] = field(default_factory=dict)
    enabled_models: list[str] = field(default_factory=list)  # for routing; empty = just `model`
    ocr: bool = True  # read scanned pages and images by OCR; off: they are skipped (rag/ocr.py)
    # A team library on a Chroma server (docs/team.md); "" = this computer's library.
    server_url: str = ""
    server_library: str = "hearth"
    server_token_file: str = ""
    server_root: str = ""  # documents' shared paths are relative to this folder (default: home)

    @classmethod
    def load(cls, data_dir: Path) -> Settings:
        path = Path(data_dir) / FILENAME
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return cls()
        return cls.from_dict(raw)

    @classmethod
    def from_dict(cls, raw: dict) -> Settings:
        raw = migrate(dict(raw))
        known = {f.name for f in fields(cls)}
        s = cls(**{k: v for k, v in raw.items() if k in known})
        s.schema_version = SCHEMA_VERSION
        return s

    def save(self, data_dir: Path) -> None:
        path = Path(data_dir) / FILENAME
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=2), encoding="utf-8")
        private_file(tmp)
        os.replace(tmp, path)


def migrate(raw: dict) -> dict:
    """Upgrade older settings files step by step; unknown keys are dropped by the caller."""
    version = int(raw.get("schema_version", 0) or 0)
    if version < 1:
        raw["schema_version"] = 1
    return raw
