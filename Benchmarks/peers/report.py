#!/usr/bin/env python3
"""The table of one Benchmarks/run: reads RUN_DIR/meta.json and RUN_DIR/records.jsonl (one JSON line per
measurement or skip, written by Benchmarks/run and st_bench.py --record), prints the table, writes it as
Markdown to OUT_MD and, with --update-doc FILE, replaces the block between the bench markers in FILE.

    /work/venv/bin/python Benchmarks/peers/report.py RUN_DIR OUT_MD [--update-doc BENCHMARKS.md]

Parity is against the torch fp32 path's outputs (compare.py). Ratios are printed, never asserted.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare import describe, parity  # noqa: E402

BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"
REFERENCE = "st torch fp32"


def read_records(run_dir):
    records = []
    with open(os.path.join(run_dir, "records.jsonl"), encoding="utf-8") as f:
        for line in f:
            if line.strip():
                records.append(json.loads(line))
    return records


def cpu_model():
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return "unknown CPU"
    fields = dict(line.split(":", 1) for line in out.splitlines() if ":" in line)
    get = lambda key: fields.get(key, "?").strip()  # noqa: E731
    # The vector features that decide Sift's kernel tier (the same model name covers Zen 3 and Zen 4 VMs here).
    wanted = ["avx2", "fma", "avx_vnni", "avx512f", "avx512bw", "avx512dq", "avx512vl", "avx512_bf16", "avx512_vnni"]
    flags = [f for f in wanted if f in get("Flags").split()]
    return (f"{get('Model name')} (family {get('CPU family')}, model {get('Model')}), {get('CPU(s)')} CPUs "
            f"({get('Socket(s)')} socket × {get('Core(s) per socket')} cores × {get('Thread(s) per core')} thread); "
            f"flags: {' '.join(flags) or 'none of ' + ' '.join(wanted)}")


def spread(values, fmt):
    """One value as is; several (rounds) as "median (min–max)"."""
    if len(values) == 1:
        return fmt.format(values[0])
    return f"{fmt.format(statistics.median(values))} ({fmt.format(min(values))}–{fmt.format(max(values))})"


def per_round_ratios(records, references, measure, invert=False):
    """Ratio of each round's measure to the same round's reference (reference ÷ value when invert)."""
    out = []
    for rnd, record in records.items():
        ref = references.get(rnd)
        if ref:
            value, base = measure(record), measure(ref)
            if value and base:
                out.append(base / value if invert else value / base)
    return out


def cell_ratio(ratios):
    return spread(ratios, "{:.2f}") + "×" if ratios else "–"


def table(records):
    """(header, rows, skipped lines, parity failures) from the measurement records. With several rounds
    (Benchmarks/run ROUNDS) every cell is the median over rounds with the min–max range, and each ratio is the
    median of per-round ratios against torch from the same round."""
    measured = [r for r in records if "skipped" not in r]
    order = list(dict.fromkeys(r["path"] for r in records))
    by = {}
    for r in measured:
        by.setdefault((r["path"], r["task"]), {})[r.get("round", 1)] = r
    ref_e, ref_r = by.get((REFERENCE, "encode"), {}), by.get((REFERENCE, "rerank"), {})
    rate = lambda r: r["count"] / r["seconds"]  # noqa: E731
    ms = lambda r: r["seconds"] * 1000 * 100 / r["count"]  # noqa: E731
    cpu = lambda r: r["cpu"]  # noqa: E731
    header = ["path", "encode passages/s", "× torch", "CPU s", "× torch (CPU)",
              "rerank ms/100 pairs", "× torch time", "CPU s", "× torch time (CPU)", "parity vs torch fp32"]
    rows, problems = [], []
    first = lambda rounds: rounds[min(rounds)] if rounds else None  # noqa: E731
    for path in order:
        e, r = by.get((path, "encode"), {}), by.get((path, "rerank"), {})
        if not e and not r:
            continue
        row = [path]
        if e:
            row += [spread([rate(x) for x in e.values()], "{:.1f}"), cell_ratio(per_round_ratios(e, ref_e, rate)),
                    spread([cpu(x) for x in e.values()], "{:.2f}"), cell_ratio(per_round_ratios(e, ref_e, cpu, invert=True))]
        else:
            row += ["–"] * 4
        if r:
            row += [spread([ms(x) for x in r.values()], "{:,.0f}"), cell_ratio(per_round_ratios(r, ref_r, ms)),
                    spread([cpu(x) for x in r.values()], "{:.2f}"), cell_ratio(per_round_ratios(r, ref_r, cpu))]
        else:
            row += ["–"] * 4
        notes = []
        for record, ref in ((first(e), first(ref_e)), (first(r), first(ref_r))):
            if not record:
                continue
            if path == REFERENCE:
                notes.append("reference")
            elif not ref or not record.get("output") or not ref.get("output"):
                notes.append("n/a (no torch output)")
            else:
                try:
                    notes.append(describe(parity(ref["output"], record["output"])))
                except (OSError, ValueError) as error:
                    notes.append("n/a")
                    problems.append(f"{path} {record['task']}: {error}")
        row.append("; ".join(dict.fromkeys(notes)))
        rows.append(row)
    skipped = list(dict.fromkeys(f"{r['path']} ({r['task']}): {r['skipped']}" for r in records if "skipped" in r))
    return header, rows, skipped, problems


def markdown(header, rows):
    widths = [max(len(str(x)) for x in column) for column in zip(header, *rows)]
    line = lambda cells: "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths)) + " |"  # noqa: E731
    return "\n".join([line(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|"] + [line(r) for r in rows])


def context_lines(meta, records):
    measured = [r for r in records if "skipped" not in r]
    tasks = {r["task"] for r in measured}
    inputs = ([f"encode {meta['passages']} passages, max_seq_length 256, batch 32"] if "encode" in tasks else []) + \
             ([f"rerank {meta['pairs']} pairs ({meta.get('cross_encoder', 'random weights')}), max_length 512, batch 32"]
              if "rerank" in tasks else [])
    rounds = max((r.get("round", 1) for r in measured), default=1)
    if rounds > 1:
        inputs.append(f"{rounds} interleaved rounds: median (min–max), ratios are medians of same-round ratios")
    lines = [f"Run {meta['date']} by `Benchmarks/run` ({'; '.join(inputs) or 'nothing measured'}).",
             f"Machine: {cpu_model()}; load average at start {meta['load']} (shared machine: compare the CPU-second columns).",
             f"Sift {meta['sift']} (release build)."]
    envs = {}
    for r in measured:
        if "versions" in r:
            envs.setdefault(r["python"], (r["versions"], []))[1].append(f"{r['path']} {r['task']}")
    for python, (versions, uses) in envs.items():
        paths = ", ".join(dict.fromkeys(u.rsplit(" ", 1)[0] for u in uses))
        lines.append(f"Peers {paths} (`{python}`): " + ", ".join(f"{k} {v}" for k, v in versions.items()) + ".")
    threads = {}
    for r in measured:
        if r.get("notes"):
            threads.setdefault(r["path"], ", ".join(f"{k} {v}" for k, v in r["notes"].items()))
    if threads:
        lines.append("Threads/precision: " + "; ".join(f"{p}: {t}" for p, t in threads.items()) + ".")
    return lines


def update_doc(path, block):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    if BEGIN in text and END in text and text.index(BEGIN) < text.index(END):
        head, rest = text.split(BEGIN, 1)
        tail = rest.split(END, 1)[1]
    else:
        anchor = "\n## Results\n"
        if anchor not in text:
            sys.exit(f"report: {path} has neither the {BEGIN} markers nor a '## Results' section to put them in")
        head, tail = text.split(anchor, 1)
        head, tail = head + anchor + "\n", "\n\n" + tail.lstrip("\n")
    with open(path, "w", encoding="utf-8") as f:
        f.write(head + BEGIN + "\n" + block + "\n" + END + tail)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("run_dir")
    p.add_argument("out_md")
    p.add_argument("--update-doc")
    a = p.parse_args()
    with open(os.path.join(a.run_dir, "meta.json"), encoding="utf-8") as f:
        meta = json.load(f)
    records = read_records(a.run_dir)
    header, rows, skipped, problems = table(records)
    context = context_lines(meta, records)
    legend = ("× torch: passages/s ÷ torch fp32's (higher is faster); × torch time: ms ÷ torch fp32's (lower is faster); "
              "the (CPU) columns use process CPU seconds, all threads, instead of wall time.")
    body = markdown(header, rows) if rows else "(nothing measured)"
    print(body)
    print()
    print(legend)
    for line in context:
        print(line)
    for line in skipped:
        print(f"skipped: {line}")
    for line in problems:
        print(f"parity problem: {line}")

    parts = ["\n".join(f"- {line}" for line in context), body, legend]
    if skipped:
        parts.append("Skipped:\n" + "\n".join(f"- {s}" for s in skipped))
    if problems:
        parts.append("Parity not computed:\n" + "\n".join(f"- {s}" for s in problems))
    block = "\n\n".join(parts)
    with open(a.out_md, "w", encoding="utf-8") as f:
        f.write("# Benchmarks/run, latest\n\n" + block + "\n")
    if a.update_doc:
        update_doc(a.update_doc, "Generated by `UPDATE_DOC=1 Benchmarks/run`; edits inside these markers are overwritten.\n\n" + block)
        print(f"updated the bench block in {a.update_doc}")


if __name__ == "__main__":
    main()
