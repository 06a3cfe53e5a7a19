"""Library-heavy work: json, re, sorting with key functions, string methods."""
import json
import re
import sys

WORD = re.compile(r"[A-Za-z]+")
NUMBER = re.compile(r"\d+(?:\.\d+)?")


def make_records(n):
    return [{"id": i, "name": "user%d" % (i * 7919 % 10007), "score": (i * 37 % 101) / 7.0,
             "tags": ["t%d" % (i % 13), "g%d" % (i % 5)],
             "text": "Order %d shipped to Street %d in 3.5 days" % (i, i % 97)}
            for i in range(n)]


def process(records):
    blob = json.dumps(records)
    back = json.loads(blob)
    words = 0
    numbers = 0.0
    for r in back:
        words += len(WORD.findall(r["text"]))
        numbers += sum(float(x) for x in NUMBER.findall(r["text"]))
    ranked = sorted(back, key=lambda r: (-r["score"], r["name"]))
    names = ",".join(r["name"].upper().replace("USER", "U") for r in ranked[:500])
    return words, round(numbers, 3), len(names), ranked[0]["id"]


def main(rounds):
    result = None
    for _ in range(rounds):
        result = process(make_records(4000))
    return result


if __name__ == "__main__":
    import time
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 12
    t0 = time.perf_counter()
    result = main(rounds)
    print("elapsed %.6f" % (time.perf_counter() - t0), file=sys.stderr)
    print("stdlib", rounds, result)
