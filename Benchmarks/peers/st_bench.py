#!/usr/bin/env python3
"""sentence-transformers peers of `sift-bench encode` / `sift-bench rerank` (same inputs, same settings).

    HF_HUB_OFFLINE=1 /work/venv/bin/python Benchmarks/peers/st_bench.py encode --backend torch --output emb.npy
    HF_HUB_OFFLINE=1 /work/venv-peers/bin/python Benchmarks/peers/st_bench.py encode --backend onnx-int8
    HF_HUB_OFFLINE=1 /work/venv-peers/bin/python Benchmarks/peers/st_bench.py rerank --backend openvino --pairs 100
    .../python Benchmarks/peers/st_bench.py check --backend onnx     (exit 3 with the reason if it cannot run)

Backends (sentence-transformers' `backend=`): torch (fp32), onnx (ONNX Runtime fp32), onnx-int8 (ONNX
Runtime, dynamic int8 quantization with the avx512_vnni config; encode only, as in the issue's table),
openvino (OpenVINO, its default inference precision). The onnx/openvino backends need optimum, which the
reference venv cannot hold next to transformers 5 (see Benchmarks/peers/make_venv).

Exported and quantized models go to --cache (default Benchmarks/results/peer-models, git-ignored), keyed by
the source model's path, size and mtime, so only the first run exports. Each run loads the model, encodes one
warm-up batch, then times one pass (wall and process CPU seconds, all threads) and optionally writes the
embeddings [N x dim] or raw logits [N x labels] as float32 .npy and appends a JSON record to --record.
"""
import argparse
import hashlib
import importlib.metadata
import json
import os
import sys
import time
from pathlib import Path

QUESTIONS = [
    "How do I read a file line by line?", "What does the with statement do?", "How can I sort a list of dictionaries by a key?",
    "What is a generator?", "How do I handle exceptions?", "What is the difference between a list and a tuple?",
    "How do I create a virtual environment?", "what is the GIL", "How are reference counts managed in the C API?",
    "How do I format strings with f-strings?",
]
ENCODE_BACKENDS = ["torch", "onnx", "onnx-int8", "openvino"]
RERANK_BACKENDS = ["torch", "onnx", "openvino"]
INT8_CONFIG = "avx512_vnni"
INT8_FILE = f"onnx/model_qint8_{INT8_CONFIG}.onnx"
LABELS = {"torch": "st torch fp32", "onnx": "st onnx fp32", "onnx-int8": "st onnx int8", "openvino": "st openvino"}


def load(path, limit=None):
    texts = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                texts.append(json.loads(line)["text"])
                if limit and len(texts) == limit:
                    break
    return texts


def version(package):
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def check(backend):
    """None if `backend` can run in this interpreter, else the reason."""
    try:
        import sentence_transformers  # noqa: F401
        import torch  # noqa: F401
        if backend in ("onnx", "onnx-int8"):
            import onnxruntime  # noqa: F401
            from optimum.onnxruntime import ORTModelForFeatureExtraction  # noqa: F401
        if backend == "onnx-int8":
            from optimum.onnxruntime import ORTQuantizer  # noqa: F401
            from sentence_transformers.backend import export_dynamic_quantized_onnx_model  # noqa: F401
        if backend == "openvino":
            import openvino  # noqa: F401
            from optimum.intel.openvino import OVModelForFeatureExtraction  # noqa: F401
    except Exception as error:  # ImportError, or a version clash raised while importing optimum
        return f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"
    return None


def cache_dir(cache_root, model_dir, family):
    """Where the exported `family` (onnx or openvino) copy of `model_dir` lives; a new key when the weights change."""
    source = Path(model_dir).resolve()
    weights = source / "model.safetensors"
    stat = weights.stat() if weights.exists() else source.stat()
    key = hashlib.sha1(f"{source}:{stat.st_size}:{stat.st_mtime_ns}".encode()).hexdigest()[:10]
    return Path(cache_root) / f"{source.name}-{key}-{family}"


def ort_session_options(threads):
    import onnxruntime as ort
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    return options


def load_model(kind, backend, model_dir, cache_root, threads, max_length):
    """(model, notes): the model ready to run, and how it was set up (threads, precision, file)."""
    import torch
    from sentence_transformers import CrossEncoder, SentenceTransformer

    torch.set_num_threads(threads)
    cls = SentenceTransformer if kind == "encode" else CrossEncoder
    extra = {"device": "cpu"}
    if kind == "rerank":
        # Raw logits (ST's default for one label is a sigmoid), so they compare with Sift's.
        extra.update(max_length=max_length, activation_fn=torch.nn.Identity())
    if backend == "torch":
        return cls(model_dir, **extra), {"threads": f"torch {torch.get_num_threads()}"}

    family = "openvino" if backend == "openvino" else "onnx"
    target = cache_dir(cache_root, model_dir, family)
    exported = target / ("openvino/openvino_model.xml" if family == "openvino" else "onnx/model.onnx")
    if not exported.exists():
        print(f"exporting {model_dir} to {family} in {target} (once)", file=sys.stderr)
        cls(model_dir, backend=family, **extra).save(str(target))
    if backend == "onnx-int8" and not (target / INT8_FILE).exists():
        from sentence_transformers.backend import export_dynamic_quantized_onnx_model
        print(f"quantizing {target} (dynamic int8, {INT8_CONFIG}, once)", file=sys.stderr)
        fp32 = cls(str(target), backend="onnx", **extra)
        export_dynamic_quantized_onnx_model(fp32, INT8_CONFIG, str(target))

    if family == "onnx":
        file_name = INT8_FILE if backend == "onnx-int8" else "onnx/model.onnx"
        kwargs = {"file_name": file_name, "provider": "CPUExecutionProvider", "session_options": ort_session_options(threads)}
        model = cls(str(target), backend="onnx", model_kwargs=kwargs, **extra)
        return model, {"threads": f"ORT intra-op {threads}, inter-op 1", "file": file_name}

    # OpenVINO: default precision and threading (its CPU plugin picks both); report what it chose.
    model = cls(str(target), backend="openvino", **extra)
    notes = {"threads": "OpenVINO default"}
    try:
        compiled = model.transformers_model.request
        if compiled is None:
            model.transformers_model.compile()
            compiled = model.transformers_model.request
        notes["threads"] = f"OpenVINO default = {compiled.get_property('INFERENCE_NUM_THREADS')}"
        precision = compiled.get_property("INFERENCE_PRECISION_HINT")  # an openvino Type, e.g. bf16 on AVX512-BF16 CPUs
        notes["precision"] = precision.get_type_name() if hasattr(precision, "get_type_name") else str(precision)
        notes["hint"] = str(compiled.get_property("PERFORMANCE_HINT"))
    except Exception as error:  # property names differ across OpenVINO versions: report, don't fail
        notes["properties"] = f"unavailable ({type(error).__name__})"
    return model, notes


def timed(function):
    start, cpu = time.perf_counter(), time.process_time()
    result = function()
    return result, time.perf_counter() - start, time.process_time() - cpu


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("what", choices=["encode", "rerank", "check"])
    p.add_argument("--backend", default="torch", choices=ENCODE_BACKENDS)
    p.add_argument("--model")
    p.add_argument("--passages", default="Benchmarks/results/passages.jsonl")
    p.add_argument("--max-seq-length", type=int, default=256)
    p.add_argument("--max-length", type=int, default=512)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--pairs", type=int, default=100)
    p.add_argument("--limit", type=int)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--cache", default="Benchmarks/results/peer-models", help="exported/quantized models (git-ignored)")
    p.add_argument("--output", help="write embeddings [N x dim] or logits [N x labels] as float32 .npy")
    p.add_argument("--record", help="append one JSON line with the measurement to this file")
    p.add_argument("--round", type=int, default=1, help="round number stored in the record (Benchmarks/run ROUNDS)")
    a = p.parse_args()

    if a.what == "check":
        reason = check(a.backend)
        if reason:
            print(reason)
            sys.exit(3)
        return
    if a.what == "rerank" and a.backend not in RERANK_BACKENDS:
        p.error(f"rerank backends: {', '.join(RERANK_BACKENDS)}")
    reason = check(a.backend)
    if reason:
        sys.exit(f"st_bench: backend {a.backend} cannot run in {sys.executable}: {reason}")

    import numpy as np

    label = LABELS[a.backend]
    model_dir = a.model or ("Models/all-MiniLM-L6-v2" if a.what == "encode" else "Tests/Fixtures/generated/random-cross-encoder")
    load_start = time.perf_counter()
    model, notes = load_model(a.what, a.backend, model_dir, a.cache, a.threads, a.max_length)
    load_seconds = time.perf_counter() - load_start
    if a.what == "encode":
        model.max_seq_length = a.max_seq_length
        texts = load(a.passages, a.limit)
        model.encode(texts[: a.batch_size], batch_size=a.batch_size)  # warm-up
        out, seconds, cpu = timed(lambda: model.encode(texts, batch_size=a.batch_size, convert_to_numpy=True))
        count = len(texts)
        print(f"{label} encode: {count} passages in {seconds:.2f} s = {count / seconds:.1f} passages/s, "
              f"batch {a.batch_size}, cpu {cpu:.2f} s")
    else:
        texts = load(a.passages, a.pairs)
        pairs = [(QUESTIONS[i % len(QUESTIONS)], texts[i % len(texts)]) for i in range(a.pairs)]
        model.predict(pairs[: a.batch_size], batch_size=a.batch_size)  # warm-up
        out, seconds, cpu = timed(lambda: model.predict(pairs, batch_size=a.batch_size, convert_to_numpy=True))
        count = len(pairs)
        print(f"{label} rerank: {count} pairs in {seconds:.2f} s = {seconds * 1000 * 100 / count:.0f} ms per 100 pairs, "
              f"batch {a.batch_size}, cpu {cpu:.2f} s")
    print(f"{label} setup: load {load_seconds:.2f} s, " + ", ".join(f"{k} {v}" for k, v in notes.items()))

    if a.output:
        array = np.asarray(out, dtype=np.float32)
        np.save(a.output, array.reshape(len(array), -1))
    if a.record:
        versions = {name: version(name) for name in
                    ["sentence-transformers", "transformers", "torch", "onnxruntime", "openvino", "optimum", "optimum-onnx", "optimum-intel"]}
        record = {"path": label, "task": a.what, "round": a.round, "count": count, "seconds": seconds, "cpu": cpu, "output": a.output,
                  "notes": notes, "versions": {k: v for k, v in versions.items() if v}, "python": sys.executable}
        with open(a.record, "a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")


if __name__ == "__main__":
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    main()
