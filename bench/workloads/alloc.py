"""Allocation-heavy work: many small objects made and dropped (records, dicts, strings, lists),
a structure kept alive while it grows, and parsing (the memory profiler's worst case)."""
import json
import sys


class Node:
    __slots__ = ("key", "value", "children")

    def __init__(self, key, value):
        self.key = key
        self.value = value
        self.children = []


def build(depth, fanout, prefix="n"):
    root = Node(prefix, len(prefix))
    if depth:
        root.children = [build(depth - 1, fanout, prefix + str(i)) for i in range(fanout)]
    return root


def walk(node):
    total = node.value
    for c in node.children:
        total += walk(c)
    return total


def records(n):
    return [{"id": i, "name": "item-%d" % i, "tags": [str(i % 7), str(i % 11)],
             "price": i * 0.25} for i in range(n)]


def main(rounds):
    kept = []
    result = 0
    for r in range(rounds):
        tree = build(6, 5)                       # ~20k nodes, dropped each round
        result += walk(tree)
        data = records(5000)
        text = json.dumps(data)
        result += len(json.loads(text))
        kept.append(text[:1000])                 # a little is kept
        words = " ".join(d["name"] for d in data).split()
        result += len(words)
    return result, len(kept)


if __name__ == "__main__":
    import time
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 12
    t0 = time.perf_counter()
    result = main(rounds)
    print("elapsed %.6f" % (time.perf_counter() - t0), file=sys.stderr)
    print("alloc", rounds, result)
