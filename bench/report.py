#!/usr/bin/env python3
"""Prints the medians of one criterion group and each row's ratio to the
first meshrtc row of the same operation.

Usage: python3 report.py GROUP   (after `cargo bench --bench GROUP`)
"""
import json, os, sys

group = sys.argv[1] if len(sys.argv) > 1 else "stun"
root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "target", "criterion", group)
rows = []
for name in sorted(os.listdir(root)):
    est = os.path.join(root, name, "new", "estimates.json")
    bench = os.path.join(root, name, "new", "benchmark.json")
    if not os.path.exists(est):
        continue
    median = json.load(open(est))["median"]["point_estimate"]
    title = json.load(open(bench))["function_id"]
    rows.append((title, median))

def op(title):
    """The operation of "stack/op" (most groups) or of "op/stack" (peer_ttff)."""
    head, _, tail = title.partition("/")
    if not tail:
        return title
    return head if any(t == head + "/meshrtc" for t, _ in rows) else tail

def is_ours(title):
    return title.startswith("meshrtc/") or title.endswith("/meshrtc")

ours = {op(t): m for t, m in rows if is_ours(t)}
print(f"| {group} | median | vs meshrtc |")
print("| --- | ---: | ---: |")
for title, m in rows:
    base = ours.get(op(title))
    ratio = f"{m / base:.2f}x" if base else "-"
    if m < 10_000:
        unit = f"{m:.0f} ns"
    elif m < 10_000_000:
        unit = f"{m / 1000:.1f} µs"
    else:
        unit = f"{m / 1e6:.2f} ms"
    print(f"| {title} | {unit} | {ratio} |")
