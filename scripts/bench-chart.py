#!/usr/bin/env python3
"""Draw the decision-cost suite's medians as an SVG bar chart (issue 11).

Reads criterion's ``<target>/criterion/<case>/<engine>/new/estimates.json`` (``<target>``
is ``$CARGO_TARGET_DIR``, else ``target``) and writes ``docs/decide-bench.svg``: one row
per case, one bar per engine (wasm, native, ...), on a log scale. Python 3 stdlib only.

    cargo bench -p forge-authz-tests --bench decide
    python3 scripts/bench-chart.py [--out docs/decide-bench.svg] [--markdown]

``--markdown`` also prints the wasm/native table used in BENCHMARKS.md.
"""

import argparse
import json
import math
import os
import sys
from pathlib import Path
from xml.sax.saxutils import escape

# The suite's cases, in the order they are drawn. Only these are read: a criterion
# directory may hold cases of older suites.
ORDER = [
    "empty_call",
    "verify_malformed",
    "verify_bad_checksum",
    "verify_bad_tag",
    "verify_unknown_key",
    "verify_valid",
    "refused_carried",
    "refused_malformed",
    "refused_bad_checksum",
    "refused_bad_tag",
    "refused_unknown_key",
    "token_pull_first",
    "token_pull_repeated",
    "anonymous_pull",
    "push_10_refs",
    "api_route",
    "batch_100",
    "host_token_pull",
    "fresh_instance",
    "hot_swap",
    "swap_read",
]
COLOURS = {
    "wasm": "#5b4fcf",
    "native": "#e08a1e",
    "cedar": "#c0392b",
    "cedar_with_request": "#e6a09a",
    "generation": "#2a9d8f",
    "current": "#8ab17d",
    "rust_typed": "#264653",
    "rust_json": "#7a9e9f",
}


def load(root: Path) -> dict:
    """{case: {engine: median ns}} from criterion's estimates."""
    out: dict = {}
    for est in sorted(root.glob("*/*/new/estimates.json")):
        engine = est.parent.parent.name
        case = est.parent.parent.parent.name
        if engine == "report" or case not in ORDER:
            continue
        with est.open() as f:
            data = json.load(f)
        out.setdefault(case, {})[engine] = data["median"]["point_estimate"]
    return out


def human(ns: float) -> str:
    if ns >= 1e6:
        return f"{ns / 1e6:.2f} ms"
    if ns >= 1e3:
        return f"{ns / 1e3:.2f} µs"
    return f"{ns:.1f} ns"


def micros(ns: float) -> str:
    """Table cells: µs throughout (ms past a millisecond), so rows compare at a glance."""
    if ns >= 1e6:
        return f"{ns / 1e6:.2f} ms"
    return f"{ns / 1e3:.3f} µs"


def svg(data: dict) -> str:
    cases = [c for c in ORDER if c in data] + sorted(c for c in data if c not in ORDER)
    engines = []
    for c in cases:
        for e in data[c]:
            if e not in engines:
                engines.append(e)
    values = [v for c in cases for v in data[c].values() if v > 0]
    lo = 10 ** math.floor(math.log10(min(values)))
    hi = 10 ** math.ceil(math.log10(max(values)))
    label_w, plot_w, bar_h, gap, top = 210, 560, 11, 8, 40
    rows = [(c, e) for c in cases for e in engines if e in data[c]]
    height = top + len(rows) * bar_h + len(cases) * gap + 50
    width = label_w + plot_w + 100

    def x(v: float) -> float:
        return label_w + plot_w * (math.log10(v) - math.log10(lo)) / (
            math.log10(hi) - math.log10(lo)
        )

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'font-family="sans-serif" font-size="11">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<text x="{label_w}" y="18" font-size="13" font-weight="bold">'
        "forge-authz decision cost, criterion medians (log scale)</text>",
    ]
    decade = lo
    while decade <= hi:
        gx = x(decade)
        parts.append(
            f'<line x1="{gx:.1f}" y1="{top - 6}" x2="{gx:.1f}" y2="{height - 40}" '
            'stroke="#ddd"/>'
        )
        parts.append(
            f'<text x="{gx:.1f}" y="{height - 26}" text-anchor="middle">{escape(human(decade))}</text>'
        )
        decade *= 10
    y = top
    for c in cases:
        first = True
        for e in engines:
            if e not in data[c]:
                continue
            v = data[c][e]
            if first:
                parts.append(
                    f'<text x="{label_w - 8}" y="{y + bar_h - 2}" text-anchor="end">{escape(c)}</text>'
                )
                first = False
            w = max(x(v) - label_w, 1)
            colour = COLOURS.get(e, "#888")
            parts.append(
                f'<rect x="{label_w}" y="{y}" width="{w:.1f}" height="{bar_h - 1}" fill="{colour}">'
                f"<title>{escape(c)} {escape(e)}: {escape(human(v))}</title></rect>"
            )
            parts.append(
                f'<text x="{label_w + w + 4:.1f}" y="{y + bar_h - 2}" fill="#333">'
                f"{escape(e)} {escape(human(v))}</text>"
            )
            y += bar_h
        y += gap
    lx = label_w
    for e in engines:
        parts.append(
            f'<rect x="{lx}" y="{height - 16}" width="10" height="10" fill="{COLOURS.get(e, "#888")}"/>'
        )
        parts.append(f'<text x="{lx + 14}" y="{height - 7}">{escape(e)}</text>')
        lx += 90
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def markdown(data: dict) -> str:
    cases = [c for c in ORDER if c in data]
    lines = [
        "| case | through wasm | native core | wasm / native | Cedar | Cedar with its request |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for c in cases:
        d = data[c]
        w, n = d.get("wasm"), d.get("native")
        if w is None:
            cells = " / ".join(f"{k} {human(v)}" for k, v in d.items())
            lines.append(f"| `{c}` | {cells} | | | | |")
            continue
        ratio = f"{w / n:.1f}×" if n else ""
        cedar = d.get("cedar")
        built = d.get("cedar_with_request")
        lines.append(
            f"| `{c}` | {micros(w)} | {micros(n) if n else '—'} | {ratio} | "
            f"{micros(cedar) if cedar else ''} | {micros(built) if built else ''} |"
        )
    return "\n".join(lines)


def main() -> int:
    repo = Path(__file__).resolve().parent.parent
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(repo / "docs" / "decide-bench.svg"))
    ap.add_argument("--markdown", action="store_true")
    args = ap.parse_args()
    target = Path(os.environ.get("CARGO_TARGET_DIR") or repo / "target")
    root = target / "criterion"
    data = load(root)
    if not data:
        print(f"no criterion estimates under {root}", file=sys.stderr)
        return 1
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(svg(data), encoding="utf-8")
    print(f"wrote {out} ({len(data)} cases)", file=sys.stderr)
    if args.markdown:
        print(markdown(data))
    return 0


if __name__ == "__main__":
    sys.exit(main())
