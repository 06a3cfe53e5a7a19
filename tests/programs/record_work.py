"""CPU work in known proportions, for moth record's tests: hot() does three times the work
of cold(), both in spin(). Lines the tests look for are marked `# @name`."""
import sys


def spin(n):
    x = 0
    for i in range(n):
        x += i  # @spin
    return x


def hot(n):
    return spin(3 * n)  # @hot


def cold(n):
    return spin(n)  # @cold


def main(rounds, n):
    for _ in range(rounds):
        hot(n)
        cold(n)


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]))  # @main
    print("done")
