"""Typed, versioned user settings stored as JSON in the data dir, validated by pydantic.

Why validated: settings.json is a file people edit by hand. A wrong type or an impossible value
("n_ctx": "lots", "temperature": -3) must not pass through to llama.cpp, and a file that is not a
JSON object must not crash the app. Each bad value is replaced by its default and named in
`problems`, in plain words, for `hearth status` and the window to show.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError

from rag.base.paths import private_file

SCHEMA_VERSION = 1
FILENAME = "settings.json"


class Settings(BaseModel):
    model_config = ConfigDict(extra="ignore")

    schema_version: int = SCHEMA_VERSION
    model: str = ""  # "" = bundled SmolLM2; else a model name or a .gguf path
    n_threads: int = Field(0, ge=0, le=1024)  # 0 = physical cores
    n_ctx: int = Field(4096, ge=256, le=1 << 20)
    n_gpu_layers: int = Field(-1, ge=-1)  # -1 = automatic
    temperature: float = Field(0.0, ge=0.0, le=2.0)  # 0: the same question, the same answer
    max_answer_tokens: int = Field(512, ge=1, le=32768)
    top_k_sources: int = Field(5, ge=1, le=50)
    lora_adapters: dict[str, str] = Field(default_factory=dict)
    enabled_models: list[str] = Field(default_factory=list)  # for routing; empty = `model`
    ocr: bool = True  # read scanned pages and images by OCR; off: they are skipped (rag/loaders/ocr.py)
    # A team library on a Chroma server (docs/team.md); "" = this computer's library.
    server_url: str = ""
    server_library: str = "hearth"
    server_token_file: str = ""
    server_root: str = ""  # documents' shared paths are relative to this folder (default: home)

    _problems: list[str] = PrivateAttr(default_factory=list)

    @property
    def problems(self) -> list[str]:
        """What was wrong in the file and which default was used instead (plain words)."""
        return list(self._problems)

    @classmethod
    def load(cls, data_dir: Path) -> Settings:
        path = Path(data_dir) / FILENAME
        try:
            text = path.read_text(encoding="utf-8")
        except OSError:
            return cls()
        try:
            raw = json.loads(text)
        except ValueError:
            return cls._with([f"{FILENAME} is not valid JSON, so every setting has its default "
                              "(fix the file or save the settings again)"])
        if not isinstance(raw, dict):
            return cls._with([f"{FILENAME} does not hold an object of settings, so every "
                              "setting has its default"])
        return cls.from_dict(raw)

    @classmethod
    def from_dict(cls, raw: dict) -> Settings:
        """Valid keys kept, unknown keys dropped, each invalid value replaced by its default."""
        raw = migrate(dict(raw))
        problems: list[str] = []
        while True:
            try:
                s = cls.model_validate(raw)
                break
            except ValidationError as exc:
                bad = {str(e["loc"][0]) for e in exc.errors() if e["loc"]}
                if not bad:  # pragma: no cover - pydantic always names the field
                    return cls._with([f"{FILENAME} could not be read ({exc.error_count()} "
                                      "problems); every setting has its default"])
                for e in exc.errors():
                    key = str(e["loc"][0]) if e["loc"] else ""
                    if key in bad and key in raw:
                        default = cls.model_fields[key].get_default(call_default_factory=True)
                        problems.append(f"{FILENAME}: {key} = {raw[key]!r} is not valid "
                                        f"({e['msg'].lower()}); the default {default!r} is used")
                        raw.pop(key)
        s.schema_version = SCHEMA_VERSION
        s._problems = problems
        return s

    @classmethod
    def _with(cls, problems: list[str]) -> Settings:
        s = cls()
        s._problems = problems
        return s

    def save(self, data_dir: Path) -> None:
        path = Path(data_dir) / FILENAME
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.model_dump(), indent=2), encoding="utf-8")
        private_file(tmp)
        os.replace(tmp, path)


def migrate(raw: dict) -> dict:
    """Upgrade older settings files step by step; unknown keys are dropped by the caller."""
    try:
        version = int(raw.get("schema_version", 0) or 0)
    except (TypeError, ValueError):
        version = 0
    if version < 1:
        raw["schema_version"] = 1
    return raw
