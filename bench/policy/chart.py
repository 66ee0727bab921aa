"""The README's chart, drawn as a plain SVG from a run's printed figures (no plotting library here).

    python bench/policy/chart.py results.json docs/bench-policy.svg

`results.json` is what `bench_policy.py --json` writes: {"base_success": x, "points": [{"labels": n,
"objective": name, "success": x}, ...], "command": "...", "note": "..."}.
"""

from __future__ import annotations

import json
import sys
from html import escape
from pathlib import Path

COLOURS = {
    "dpo": "#1f77b4",
    "kto": "#ff7f0e",
    "raft": "#2ca02c",
    "grpo": "#d62728",
    "rloo": "#9467bd",
}
WIDTH, HEIGHT = 640, 400
LEFT, RIGHT, TOP, BOTTOM = 60, 130, 40, 60


def render_svg(results: dict) -> str:
    points = results["points"]
    labels = sorted({p["labels"] for p in points})
    objectives = list(dict.fromkeys(p["objective"] for p in points))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    low, high = (labels[0], labels[-1]) if len(labels) > 1 else (0, labels[0] * 2)

    def x(n: float) -> float:
        return LEFT + (n - low) / (high - low) * plot_w if high > low else LEFT + plot_w / 2

    def y(v: float) -> float:
        return TOP + (1 - v) * plot_h

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="12">',
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>',
        f'<text x="{WIDTH / 2}" y="20" text-anchor="middle" font-size="14">'
        "Hidden-truth success on held-out prompts, by objective</text>",
    ]
    for tick in (0.0, 0.2, 0.4, 0.6, 0.8, 1.0):
        out.append(
            f'<line x1="{LEFT}" x2="{LEFT + plot_w}" y1="{y(tick):.1f}" y2="{y(tick):.1f}" '
            'stroke="#ddd"/>'
        )
        out.append(
            f'<text x="{LEFT - 8}" y="{y(tick) + 4:.1f}" text-anchor="end">{tick:.1f}</text>'
        )
    for n in labels:
        out.append(f'<text x="{x(n):.1f}" y="{TOP + plot_h + 18}" text-anchor="middle">{n}</text>')
    out.append(
        f'<text x="{LEFT + plot_w / 2}" y="{HEIGHT - 20}" text-anchor="middle">'
        "human labels used (simulated annotators, noisy)</text>"
    )
    out.append(
        f'<text x="16" y="{TOP + plot_h / 2}" text-anchor="middle" '
        f'transform="rotate(-90 16 {TOP + plot_h / 2})">success rate</text>'
    )
    base = results["base_success"]
    out.append(
        f'<line x1="{LEFT}" x2="{LEFT + plot_w}" y1="{y(base):.1f}" y2="{y(base):.1f}" '
        'stroke="#555" stroke-dasharray="6 4"/>'
    )
    legend = [("base", "#555", True)]
    for objective in objectives:
        colour = COLOURS.get(objective, "#333")
        mine = sorted((p for p in points if p["objective"] == objective), key=lambda p: p["labels"])
        coords = " ".join(f"{x(p['labels']):.1f},{y(p['success']):.1f}" for p in mine)
        out.append(f'<polyline points="{coords}" fill="none" stroke="{colour}" stroke-width="2"/>')
        for p in mine:
            out.append(
                f'<circle cx="{x(p["labels"]):.1f}" cy="{y(p["success"]):.1f}" r="3.5" '
                f'fill="{colour}"><title>{escape(objective)} {p["labels"]} labels: '
                f"{p['success']:.3f}</title></circle>"
            )
        legend.append((objective, colour, False))
    for i, (name, colour, dashed) in enumerate(legend):
        ly = TOP + 10 + i * 20
        dash = ' stroke-dasharray="6 4"' if dashed else ""
        out.append(
            f'<line x1="{WIDTH - RIGHT + 15}" x2="{WIDTH - RIGHT + 40}" y1="{ly}" y2="{ly}" '
            f'stroke="{colour}" stroke-width="2"{dash}/>'
        )
        out.append(f'<text x="{WIDTH - RIGHT + 46}" y="{ly + 4}">{escape(name)}</text>')
    if results.get("note"):
        out.append(
            f'<text x="{LEFT}" y="{HEIGHT - 4}" font-size="10" fill="#555">'
            f"{escape(results['note'])}</text>"
        )
    out.append("</svg>")
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    source, target = (argv if argv is not None else sys.argv[1:])[:2]
    Path(target).write_text(render_svg(json.loads(Path(source).read_text())), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
