"""Text renderings of leaderboards for the CLI: table, markdown, csv, json."""

from __future__ import annotations

import io
import json
from typing import Any

import pandas as pd

from .result import ROW_KEYS, Leaderboard, TooSmall, _plain

FORMATS = ("table", "markdown", "csv", "json")


def _display_rows(lb: Leaderboard) -> list[list[str]]:
    out = []
    for r in lb.rows:
        flags = "provisional" if r["provisional"] else ""
        row = [str(r["rank"]), str(r["rank_ub"]), r["model"], f"{r['rating']:.1f}",
               f"+{r['ci_high'] - r['rating']:.1f}/-{r['rating'] - r['ci_low']:.1f}",
               f"{r['rank_low']}-{r['rank_high']}", f"{r['votes']:,}", f"{r['win_rate']:.3f}"]
        if "elo" in r:
            row.append(f"{r['elo']:.1f}")
        out.append(row + [flags])
    return out


def _header(lb: Leaderboard) -> list[str]:
    pct = f"{lb.diagnostics['level']:.0%}"
    head = ["rank", "rank_ub", "model", "rating", f"{pct} CI", "rank range", "votes", "win_rate"]
    return head + (["elo"] if lb.rows and "elo" in lb.rows[0] else []) + ["flags"]


def table(lb: Leaderboard, markdown: bool = False) -> str:
    head, body = _header(lb), _display_rows(lb)
    if markdown:
        lines = ["| " + " | ".join(head) + " |",
                 "|" + "|".join("---:" if h not in ("model", "flags") else "---" for h in head) + "|"]
        return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in body])
    widths = [max(len(h), *(len(r[k]) for r in body)) for k, h in enumerate(head)]
    fmt = lambda cells: "  ".join(c.ljust(w) if h in ("model", "flags") else c.rjust(w)
                                  for c, w, h in zip(cells, widths, head)).rstrip()
    return "\n".join([fmt(head)] + [fmt(r) for r in body])


def summary(lb: Leaderboard) -> str:
    d = lb.diagnostics
    text = (f"{d['n_models']} models, {d['n_votes']:,.0f} votes, ci={d['ci']}"
            + (f" ({d['rounds']} rounds)" if d.get("rounds") else "")
            + f", ties={d['ties']}, converged={d['converged']} (|grad| {d['grad_norm']:.1e})")
    if "position_advantage" in d:
        text += f", position advantage {d['position_advantage']:+.1f} ± {1.96 * d['position_advantage_se']:.1f}"
    if "tie_param" in d:
        text += f", davidson nu={d['tie_param']:.3f}"
    return text


def render(result: Leaderboard | dict[Any, Any], fmt: str) -> tuple[str, list[str]]:
    """The text for stdout and notes for stderr (too-small groups)."""
    boards = result if isinstance(result, dict) else {None: result}
    notes = [f"{label}: not ranked ({item.reason})" for label, item in boards.items()
             if isinstance(item, TooSmall)]
    fitted = {k: v for k, v in boards.items() if isinstance(v, Leaderboard)}
    if fmt in ("json", "csv"):
        rows = []
        for label, lb in fitted.items():
            for r in lb.rows:
                rows.append(({"group": label} if label is not None else {}) | r)
        if fmt == "json":
            return json.dumps(_plain(rows), indent=1), notes
        cols = (["group"] if None not in fitted else []) + list(ROW_KEYS)
        extra = [k for k in (rows[0] if rows else {}) if k not in cols]
        buf = io.StringIO()
        pd.DataFrame(rows, columns=cols + extra).to_csv(buf, index=False)
        return buf.getvalue().rstrip("\n"), notes
    parts = []
    for label, lb in fitted.items():
        title = f"{label}: " if label is not None else ""
        if fmt == "markdown":
            parts.append((f"### {label}\n\n" if label is not None else "")
                         + table(lb, markdown=True) + f"\n\n_{summary(lb)}_")
        else:
            parts.append(f"{title}{summary(lb)}\n{table(lb)}")
    return "\n\n".join(parts), notes
