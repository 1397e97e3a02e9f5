"""The reference assistant served for the red-team pack: a copy of the repository-root project
(its newest trained models, a help centre with one poisoned document), `desk run` on loopback
with its rasa-sdk action server, on a freshly migrated and seeded back office."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "dialogue"))

from test_http_api import free_port
from test_server import desk, environment, use_action_port

from dialogue.scratch_backoffice import ScratchBackoffice

TOKEN = "a-token-for-the-red-team-pack"
PROJECT_FILES = ("domain.yml", "config.yml", "endpoints.yml", "policy.yml", "credentials.yml")
POISON = Path(__file__).parent / "poisoned_document.md"


@dataclass
class ServedAssistant:
    url: str
    project: Path
    backoffice: ScratchBackoffice
    token: str = TOKEN

    def backoffice_db(self) -> sqlite3.Connection:
        return sqlite3.connect(self.backoffice.url.removeprefix("sqlite:///"))

    def tracker_db(self) -> sqlite3.Connection:
        return sqlite3.connect(self.project / "desk.db")


def copy_project(target: Path) -> Path:
    """The reference assistant with lifted rate limits (the pack sends hundreds of messages from
    one address within a minute); every other guardrail is as shipped."""
    for name in PROJECT_FILES:
        shutil.copy(ROOT / name, target / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.db*")
    shutil.copytree(ROOT / "data", target / "data", ignore=ignore)
    shutil.copytree(ROOT / "actions", target / "actions", ignore=ignore)
    (target / "models").mkdir()
    for pattern in ("nlu-*.tar.gz", "guard-*.tar.gz"):
        newest = sorted((ROOT / "models").glob(pattern))[-1:]
        for model in newest:
            shutil.copy(model, target / "models" / model.name)
    if (ROOT / "models" / "knowledge").is_dir():  # its embedding cache spares re-embedding
        shutil.copytree(ROOT / "models" / "knowledge", target / "models" / "knowledge")
    config = yaml.safe_load((target / "config.yml").read_text())
    config["guardrails"]["rate_limit"].update(per_sender=10_000, per_address=10_000)
    (target / "config.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    return target


def index_poisoned_help_centre(project: Path) -> None:
    from knowledge.index import build_index

    shutil.copy(POISON, project / "data" / "knowledge" / POISON.name)
    build_index(project / "data" / "knowledge", project / "models" / "knowledge", progress=False)


def wait_until_serving(process: subprocess.Popen, url: str, seconds: float, log: Path) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline and process.poll() is None:
        try:
            if httpx.get(f"{url}/health").status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.2)
    process.kill()
    process.wait(30)
    pytest.fail(log.read_text(errors="replace")[-6000:])


@pytest.fixture(scope="session")
def assistant(tmp_path_factory):
    project = copy_project(tmp_path_factory.mktemp("redteam-project"))
    use_action_port(project, free_port())
    index_poisoned_help_centre(project)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = project / "desk-run.log"  # a file, not a pipe: hundreds of turns of log lines never block the server
    with ScratchBackoffice(project) as backoffice, log.open("w") as output:
        process = subprocess.Popen(
            desk("run", "--project", str(project), "--port", str(port)),
            env=environment(DESK_AUTH_TOKEN=TOKEN, DESK_BACKOFFICE_URL=backoffice.url, HF_HUB_OFFLINE="1"),
            stdout=output, stderr=subprocess.STDOUT, text=True,
        )
        try:
            wait_until_serving(process, url, 300, log)
            yield ServedAssistant(url, project, backoffice)
        finally:
            process.terminate()
            process.wait(30)
