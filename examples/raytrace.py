"""A small ray tracer: moth's bundled example (`moth profile examples/raytrace.py`).

Renders spheres over a checkered floor into a PPM image, rows spread over worker threads.
Pure Python on purpose: lots of small function and method calls, a few hot loops.
"""
import math
import sys
import threading


class Vec:
    __slots__ = ("x", "y", "z")

    def __init__(self, x, y, z):
        self.x, self.y, self.z = x, y, z

    def __add__(self, o):
        return Vec(self.x + o.x, self.y + o.y, self.z + o.z)

    def __sub__(self, o):
        return Vec(self.x - o.x, self.y - o.y, self.z - o.z)

    def scale(self, k):
        return Vec(self.x * k, self.y * k, self.z * k)

    def dot(self, o):
        return self.x * o.x + self.y * o.y + self.z * o.z

    def norm(self):
        return self.scale(1.0 / math.sqrt(self.dot(self)))


class Sphere:
    def __init__(self, center, radius, color):
        self.center, self.radius, self.color = center, radius, color

    def hit(self, origin, direction):
        oc = origin - self.center
        b = oc.dot(direction)
        c = oc.dot(oc) - self.radius * self.radius
        disc = b * b - c
        if disc < 0:
            return None
        t = -b - math.sqrt(disc)
        return t if t > 1e-4 else None


SCENE = [
    Sphere(Vec(0.0, 1.0, 5.0), 1.0, (255, 80, 60)),
    Sphere(Vec(-2.2, 0.7, 6.0), 0.7, (60, 200, 90)),
    Sphere(Vec(2.0, 0.5, 4.2), 0.5, (70, 110, 255)),
]
LIGHT = Vec(-3.0, 6.0, 0.0)


def floor_color(point):
    check = (int(math.floor(point.x)) + int(math.floor(point.z))) % 2
    return (220, 220, 220) if check else (40, 40, 40)


def shade(origin, direction, depth=0):
    nearest, t_min = None, float("inf")
    for sphere in SCENE:
        t = sphere.hit(origin, direction)
        if t is not None and t < t_min:
            nearest, t_min = sphere, t
    if nearest is None:
        if direction.y < 0:
            t = -origin.y / direction.y
            return floor_color(origin + direction.scale(t))
        return (135, 180, 235)
    point = origin + direction.scale(t_min)
    normal = (point - nearest.center).norm()
    to_light = (LIGHT - point).norm()
    light = max(0.0, normal.dot(to_light))
    r, g, b = nearest.color
    color = (r * light, g * light, b * light)
    if depth < 2:
        reflected = direction - normal.scale(2 * direction.dot(normal))
        rr, rg, rb = shade(point, reflected, depth + 1)
        color = (0.8 * color[0] + 0.2 * rr, 0.8 * color[1] + 0.2 * rg, 0.8 * color[2] + 0.2 * rb)
    return color


def render_rows(width, height, rows, out):
    eye = Vec(0.0, 1.0, 0.0)
    for y in rows:
        line = []
        for x in range(width):
            d = Vec((x - width / 2) / height, (height / 2 - y) / height, 1.0).norm()
            line.append(tuple(min(255, int(c)) for c in shade(eye, d)))
        out[y] = line


def render(width=160, height=100, threads=4):
    out = [None] * height
    workers = [
        threading.Thread(target=render_rows, args=(width, height, range(i, height, threads), out),
                         name=f"render-{i}")
        for i in range(threads)
    ]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return out


def main():
    image = render()
    path = sys.argv[1] if len(sys.argv) > 1 else None
    if path:
        with open(path, "w") as f:
            f.write(f"P3 {len(image[0])} {len(image)} 255\n")
            for line in image:
                f.write(" ".join(f"{r} {g} {b}" for r, g, b in line) + "\n")
    checksum = sum(sum(p) for line in image for p in line)
    print(f"rendered {len(image[0])}x{len(image)} pixels, checksum {checksum}")


if __name__ == "__main__":
    main()
