#!/usr/bin/env python3
"""Parity of one path's outputs against the torch fp32 reference (both float32 .npy, same inputs, same order).

    /work/venv/bin/python Benchmarks/peers/compare.py REF.npy OTHER.npy

Embeddings [N x dim]: min and mean cosine similarity over rows. Scores / logits [N] or [N x labels]: max
|OTHER - REF| and REF's range (min..max), so the reader sees the difference against the logits' scale.
The kind is inferred from the shape: more than one column means embeddings.
"""
import sys

import numpy as np


def load_pair(ref_path, other_path):
    ref, other = np.load(ref_path).astype(np.float64), np.load(other_path).astype(np.float64)
    if ref.ndim == 1:
        ref = ref[:, None]
    if other.ndim == 1:
        other = other[:, None]
    if ref.shape != other.shape:
        raise ValueError(f"{other_path} has shape {other.shape}, the reference {ref_path} has {ref.shape}")
    return ref, other


def embedding_parity(ref, other):
    """min/mean cosine over rows of two [N x dim] matrices."""
    norms = np.linalg.norm(ref, axis=1) * np.linalg.norm(other, axis=1)
    cosine = (ref * other).sum(axis=1) / np.maximum(norms, 1e-30)
    return {"kind": "embeddings", "n": len(ref), "min_cos": float(cosine.min()), "mean_cos": float(cosine.mean())}


def score_parity(ref, other):
    """max |difference| of two [N x labels] score arrays, and the reference's range."""
    return {"kind": "scores", "n": len(ref), "max_abs": float(np.abs(other - ref).max()),
            "ref_min": float(ref.min()), "ref_max": float(ref.max())}


def parity(ref_path, other_path):
    ref, other = load_pair(ref_path, other_path)
    return embedding_parity(ref, other) if ref.shape[1] > 1 else score_parity(ref, other)


def describe(result):
    """One short line, no '|' (it goes into Markdown tables): 'min cos 0.999980 (mean 0.999990)' or
    'max abs Δlogit 0.041 (logits -2.10..3.40)'."""
    if result["kind"] == "embeddings":
        return f"min cos {result['min_cos']:.6f} (mean {result['mean_cos']:.6f})"
    return f"max abs Δlogit {result['max_abs']:.2g} (logits {result['ref_min']:.2f}..{result['ref_max']:.2f})"


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    result = parity(sys.argv[1], sys.argv[2])
    print(f"{describe(result)}, {result['n']} rows")


if __name__ == "__main__":
    main()
