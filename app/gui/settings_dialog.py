"""Settings: the model picker (`model_picker.ModelPicker`) and generation/retrieval settings,
saved to `settings.json` (rag.base.settings) by the caller."""

from __future__ import annotations

from PySide6.QtCore import QSize
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDoubleSpinBox,
    QFormLayout,
    QFrame,
    QGroupBox,
    QMessageBox,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.gui.buttons import StandardButton, dialog_buttons
from app.gui.model_picker import BUNDLED_LABEL, ModelPicker
from rag.base.settings import Settings

__all__ = ["BUNDLED_LABEL", "SettingsDialog"]


class SettingsDialog(QDialog):
    def __init__(self, backend, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Settings")
        settings = backend.settings
        self._settings: Settings = settings
        outer = QVBoxLayout(self)
        # The groups scroll, Save/Cancel stay in view: the whole form is ~940 px tall, more than
        # an 800x600 or 1366x768 screen shows.
        self.scroll = QScrollArea()
        self.scroll.setWidgetResizable(True)
        self.scroll.setFrameShape(QFrame.Shape.NoFrame)
        content = QWidget()
        layout = QVBoxLayout(content)
        layout.setContentsMargins(0, 0, 0, 0)
        self.scroll.setWidget(content)
        outer.addWidget(self.scroll)

        models = QGroupBox("Models")
        box = QVBoxLayout(models)
        self.picker = ModelPicker(backend)
        self.model = self.picker.model  # the "Answer with" choice (Settings.model)
        box.addWidget(self.picker)
        layout.addWidget(models)

        generation = QGroupBox("Generation and sources")
        form = QFormLayout(generation)
        self.threads = self._spin(0, 256, settings.n_threads, "CPU threads (0 = automatic)")
        self.threads.setSpecialValueText("Automatic (physical cores)")  # shown for the minimum, 0
        form.addRow("&Threads:", self.threads)
        self.n_ctx = self._spin(512, 131072, settings.n_ctx, "Context size in tokens")
        self.n_ctx.setSingleStep(512)
        form.addRow("&Context size:", self.n_ctx)
        self.gpu_layers = self._spin(-1, 999, settings.n_gpu_layers,
                                     "Layers on the GPU (-1 = automatic, 0 = CPU only)")
        self.gpu_layers.setSpecialValueText("Automatic (all that fit in free VRAM)")  # -1
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
        form.addRow("Longest answer (t&okens):", self.max_tokens)
        layout.addWidget(generation)
        layout.addWidget(self._documents_group(settings))
        from app.gui.server_settings import ServerGroup  # a team library (docs/team.md)

        self.server = ServerGroup(settings)
        layout.addWidget(self.server)
        from app.gui.serve_control import ApiToggle  # `hearth serve`'s API, in this window

        self.api = ApiToggle(backend)
        layout.addWidget(self.api)
        dialog_buttons(self, outer, StandardButton.Save, StandardButton.Cancel)
        self.resize(self._fitting_size(content))

    def _fitting_size(self, content: QWidget) -> QSize:
        """Everything shown when the screen allows, else as much as fits (the rest scrolls)."""
        want = content.sizeHint().expandedTo(content.minimumSizeHint()) + QSize(40, 80)
        screen = self.screen().availableGeometry() if self.screen() else None
        if screen is None:
            return want
        return QSize(min(max(want.width(), 760), int(screen.width() * 0.9)),
                     min(want.height(), int(screen.height() * 0.9)))

    def accept(self) -> None:
        """Save also starts or stops the local API; a failure to start is said, not hidden."""
        self.api_message = self.api.apply()
        if self.api_message.startswith("Local API not started"):
            QMessageBox.warning(self, "Local API", self.api_message)
        super().accept()

    def _documents_group(self, settings: Settings) -> QGroupBox:
        """OCR on/off: reading scans costs seconds a page; some people want only real text."""
        group = QGroupBox("Documents")
        box = QVBoxLayout(group)
        self.ocr = QCheckBox("Read scanned pages and images with &OCR (text recognition)")
        self.ocr.setChecked(settings.ocr)
        self.ocr.setToolTip("On: pages without a text layer and .png/.jpg/.tiff files are read "
                            "by OCR, on this computer (seconds a page). Off: they are skipped, "
                            "with the reason shown in the library. Applies to files indexed "
                            "from now on; re-index a skipped file after turning it on.")
        box.addWidget(self.ocr)
        return group

    def _spin(self, lo: int, hi: int, value: int, name: str) -> QSpinBox:
        box = QSpinBox()
        box.setRange(lo, hi)
        box.setValue(value)
        box.setAccessibleName(name)
        box.setToolTip(name)
        return box

    def result_settings(self) -> Settings:
        """A copy of the settings with the dialog's values (the caller saves and applies it)."""
        return self._settings.model_copy(update=dict(
            **self.picker.values(),
            n_threads=self.threads.value(),
            n_ctx=self.n_ctx.value(),
            n_gpu_layers=self.gpu_layers.value(),
            temperature=round(self.temperature.value(), 2),
            top_k_sources=self.top_k.value(),
            max_answer_tokens=self.max_tokens.value(),
            ocr=self.ocr.isChecked(),
            **self.server.values(),
        ))
