"""moth flame: one self-contained HTML file, drawn from the tree, checked in a real browser."""
import json
import re
import shutil
import sqlite3
import subprocess

import pytest

from conftest import tool_env

from conftest import PROGRAMS, run_moth

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
needs_browser = pytest.mark.skipif(not CHROMIUM, reason="chromium is not installed (.ci/run installs it)")


@pytest.fixture(scope="module")
def flame(tmp_path_factory):
    d = tmp_path_factory.mktemp("flame")
    moth, html = d / "t.moth", d / "t.html"
    run_moth("profile", "-q", "-o", moth, "--flame", html, PROGRAMS / "threaded.py", check=0)
    return moth, html


def page_data(html_text):
    m = re.search(r"const DATA = (\{.*?\});</script>", html_text, re.S)
    return json.loads(m.group(1))


def browser(*args, timeout=60):
    return subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
                           "--hide-scrollbars", *map(str, args)],
                          capture_output=True, text=True, timeout=timeout, env=tool_env())


def test_page_is_self_contained_and_holds_the_tree(flame):
    text = flame[1].read_text()
    # nothing to fetch: no script or style from elsewhere, no link, no http other than SVG's name
    assert not re.search(r"<(script|link|img)[^>]+(src|href)=", text)
    assert re.findall(r"https?://[^\s\"']+", text) == ["http://www.w3.org/2000/svg"]
    data = page_data(text)
    views = [v["name"] for v in data["views"]]
    assert views == ["all threads", "MainThread", "worker-0", "worker-1"]
    funcs = [f["n"] for f in data["funcs"]]
    merged = data["views"][0]
    # the tree, not edges: the recursion is 8 deep along one path in worker-1
    w1 = data["views"][3]
    depth = {0: 0}
    for i in range(1, len(w1["p"])):
        depth[i] = depth[w1["p"][i]] + 1
    deepest = max(depth, key=depth.get)
    chain = []
    while deepest:
        chain.append(funcs[w1["f"][deepest]])
        deepest = w1["p"][deepest]
    assert chain.count("recurse") == 8
    # totals are consistent: a node's children never exceed it
    # (the page writes times to 8 decimals: each child's rounding may add half a unit)
    for v in data["views"]:
        kids, counts = {}, {}
        for i in range(1, len(v["p"])):
            kids[v["p"][i]] = kids.get(v["p"][i], 0.0) + v["t"][i]
            counts[v["p"][i]] = counts.get(v["p"][i], 0) + 1
        for parent, total in kids.items():
            assert total <= v["t"][parent] * (1 + 1e-9) + (counts[parent] + 1) * 0.5e-8


@needs_browser
def test_rendered_in_chromium_hottest_widest(flame, tmp_path):
    dom = browser("--window-size=1200,900", "--virtual-time-budget=5000", "--dump-dom",
                  flame[1].as_uri())
    assert dom.returncode == 0, dom.stderr[-500:]
    rects = re.findall(r'<rect x="([\d.]+)" y="(\d+)" width="([\d.]+)"[^>]*data-name="([^"]*)"', dom.stdout)
    assert len(rects) > 10
    widths = {}
    for x, y, w, name in rects:
        widths[name] = max(widths.get(name, 0), float(w))
    data = page_data(flame[1].read_text())
    merged, funcs = data["views"][0], data["funcs"]
    # each function's widest box is its largest node: widths follow the tree's totals
    largest = {}
    for i in range(1, len(merged["p"])):
        if merged["f"][i] >= 0:
            name = funcs[merged["f"][i]]["n"]
            largest[name] = max(largest.get(name, 0), merged["t"][i])
    names = ["main", "worker", "recurse", "leaf"]   # (cold is too narrow to draw)
    assert all(n in widths for n in names)
    by_total = sorted(names, key=lambda n: largest[n])
    by_width = sorted(names, key=lambda n: widths[n])
    assert by_total == by_width
    scale = widths["main"] / largest["main"]
    for n in names:
        if widths[n] > 20:
            assert abs(widths[n] / largest[n] / scale - 1) < 0.02, n
    assert "all threads" in dom.stdout


@needs_browser
def test_screenshot_is_not_blank(flame, tmp_path):
    PIL = pytest.importorskip("PIL.Image")
    shot = tmp_path / "shot.png"
    proc = browser("--window-size=1000,700", "--virtual-time-budget=5000",
                   f"--screenshot={shot}", flame[1].as_uri())
    assert proc.returncode == 0 and shot.exists(), proc.stderr[-500:]
    img = PIL.open(shot).convert("RGB")
    pixels = list(img.get_flattened_data()) if hasattr(img, "get_flattened_data") else list(img.getdata())
    colours = set(pixels)
    coloured = sum(1 for p in pixels if max(p) - min(p) > 40)   # saturated: the boxes
    assert len(colours) > 20
    assert coloured > len(pixels) * 0.02


DEEP = """
def down(n):
    if n == 0:
        return sum(i * i for i in range(20000))
    return down(n - 1)
for _ in range(5):
    down(150)
"""


@needs_browser
@pytest.mark.parametrize("view", ["flame", "icicle"])
def test_a_deep_profile_opens_on_its_root(program, tmp_path, view):
    # 150 frames deep: the graph is 2,700 pixels tall, three times the window
    PIL = pytest.importorskip("PIL.Image")
    html, shot = tmp_path / "deep.html", tmp_path / "deep.png"
    run_moth("profile", "-q", "--flame", html, program("deep.py", DEEP), check=0)
    uri = html.as_uri() + ("#icicle" if view == "icicle" else "")
    proc = browser("--window-size=1200,900", "--virtual-time-budget=5000", f"--screenshot={shot}", uri)
    assert proc.returncode == 0 and shot.exists(), proc.stderr[-500:]
    img = PIL.open(shot).convert("RGB")
    width, height = img.size
    root = (0xb0, 0xb8, 0xc8)    # the root box's colour, drawn the whole width
    rows = [y for y in range(height)
            if sum(img.getpixel((x, y)) == root for x in range(0, width - 40, 10)) > (width - 40) // 10 * 0.9]
    assert rows, "the root is not on screen"
    # at the bottom of a flame graph, just below the bar (one or two lines) of an icicle graph
    assert (min(rows) > height - 40) if view == "flame" else (max(rows) < 120), rows


def big_moth_file(path, nodes=150_000):
    """A synthetic moth file with a wide and deep tree of `nodes` nodes."""
    run_moth("profile", "-q", "-o", path, "-c", "pass", check=0)
    con = sqlite3.connect(path)
    con.execute("delete from nodes")
    con.execute("delete from functions")
    con.executemany("insert into functions values (1, ?, ?, ?, ?, null)",
                    [(i, f"/src/mod{i % 97}.py", i, f"f{i}") for i in range(2000)])
    # (siblings may name the same function: the reader merges them)
    rows, seed = [], 12345
    for i in range(1, nodes + 1):
        seed = (seed * 1103515245 + 12345) % 2 ** 31
        parent = 0 if i < 50 else seed % i
        if parent == 0 and i >= 50:
            parent = 1
        ticks = 1000 + seed % 100000
        rows.append((i, parent, i % 2000, 1 + seed % 7, 0, ticks))
    # totals: self plus everything below (children come after parents)
    total = {r[0]: r[5] for r in rows}
    for i, parent, *_ in reversed(rows):
        if parent:
            total[parent] += total[i]
    con.executemany("insert into nodes values (1, 0, ?, ?, ?, ?, ?, ?, 0, 0)",
                    [(i, p, f, c, total[i], s) for i, p, f, c, _, s in rows])
    con.commit()
    con.close()


@needs_browser
def test_large_profile_stays_light(tmp_path):
    moth = tmp_path / "big.moth"
    big_moth_file(moth)
    html = tmp_path / "big.html"
    run_moth("flame", moth, "-o", html, check=0)
    data = page_data(html.read_text())
    assert len(data["views"][0]["p"]) < 40_000          # small boxes folded
    assert any(f < 0 for f in data["views"][0]["f"])    # "(N small)" boxes exist
    dom = browser("--window-size=1200,900", "--virtual-time-budget=10000", "--dump-dom",
                  html.as_uri(), timeout=120)
    assert dom.returncode == 0
    assert dom.stdout.count("<rect") > 50


def test_flame_needs_a_tree(tmp_path):
    prof = tmp_path / "x.prof"
    run_moth("profile", "-q", "-o", prof, "-c", "pass", check=0)
    proc = run_moth("flame", prof)
    assert proc.returncode == 2 and "calling-context tree" in proc.stderr
