"""Clients generated from the committed openapi.yaml by the real generators, never committed."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "openapi.yaml"
PYTHON_PACKAGE = "knotlog_client"
TYPESCRIPT = ROOT / "clients" / "typescript"


def tool_env() -> dict[str, str]:
    """This environment with the venv's scripts on PATH (the generator runs ruff)."""
    bin_dir = Path(sys.executable).parent
    return {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}


def generate_python_client(folder: Path) -> Path:
    """Generate `knotlog_client` into folder; returns the folder to put on sys.path."""
    out = folder / PYTHON_PACKAGE
    subprocess.run(
        [
            str(Path(sys.executable).parent / "openapi-python-client"),
            "generate",
            "--path",
            str(SPEC),
            "--output-path",
            str(out),
            "--meta",
            "none",
        ],
        check=True,
        env=tool_env(),
        capture_output=True,
    )
    return folder


def npm(*args: str) -> subprocess.CompletedProcess[str]:
    """npm in clients/typescript; fails with npm's own output."""
    npm_bin = shutil.which("npm")
    assert npm_bin, "Node.js and npm are needed for the TypeScript client (Debian: nodejs, npm)"
    done = subprocess.run(
        [npm_bin, *args], cwd=TYPESCRIPT, env=tool_env(), capture_output=True, text=True
    )
    assert done.returncode == 0, f"npm {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return done
