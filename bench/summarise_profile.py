"""Inclusive and leaf time per function from a py-spy raw (collapsed) profile."""

import collections
import sys

total: collections.Counter[str] = collections.Counter()
leaf: collections.Counter[str] = collections.Counter()
n = 0
for line in open(sys.argv[1]):
    stack, _, count = line.rstrip().rpartition(" ")
    c = int(count)
    n += c
    frames = stack.split(";")
    for f in set(frames):
        total[f] += c
    leaf[frames[-1]] += c
print("samples", n)
for k, v in total.most_common(int(sys.argv[2]) if len(sys.argv) > 2 else 60):
    print(f"{v / n * 100:5.1f}% {k[:160]}")
print("--- leaves")
for k, v in leaf.most_common(25):
    print(f"{v / n * 100:5.1f}% {k[:160]}")
