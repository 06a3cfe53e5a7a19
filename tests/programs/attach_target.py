"""A program for moth's attach tests: it waits in the way argv[1] names, then works and ends.

  poll DIR [END]
             checks for DIR/go every 20 ms; then runs work() and writes DIR/done; at DIR/end
             ends as END says: exit (sys.exit(7), the default), raise (an uncaught exception),
             fall (off the end of the program, status 0), handled (its own SIGTERM handler is
             set from the start, and exits with status 3), fork (before it exits, a forked child
             ends by sys.exit and another by SIGTERM: prints their statuses)
  sleep S    one time.sleep(S), then prints how long it slept
  lock S     waits on a lock another thread releases after S seconds
  read       reads a line from stdin and prints it back
  busy S     spins for S seconds
  lockf F    waits for a lock on file F (fcntl.lockf: a call moth does not interrupt), then
             spins for 3 s
  regex      a regular expression match that runs for hours in C (never runs Python)
  workers S  a worker thread answers requests (handle) for S seconds; the main thread joins it
Prints "ready" first, then what it did, and exits with status 7.
"""
import os
import sys
import threading
import time


def leaf(i):
    return i + 1


def middle(n):
    total = 0
    for i in range(n):
        total += leaf(i)
    return total


def work():
    for _ in range(10):
        middle(1000)


mode = sys.argv[1]
ending = sys.argv[3] if mode == "poll" and len(sys.argv) > 3 else "exit"
if ending == "handled":
    import signal
    signal.signal(signal.SIGTERM, lambda *args: sys.exit(3))
print("ready", flush=True)
if mode == "poll":
    folder = sys.argv[2]
    while not os.path.exists(os.path.join(folder, "go")):
        time.sleep(0.02)
    work()
    open(os.path.join(folder, "done"), "w").close()
    while not os.path.exists(os.path.join(folder, "end")):
        time.sleep(0.02)
    print("worked", flush=True)
    if ending == "fork":
        import signal
        first = os.fork()
        if first == 0:
            sys.exit(5)
        second = os.fork()
        if second == 0:
            signal.pause()
            os._exit(0)
        time.sleep(0.2)
        os.kill(second, signal.SIGTERM)
        print(os.waitpid(first, 0)[1] >> 8, os.waitpid(second, 0)[1] & 0x7f, flush=True)
    if ending == "raise":
        raise RuntimeError("the program's own error")
    if ending == "fall":
        sys.argv[1] = "fell"
elif mode == "sleep":
    start = time.monotonic()
    time.sleep(float(sys.argv[2]))
    print("slept %.1f" % (time.monotonic() - start), flush=True)
elif mode == "lock":
    lock = threading.Lock()
    lock.acquire()
    threading.Timer(float(sys.argv[2]), lock.release).start()
    start = time.monotonic()
    lock.acquire()
    print("waited %.1f" % (time.monotonic() - start), flush=True)
elif mode == "read":
    print("read " + sys.stdin.readline().strip(), flush=True)
elif mode == "busy":
    end = time.monotonic() + float(sys.argv[2])
    while time.monotonic() < end:
        middle(10)
    print("spun", flush=True)
elif mode == "lockf":
    import fcntl
    with open(sys.argv[2], "a") as f:
        fcntl.lockf(f, fcntl.LOCK_EX)
    print("locked", flush=True)
    end = time.monotonic() + 3
    while time.monotonic() < end:
        middle(10)
elif mode == "regex":
    import re
    re.match(r"(a+)+$", "a" * 60 + "b")
elif mode == "workers":
    answered = []

    def handle(request):
        reply = request * 2  # @handle_body
        answered.append(reply)
        return reply

    def serve(seconds):
        end = time.monotonic() + seconds
        n = 0
        while time.monotonic() < end:
            handle(n)
            n += 1
            time.sleep(0.01)

    worker = threading.Thread(target=serve, args=(float(sys.argv[2]),), name="server")
    worker.start()
    worker.join()  # @join
    print("answered %d" % (len(answered) > 0), flush=True)
if sys.argv[1] != "fell":
    sys.exit(7)
