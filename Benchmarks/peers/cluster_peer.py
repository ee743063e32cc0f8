#!/usr/bin/env python3
"""Python side of Benchmarks/cluster: the shared inputs, scikit-learn's k-means and sentence-transformers'
community detection, each printing one JSON line (times in seconds, peak RSS in MiB)."""
import argparse
import json
import os
import resource
import time

import numpy as np


def peak_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def real_data(args):
    # Stored chunk vectors of an index (a flat float32 file); the initial centres are k of its rows.
    x = np.fromfile(args.source, dtype="<f4").reshape(-1, 384)
    rng = np.random.default_rng(20261204)
    x.astype("<f4").tofile(os.path.join(args.out, "real.f32"))
    x[rng.choice(len(x), args.k, replace=False)].astype("<f4").tofile(os.path.join(args.out, "real_centres.f32"))


def make_data(args):
    # Clustered unit vectors, like sentence embeddings: 2k topic directions, each row a noisy copy of one, normalised.
    rng = np.random.default_rng(20261204)
    topics = rng.normal(size=(2 * args.k, 384)).astype(np.float32)
    x = topics[rng.integers(0, len(topics), args.rows)] + rng.normal(scale=1.2, size=(args.rows, 384)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    x.astype("<f4").tofile(os.path.join(args.out, "data.f32"))
    x[rng.choice(args.rows, args.k, replace=False)].astype("<f4").tofile(os.path.join(args.out, "data_centres.f32"))


def kmeans(args):
    from sklearn.cluster import KMeans
    x = np.fromfile(os.path.join(args.out, args.prefix + ".f32"), dtype="<f4").reshape(-1, 384)
    centres = np.fromfile(os.path.join(args.out, args.prefix + "_centres.f32"), dtype="<f4").reshape(-1, 384)
    times = {}
    for n in (1, args.iterations + 1):
        start = time.perf_counter()
        model = KMeans(n_clusters=len(centres), init=centres, n_init=1, algorithm="lloyd", max_iter=n, tol=0).fit(x)
        times[n] = (time.perf_counter() - start, model)
    (one, _), (many, model) = times[1], times[args.iterations + 1]
    print(json.dumps({"rows": len(x), "k": len(centres), "iterations": int(model.n_iter_),
                      "seconds_per_iteration": (many - one) / max(1, model.n_iter_ - 1), "seconds_total": many,
                      "inertia": float(model.inertia_), "peak_rss_mib": peak_rss_mib()}, sort_keys=True))


def community(args):
    import torch
    from sentence_transformers import util
    x = torch.from_numpy(np.fromfile(os.path.join(args.out, "community.f32"), dtype="<f4").reshape(-1, 384))
    start = time.perf_counter()
    communities = util.community_detection(x, threshold=args.threshold, min_community_size=10)
    print(json.dumps({"rows": len(x), "seconds": time.perf_counter() - start, "communities": len(communities),
                      "clustered": sum(map(len, communities)), "peak_rss_mib": peak_rss_mib()}, sort_keys=True))


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("task", choices=["data", "real", "kmeans", "community"])
    parser.add_argument("--source", help="real: a flat float32 vector file (an index's vectors.*.f32)")
    parser.add_argument("--prefix", default="data", help="kmeans: data file stem in --out (data or real)")
    parser.add_argument("--rows", type=int, default=100000)
    parser.add_argument("--k", type=int, default=100)
    parser.add_argument("--iterations", type=int, default=20)
    parser.add_argument("--threshold", type=float, default=0.75, help="community: cosine threshold")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    {"data": make_data, "real": real_data, "kmeans": kmeans, "community": community}[args.task](args)
