"""The model part of Settings: every local model with size, quantization, parameters and a fit
verdict; which models are enabled for routing; which one answers (or is pinned); LoRA adapters.

Maps onto `rag.base.settings.Settings`: ticked rows -> `enabled_models` (two or more = routing by
difficulty), the "Answer with" choice -> `model` (with routing: a pin, "" = automatic), the
adapter field -> `lora_adapters[name]`. The list is built off the GUI thread
(`Backend.list_models`); until it arrives the dialog still works with the current values.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.gui.model_catalog import ModelRow, human_params, human_size, known_rows
from app.gui.ops import Operation

BUNDLED_LABEL = "Default (Qwen 1.5B writes, 0.5B checks; 0.5B alone if the 1.5B is missing or slow)"
BUNDLED_NAME = "SmolLM2-135M-Instruct"  # inference.bundled.BUNDLED_NAME (not imported: light)
AUTOMATIC_LABEL = "Automatic (route by difficulty)"
COLUMNS = ["Model", "Source", "Size", "Quant", "Params", "Fit"]
SEARCHING = "Looking for more models on this computer (GPT4All, LM Studio, Ollama, Hugging Face)…"
TICK_HINT = ("Tick two or more models to let Hearth choose per question; the answer then says "
             "which model answered and why.")


class ModelPicker(QWidget):
    def __init__(self, backend, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.backend = backend
        s = backend.settings
        self._initial_model = s.model
        self._enabled: list[str] = list(s.enabled_models)
        self._lora: dict[str, str] = dict(s.lora_adapters)
        self._rows: list[ModelRow] = []
        self._found: set[str] = set()  # names the running search has reported
        self.search_done = False
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)

        self.tree = QTreeWidget()
        self.tree.setColumnCount(len(COLUMNS))
        self.tree.setHeaderLabels(COLUMNS)
        self.tree.setRootIsDecorated(False)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.tree.setAccessibleName("Models on this computer (tick two or more to route)")
        self.tree.setMinimumHeight(130)
        header = self.tree.header()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for col in range(1, len(COLUMNS)):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        self.tree.itemChanged.connect(self._on_item_changed)
        self.tree.currentItemChanged.connect(lambda *_a: self._show_selected())
        layout.addWidget(self.tree)
        self.hint = QLabel("Looking for models on this computer…")
        self.hint.setWordWrap(True)
        self.hint.setEnabled(False)
        layout.addWidget(self.hint)

        form = QFormLayout()
        self.model = QComboBox()
        # Long model names are elided in the closed box instead of widening the dialog.
        self.model.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.model.setMinimumContentsLength(24)
        self.model.setAccessibleName("Chat model")
        self.model.view().setAccessibleName("Chat model choices")
        self.model.setToolTip("With two or more ticked models, Automatic sends easy questions to "
                              "the smallest and hard ones to the largest; or pin one.")
        answer_label = QLabel("&Answer with:")
        answer_label.setBuddy(self.model)
        self.add_button = QPushButton("Add model…")
        self.add_button.setAccessibleName("Add a GGUF model file")
        self.add_button.setToolTip("Copy a .gguf file into Hearth's models folder (you can "
                                   "also drop it onto the window)")
        self.add_button.clicked.connect(lambda: self.add_model_file())
        row = QHBoxLayout()
        row.addWidget(self.model, 1)
        row.addWidget(self.add_button)
        form.addRow(answer_label, row)

        self.lora = QLineEdit()
        self.lora.setAccessibleName("LoRA adapter for the selected model")
        self.lora.setPlaceholderText("none (optional .gguf LoRA adapter)")
        self.lora.textEdited.connect(self._on_lora_edited)
        self.lora_button = QPushButton("Choose…")
        self.lora_button.setAccessibleName("Choose a LoRA adapter file")
        self.lora_button.clicked.connect(self._browse_lora)
        self.lora_label = QLabel("&LoRA adapter:")
        self.lora_label.setBuddy(self.lora)
        lora_row = QHBoxLayout()
        lora_row.addWidget(self.lora, 1)
        lora_row.addWidget(self.lora_button)
        form.addRow(self.lora_label, lora_row)
        layout.addLayout(form)
        self.details = QLabel()
        self.details.setWordWrap(True)
        self.details.setAccessibleName("Selected model details")
        layout.addWidget(self.details)

        self._rebuild_choice(self._initial_model)
        self._show_selected()
        try:  # Hearth's own models at once; the search of other tools' folders takes longer
            self.set_rows(known_rows(backend.data_dir))
        except Exception as exc:  # noqa: BLE001 - the full list below still comes
            self.hint.setText(f"Looking for models on this computer… ({exc})")
        else:
            self.hint.setText(SEARCHING)
        self.models_op: Operation = backend.list_models()
        self.models_op.event.connect(self.add_row)  # each model as it is found
        self.models_op.succeeded.connect(self._discovery_done)
        self.models_op.failed.connect(self._discovery_failed)
        self.destroyed.connect(self.models_op.cancel)  # dialog closed: stop searching

    # -- the list --------------------------------------------------------------------------
    def set_rows(self, rows: list[ModelRow], select: str | None = None) -> None:
        keep = self.current_value()
        self._rows = list(rows)
        self.tree.blockSignals(True)
        self.tree.clear()
        for r in self._rows:
            item = QTreeWidgetItem()
            item.setData(0, Qt.ItemDataRole.UserRole, r.name)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            on = any(r.matches(v) for v in self._enabled)
            item.setCheckState(0, Qt.CheckState.Checked if on else Qt.CheckState.Unchecked)
            self._fill(item, r)
            self.tree.addTopLevelItem(item)
            if r.name == select or (select is None and r.matches(keep or "")):
                self.tree.setCurrentItem(item)
        self.tree.blockSignals(False)
        # Settings written by hand may name a model by path: keep one spelling (the name).
        self._enabled = [next((r.name for r in self._rows if r.matches(v)), v)
                         for v in self._enabled]
        self.hint.setText(TICK_HINT)
        self._rebuild_choice(select or keep)
        self._show_selected()

    def add_row(self, row: ModelRow) -> None:
        """One model found by the search still running: listed (or its row completed) at once,
        without disturbing ticks, the selection or the "Answer with" choice."""
        if not isinstance(row, ModelRow):
            return
        self._found.add(row.name)
        at = next((i for i, r in enumerate(self._rows) if r.name == row.name), None)
        item = self._item(row.name)
        if at is None or item is None:
            self._rows.append(row)
            item = QTreeWidgetItem()
            item.setData(0, Qt.ItemDataRole.UserRole, row.name)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            self.tree.blockSignals(True)
            on = any(row.matches(v) for v in self._enabled)
            item.setCheckState(0, Qt.CheckState.Checked if on else Qt.CheckState.Unchecked)
            self.tree.addTopLevelItem(item)
            self.tree.blockSignals(False)
        else:
            self._rows[at] = row
        self.tree.blockSignals(True)
        self._fill(item, row)
        self.tree.blockSignals(False)
        n = len(self._found)
        self.hint.setText(f"{SEARCHING} {n} found so far.")
        self._rebuild_choice(self.current_value())
        if self.selected_name() == row.name:
            self._show_selected()

    def _discovery_done(self, rows: list[ModelRow]) -> None:
        self.set_rows(rows)
        n = len(rows)
        self.hint.setText(f"Found {n} model{'s' if n != 1 else ''} on this computer. {TICK_HINT}")
        self.search_done = True

    def _discovery_failed(self, message: str) -> None:
        self.hint.setText(f"Could not list models: {message}")
        self.search_done = True

    @staticmethod
    def _fill(item: QTreeWidgetItem, r: ModelRow) -> None:
        fit = r.fit or ("unreadable" if r.error else "?")
        for col, text in enumerate([r.name, r.source, human_size(r.size), r.quantization or "?",
                                    human_params(r.parameters), fit]):
            item.setText(col, text)
        item.setToolTip(0, r.path)
        item.setToolTip(5, r.fit_reason or r.error)

    def rows(self) -> list[ModelRow]:
        return list(self._rows)

    def _item(self, name: str) -> QTreeWidgetItem | None:
        for i in range(self.tree.topLevelItemCount()):
            item = self.tree.topLevelItem(i)
            if item.data(0, Qt.ItemDataRole.UserRole) == name:
                return item
        return None

    def set_enabled_models(self, names: list[str]) -> None:
        """Tick exactly these models (same as clicking their check boxes)."""
        for i in range(self.tree.topLevelItemCount()):
            item = self.tree.topLevelItem(i)
            on = item.data(0, Qt.ItemDataRole.UserRole) in names
            item.setCheckState(0, Qt.CheckState.Checked if on else Qt.CheckState.Unchecked)

    def _on_item_changed(self, item: QTreeWidgetItem, column: int) -> None:
        if column != 0:
            return
        name = item.data(0, Qt.ItemDataRole.UserRole)
        checked = item.checkState(0) == Qt.CheckState.Checked
        was_routing = self.routing
        if checked and name not in self._enabled:
            self._enabled.append(name)
        elif not checked and name in self._enabled:
            self._enabled.remove(name)
        # Turning routing on starts from "automatic" (a pin would defeat it).
        self._rebuild_choice("" if self.routing and not was_routing else self.current_value())

    # -- "Answer with" ---------------------------------------------------------------------
    @property
    def routing(self) -> bool:
        return len(self._enabled) >= 2

    def _rebuild_choice(self, keep: str | None) -> None:
        self.model.blockSignals(True)
        self.model.clear()
        if self.routing:
            self.model.addItem(AUTOMATIC_LABEL, "")
            for name in self._enabled:
                self.model.addItem(f"Always {name} (pinned)", name)
        else:
            self.model.addItem(BUNDLED_LABEL, "")
            for r in self._rows:
                if r.source != "bundled" or r.name != BUNDLED_NAME:
                    self.model.addItem(f"{r.name} ({r.fit})" if r.fit else r.name, r.name)
            if self._initial_model and self.model.findData(self._initial_model) < 0 and \
                    not any(r.matches(self._initial_model) for r in self._rows):
                self.model.addItem(Path(self._initial_model).name, self._initial_model)
        if keep and not self.routing:
            keep = next((r.name for r in self._rows if r.matches(keep)), keep)
            keep = "" if keep == BUNDLED_NAME else keep
        self.model.setCurrentIndex(max(0, self.model.findData(keep or "")))
        self.model.blockSignals(False)

    def current_value(self) -> str:
        return str(self.model.currentData() or "")

    def set_current(self, value: str) -> None:
        self.model.setCurrentIndex(max(0, self.model.findData(value)))

    # -- details and LoRA ------------------------------------------------------------------
    def selected_name(self) -> str | None:
        item = self.tree.currentItem()
        return item.data(0, Qt.ItemDataRole.UserRole) if item is not None else None

    def _show_selected(self) -> None:
        name = self.selected_name()
        row = next((r for r in self._rows if r.name == name), None)
        self.lora.setEnabled(name is not None)
        self.lora_button.setEnabled(name is not None)
        self.lora.setText(self._lora.get(name, "") if name else "")
        # The model's name goes in the field, not the label: a long name (LM Studio's are
        # publisher/repo/file) would widen the whole form.
        self.lora.setPlaceholderText(f"none for {name} (optional .gguf LoRA adapter)" if name
                                     else "none (optional .gguf LoRA adapter)")
        self.lora.setToolTip(f"LoRA adapter for {name}" if name else "")
        if row is None:
            self.details.setText("Select a model to see its details and set a LoRA adapter.")
            return
        parts = [row.architecture or "?", f"{human_params(row.parameters)} parameters",
                 row.quantization or "?", human_size(row.size)]
        text = " · ".join(parts)
        if row.fit:
            text += f"<br><b>{row.fit}</b>: {row.fit_reason}"
        if row.error:
            text += f"<br>⚠ {row.error}"
        self.details.setText(text)

    def _on_lora_edited(self, text: str) -> None:
        self.set_lora(self.selected_name(), text)

    def set_lora(self, name: str | None, path: str) -> None:
        if not name:
            return
        if path.strip():
            self._lora[name] = path.strip()
        else:
            self._lora.pop(name, None)
        if name == self.selected_name() and self.lora.text() != path:
            self.lora.setText(path)

    def _browse_lora(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Choose a LoRA adapter", "",
                                              "GGUF LoRA adapters (*.gguf)")
        if path:
            self.set_lora(self.selected_name(), path)

    # -- adding a model --------------------------------------------------------------------
    def add_model_file(self, path: str | None = None) -> Operation | None:
        """Copy a .gguf into Hearth's models folder, then list it (selected)."""
        if path is None:
            path, _ = QFileDialog.getOpenFileName(self, "Add a model", "", "GGUF models (*.gguf)")
        if not path:
            return None
        self.hint.setText(f"Adding {Path(path).name}…")
        op = self.backend.add_model(path)
        op.succeeded.connect(self._after_add)
        op.failed.connect(lambda msg: self.hint.setText(f"Could not add the model: {msg}"))
        return op

    def _after_add(self, entry) -> None:
        self.models_op = self.backend.list_models()
        self.models_op.succeeded.connect(lambda rows: self.set_rows(rows, select=entry.name))

    # -- result ----------------------------------------------------------------------------
    def values(self) -> dict:
        """The settings fields this picker owns."""
        return {"model": self.current_value(), "enabled_models": list(self._enabled),
                "lora_adapters": dict(self._lora)}
