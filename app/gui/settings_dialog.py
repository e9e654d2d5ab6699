"""Model picker and generation/retrieval settings, saved to `settings.json` (rag.settings)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from rag.settings import Settings

BUNDLED_LABEL = "SmolLM2-135M-Instruct (bundled)"


def model_choices(data_dir: Path | None = None) -> list[tuple[str, str]]:
    """(label, settings.model value) pairs: the bundled model first, then models found locally.

    Only cheap lookups (package folders, GGUF headers): never loads weights.
    """
    choices = [(BUNDLED_LABEL, "")]
    try:
        from inference.bundled import gemma_model_path

        gemma = gemma_model_path()
        if gemma is not None:
            choices.append((f"Gemma 3 270M ({gemma.name})", str(gemma)))
    except Exception:  # noqa: BLE001 - an optional extra must never break the dialog
        pass
    try:
        from inference.discovery import discover_models  # type: ignore[import-not-found]

        for entry in discover_models(data_dir=data_dir):
            value = str(getattr(entry, "path", ""))
            if value and all(value != v for _, v in choices):
                choices.append((f"{getattr(entry, 'name', Path(value).stem)}", value))
    except Exception:  # noqa: BLE001
        pass
    return choices


class SettingsDialog(QDialog):
    def __init__(self, settings: Settings, data_dir: Path | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self._settings = settings
        layout = QVBoxLayout(self)
        form = QFormLayout()

        self.model = QComboBox()
        self.model.setAccessibleName("Chat model")
        for label, value in model_choices(data_dir):
            self.model.addItem(label, value)
        if settings.model and self.model.findData(settings.model) < 0:
            self.model.addItem(Path(settings.model).name, settings.model)
        self.model.setCurrentIndex(max(0, self.model.findData(settings.model)))
        browse = QPushButton("Browse…")
        browse.setAccessibleName("Choose a GGUF model file")
        browse.clicked.connect(self._browse)
        row = QHBoxLayout()
        row.addWidget(self.model, 1)
        row.addWidget(browse)
        model_label = QLabel("&Model:")
        model_label.setBuddy(self.model)
        form.addRow(model_label, row)

        self.threads = self._spin(0, 256, settings.n_threads, "CPU threads (0 = automatic)")
        form.addRow("&Threads:", self.threads)
        self.n_ctx = self._spin(512, 131072, settings.n_ctx, "Context size in tokens")
        self.n_ctx.setSingleStep(512)
        form.addRow("&Context size:", self.n_ctx)
        self.gpu_layers = self._spin(-1, 999, settings.n_gpu_layers,
                                     "Layers on the GPU (-1 = automatic, 0 = CPU only)")
        form.addRow("&GPU layers:", self.gpu_layers)
        self.temperature = QDoubleSpinBox()
        self.temperature.setRange(0.0, 2.0)
        self.temperature.setSingleStep(0.1)
        self.temperature.setValue(settings.temperature)
        self.temperature.setAccessibleName("Temperature")
        form.addRow("T&emperature:", self.temperature)
        self.top_k = self._spin(1, 20, settings.top_k_sources, "Number of sources")
        form.addRow("&Number of sources:", self.top_k)
        self.max_tokens = self._spin(32, 8192, settings.max_answer_tokens,
                                     "Longest answer in tokens")
        form.addRow("&Longest answer (tokens):", self.max_tokens)
        layout.addLayout(form)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save
                                   | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

    def _spin(self, lo: int, hi: int, value: int, name: str) -> QSpinBox:
        box = QSpinBox()
        box.setRange(lo, hi)
        box.setValue(value)
        box.setAccessibleName(name)
        box.setToolTip(name)
        return box

    def _browse(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Choose a model", "", "GGUF models (*.gguf)")
        if path:
            self.model.addItem(Path(path).name, path)
            self.model.setCurrentIndex(self.model.count() - 1)

    def result_settings(self) -> Settings:
        """A copy of the settings with the dialog's values (the caller saves and applies it)."""
        return dataclasses.replace(
            self._settings,
            model=str(self.model.currentData() or ""),
            n_threads=self.threads.value(),
            n_ctx=self.n_ctx.value(),
            n_gpu_layers=self.gpu_layers.value(),
            temperature=round(self.temperature.value(), 2),
            top_k_sources=self.top_k.value(),
            max_answer_tokens=self.max_tokens.value(),
        )
