"""``pip install .`` alone gives a working server (issue 13, item 12): the project installed from
pyproject.toml into a fresh virtualenv (no requirements file) migrates, serves and answers; and
every module taskforce imports comes from a dependency pyproject.toml names."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
import time
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]


def _normalized(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def _declared() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = set()
    for requirement in project["dependencies"]:
        name = requirement.split(";")[0]
        for stop in "[<>=!~ ":
            name = name.split(stop)[0]
        names.add(_normalized(name))
    return names


def _imported_top_level_modules() -> set[str]:
    modules = set()
    for path in (ROOT / "taskforce").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                modules.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules.add(node.module.split(".")[0])
    return modules - set(sys.stdlib_module_names) - {"taskforce", "__future__"}


def test_every_import_is_a_declared_dependency():
    declared = _declared()
    providers = packages_distributions()
    missing = {}
    for module in sorted(_imported_top_level_modules()):
        dists = {_normalized(d) for d in providers.get(module, [])}
        assert dists, f"{module} is imported but not installed at all"
        if not dists & declared:
            missing[module] = sorted(dists)
    assert not missing, f"imported but not in pyproject.toml dependencies: {missing}"


@pytest.mark.slow
def test_pip_install_dot_into_a_fresh_venv_serves(tmp_path):
    source = tmp_path / "src"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        ".venv", ".git", "node_modules", "tests", "bench", "var", "build", "*.egg-info", "__pycache__"))
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = subprocess.run([str(venv / "bin" / "pip"), "install", "--quiet", str(source)],
                         capture_output=True, text=True, timeout=900)
    assert pip.returncode == 0, pip.stderr[-3000:]

    env = {**os.environ, "TASKFORCE_DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite'}",
           "TASKFORCE_SECRET_KEY": "packaging-test", "PYTHONPATH": ""}
    env.pop("VIRTUAL_ENV", None)
    taskforce = str(venv / "bin" / "taskforce")
    migrated = subprocess.run([taskforce, "migrate"], env=env, cwd=tmp_path, capture_output=True,
                              text=True, timeout=120)
    assert migrated.returncode == 0, migrated.stderr[-3000:]
    port = free_port()
    server = subprocess.Popen([taskforce, "serve", "--host", "127.0.0.1", "--port", str(port)],
                              env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, server.stdout.read().decode()[-3000:]
            try:
                page = httpx.get(f"{url}/login", timeout=5)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the installed server never answered"
                time.sleep(0.2)
        assert page.status_code == 200 and "<form" in page.text
        api = httpx.get(f"{url}/v1/tasks", auth=("live_" + "0" * 40, ""), timeout=5)
        assert api.status_code == 401 and api.json()["status_code"] == 401
        docs = httpx.get(f"{url}/docs", timeout=5)
        assert docs.status_code == 200
        asset = httpx.get(f"{url}/docs/static/swagger-ui-bundle.js", timeout=5)
        assert asset.status_code == 200 and len(asset.content) > 100_000
    finally:
        server.terminate()
        server.wait(timeout=30)
