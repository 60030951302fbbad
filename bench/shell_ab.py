"""Ours against stock-lite page by page on a busy machine: p50, the fastest request and its CPU time.

    BENCH_PG_URL=... python bench/shell_ab.py ours|stock OUT.json     (N=25 requests a page)

`bench.py` keeps p50/p95 only; with other work on the machine those move by 2× between runs. Run this
alternately from two checkouts (before / after) and for stock-lite, a few rounds each, and compare the
median of the p50s, the fastest request (the least disturbed) and the process CPU time of the fastest
request (Python only, no database wait). As Admin, on the pages `bench.STOCK` pairs with stock-lite's.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import bench.bench as bench  # noqa: E402 (after the checkout's root is on the path)


def stock_pages(fx):
    u = fx.users["Admin"]
    args = {"cat": fx.category, "form": fx.form, "appeal": u["appeal"], "edit": u["edit"], "visit": u["visit"]}
    return {page: url.format(**args) for page, url in bench.STOCK.items()}


def our_pages(fx):
    return {page: url for page, url, _kind in bench.pages(fx, "Admin") if page in bench.STOCK}


def main():
    which, out = sys.argv[1], Path(sys.argv[2])
    url = os.environ.get("BENCH_PG_URL", bench.DEFAULT_PG)
    ours = bench.make_app(url)
    with ours.app_context():
        from app.extensions import db

        fx = bench.Fixture(db.session, ours.appbuilder.sm)
        db.session.remove()
    if which == "stock":
        from bench.stock_app import create_stock_app

        app, pages = create_stock_app(url, lite=True), stock_pages(fx)
    else:
        app, pages = ours, our_pages(fx)
    client = app.test_client()
    response = client.post("/login/", data={"username": "admin", "password": bench.ADMIN_PASSWORD})
    assert response.status_code == 302, f"login: {response.status_code}"
    n = int(os.environ.get("N", "25"))
    results = {}
    for page, path in pages.items():
        for _ in range(2):
            client.get(path).get_data()
        wall, cpu = [], []
        for _ in range(n):
            started, cpu_started = time.perf_counter(), time.process_time()
            response = client.get(path)
            response.get_data()
            wall.append((time.perf_counter() - started) * 1000)
            cpu.append((time.process_time() - cpu_started) * 1000)
        fastest = min(range(n), key=wall.__getitem__)
        results[page] = {"status": response.status_code, "p50": round(statistics.median(wall), 1),
                         "min": round(wall[fastest], 1), "cpu_min": round(min(cpu), 1),
                         "load": os.getloadavg()[0]}  # fmt: skip
        print(f"  {which:<6} {page:<28} {results[page]}", flush=True)
    out.write_text(json.dumps(results, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
