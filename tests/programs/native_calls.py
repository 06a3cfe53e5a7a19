"""A program whose Python calls into C that calls back into Python, and spins there, for
`moth record --native`.

    native_calls.py MODE SECONDS [wait]

MODE "sorted": sorted() calls key() for every item; MODE "qsort": libc's qsort(), through
ctypes (imported only then: an extension loaded after the program started), calls compare().
The main thread does that for SECONDS, then prints "done" and ends. With "wait" it prints
"ready" first and a thread named "reader" waits for a line on stdin, which ends the spinning
early; the program prints "alive" at its end. Lines the tests look for are marked `# @name`.
"""
import sys
import threading
import time

stop = threading.Event()


def key(x):
    s = 0
    for i in range(300):  # @key
        s += i
    return -x


def sort_with_key(data):
    return sorted(data, key=key)  # @sorted


def compare(a, b):
    s = 0
    for i in range(300):  # @compare
        s += i
    return a[0] - b[0]


def sort_with_qsort(array, cmp, qsort, ctypes):
    qsort(array, len(array), ctypes.sizeof(ctypes.c_int), cmp)  # @qsort


def spin(mode, seconds):
    end = time.monotonic() + seconds
    if mode == "qsort":
        import ctypes
        libc = ctypes.CDLL(None)
        cmp_type = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_int),
                                    ctypes.POINTER(ctypes.c_int))
        cmp = cmp_type(compare)
        while time.monotonic() < end and not stop.is_set():
            array = (ctypes.c_int * 200)(*range(200, 0, -1))
            sort_with_qsort(array, cmp, libc.qsort, ctypes)
    else:
        data = list(range(200))
        while time.monotonic() < end and not stop.is_set():
            sort_with_key(data)


def main():
    mode, seconds = sys.argv[1], float(sys.argv[2])
    if sys.argv[3:] == ["wait"]:
        threading.Thread(target=lambda: sys.stdin.readline() and stop.set(), name="reader",
                         daemon=True).start()
        print("ready", flush=True)
    spin(mode, seconds)
    print("alive" if sys.argv[3:] == ["wait"] else "done", flush=True)


main()  # @main
