"""Run a function in a fresh Python interpreter and return its result.

For training whose result must depend on nothing but its inputs. crfsuite shuffles its
training data with the C library's ``rand()``, one generator per process, and ONNX Runtime (which
the sentence encoder loads) draws from it in a background thread: in a process that had loaded
the encoder, the same data and seed gave a different tagger each time. A fresh interpreter
imports only what the function needs, so its draws are its own.

    python -m nlu.fresh_process REQUEST REPLY     # what ``call`` runs: pickles in, pickles out
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import tempfile
import traceback
from pathlib import Path


class FreshProcessError(RuntimeError):
    pass


def call(function, *args):
    """``function(*args)`` in a new interpreter with this one's ``sys.path``.

    ``function`` and ``args`` must pickle (a module-level function or a bound method of a
    picklable object); an exception it raises is raised here.
    """
    with tempfile.TemporaryDirectory(prefix="desk-") as folder:
        request, reply = Path(folder, "request.pickle"), Path(folder, "reply.pickle")
        request.write_bytes(pickle.dumps((function, args), protocol=pickle.HIGHEST_PROTOCOL))
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(path or os.getcwd() for path in sys.path)}
        finished = subprocess.run(
            [sys.executable, "-m", __name__, str(request), str(reply)],
            env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )
        if not reply.exists():
            raise FreshProcessError(
                f"{_name(function)} stopped in its training process (exit code {finished.returncode}):\n"
                + finished.stderr[-4000:]
            )
        failed, value = pickle.loads(reply.read_bytes())
    if failed:
        raise value
    return value


def _name(function) -> str:
    return getattr(function, "__qualname__", repr(function))


def _serve(request: str, reply: str) -> None:
    function, args = pickle.loads(Path(request).read_bytes())
    try:
        outcome = (False, function(*args))
    except Exception as error:  # handed to the caller, which raises it
        outcome = (True, error)
    try:
        payload = pickle.dumps(outcome, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:  # an exception that does not pickle: keep its message
        payload = pickle.dumps((True, FreshProcessError(traceback.format_exc())))
    Path(reply).write_bytes(payload)


if __name__ == "__main__":
    _serve(*sys.argv[1:3])
