"""`make build`'s last step: the deployed tree compiled to bytecode used without its source."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
UNCHECKED_HASH = 0b01  # PEP 552 flags: hash-based, source not checked


def test_the_built_layer_runs_from_bytecode_that_never_looks_at_its_source(tmp_path):
    # Given the layer and a function laid out as `sam build` leaves them
    layer = tmp_path / "opt" / "python"
    shutil.copytree(
        ROOT / "layers" / "healthwatch" / "healthwatch",
        layer / "healthwatch",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    shutil.copytree(
        ROOT / "functions" / "run_tier",
        tmp_path / "task",
        ignore=shutil.ignore_patterns("__pycache__"),
    )

    # When the build step compiles it
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "bytecode.py"), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr

    # Then every module has a .pyc for this interpreter that is not checked against its source
    sources = sorted(tmp_path.rglob("*.py"))
    assert len(sources) > 50
    tag = sys.implementation.cache_tag
    for source in sources:
        pyc = source.parent / "__pycache__" / f"{source.stem}.{tag}.pyc"
        flags = int.from_bytes(pyc.read_bytes()[4:8], "little")
        assert flags == UNCHECKED_HASH, pyc
    # and a module whose source changed after the build still runs as built: the source is
    # never read (on Lambda nothing compiled at a cold start could be kept)
    (layer / "healthwatch" / "durations.py").write_text("raise SystemExit('source read')\n")
    env = {**os.environ, "PYTHONPATH": str(layer), "PYTHONDONTWRITEBYTECODE": "1"}
    run = subprocess.run(
        [sys.executable, "-c", "import healthwatch.durations as d; print(d.__file__)"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == str(layer / "healthwatch" / "durations.py")


def test_the_build_step_refuses_what_is_not_a_directory(tmp_path):
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "bytecode.py"), str(tmp_path / "missing")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "not a directory" in proc.stderr
