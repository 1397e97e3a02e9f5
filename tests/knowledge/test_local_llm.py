"""The optional local model: found from its package without importing it, clear errors without it."""

import importlib
import subprocess
import sys

import pytest

from knowledge import local_llm


@pytest.fixture
def packages(tmp_path, monkeypatch):
    """A site directory on sys.path where a test places package folders."""
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()
    yield tmp_path
    importlib.invalidate_caches()


def test_model_path_finds_the_gguf_file_without_importing_the_package(packages):
    package = packages / local_llm.MODEL_PACKAGE
    package.mkdir()
    (package / "__init__.py").write_text("raise RuntimeError('importing the model package loads llama.cpp')\n")
    (package / local_llm.MODEL_FILE).write_bytes(b"GGUF")
    assert local_llm.model_path() == package / local_llm.MODEL_FILE
    assert local_llm.MODEL_PACKAGE not in sys.modules


def test_server_command_runs_llama_cpp_server_on_loopback(packages):
    (packages / local_llm.MODEL_PACKAGE).mkdir()
    (packages / local_llm.MODEL_PACKAGE / "__init__.py").write_text("")
    (packages / local_llm.MODEL_PACKAGE / local_llm.MODEL_FILE).write_bytes(b"GGUF")
    (packages / "llama_cpp").mkdir()
    (packages / "llama_cpp" / "__init__.py").write_text("")
    command = local_llm.server_command(8123, threads=2)
    assert command[1:3] == ["-m", "llama_cpp.server"]
    assert command[command.index("--model") + 1].endswith(local_llm.MODEL_FILE)
    assert command[command.index("--host") + 1] == "127.0.0.1"
    assert command[command.index("--port") + 1] == "8123"
    assert command[command.index("--n_threads") + 1] == "2"


@pytest.mark.skipif(importlib.util.find_spec("llama_cpp") is not None, reason="the local-llm extra is installed")
def test_without_the_extra_the_command_says_how_to_install_it():
    done = subprocess.run([sys.executable, "-m", "knowledge.local_llm", "--print-command"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "pip install -e '.[local-llm]'" in done.stderr
