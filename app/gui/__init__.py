"""Hearth's PySide6 desktop app. The only package (with app.cli) that imports Qt."""
