"""Excel rendering of disclosure-sized tables: `reports.render.tables_xlsx` (merged
headers, named cell styles, number formats) against a same-run baseline, openpyxl
write-only mode writing the same values without any style (the bound for the cells).

    .venv/bin/python bench/render_xlsx.py [--rows 2000] [--sheets 5]
"""
from __future__ import annotations

import argparse
import io
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--sheets", type=int, default=5)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from openpyxl import Workbook

    from reports import render
    from reports.tables import Column, Figure, Row, Table

    cols = [Column("code", "编码", False), Column("name", "名称", False)] + [
        Column(f"a{i}", f"金额{i}") for i in range(8)]
    rows = [Row(f"r{n}", {"code": f"{n:07d}", "name": f"项目{n}",
                          **{f"a{i}": Figure(fen=n * 1000 + i, trace=f"t{n}") for i in range(8)}},
                level=n % 3, total=n % 50 == 0) for n in range(args.rows)]
    header = [[("编码", 1, 2), ("名称", 1, 2), ("金额", 8, 1)],
              [(f"金额{i}", 1, 1) for i in range(8)]]
    tables = [Table(code=f"T{k}", title="表", columns=cols, header=header, rows=rows)
              for k in range(args.sheets)]

    def baseline() -> bytes:
        wb = Workbook(write_only=True)
        for t in tables:
            ws = wb.create_sheet(t.code)
            for r in t.rows:
                ws.append([t.display(v.fen) if isinstance(v, Figure) else v
                           for v in (r.cells.get(c.key, "") for c in t.columns)])
        buf = io.BytesIO()
        wb.save(buf)
        return buf.getvalue()

    def best(fn) -> tuple[float, int]:  # noqa: ANN001
        times, size = [], 0
        for _ in range(3):
            t0 = time.perf_counter()
            size = len(fn())
            times.append(time.perf_counter() - t0)
        return min(times), size

    cells = args.sheets * args.rows * len(cols)
    ours, size = best(lambda: render.tables_xlsx(tables, title="bench"))
    bound, bsize = best(baseline)
    print(f"{args.sheets} sheets × {args.rows:,} rows × {len(cols)} columns ({cells:,} cells), "
          f"best of 3, load {os.getloadavg()[0]:.2f}")
    print(f"  tables_xlsx            {ours:6.2f} s  {cells / ours:9,.0f} cells/s  {size:,} bytes")
    print(f"  write-only, no styles  {bound:6.2f} s  {cells / bound:9,.0f} cells/s  {bsize:,} bytes")
    print(f"  ratio                  {bound / ours:6.2f}")


if __name__ == "__main__":
    main()
