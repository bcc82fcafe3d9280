"""Text renderings of leaderboards for the CLI: table, markdown, csv, json."""

from __future__ import annotations

import io
import json
import math
from collections.abc import Mapping

from .options import Format
from .result import ROW_KEYS, Leaderboard, TooSmall, _plain

Boards = Mapping[str, Leaderboard | TooSmall]


def _display_rows(lb: Leaderboard, elo: Mapping[str, float] | None) -> list[list[str]]:
    out = []
    for r in lb.rows:
        row = [
            str(r.rank),
            str(r.rank_ub),
            r.model,
            f"{r.rating:.1f}",
            f"+{r.ci_high - r.rating:.1f}/-{r.rating - r.ci_low:.1f}",
            f"{r.rank_low}-{r.rank_high}",
            f"{r.votes:,}",
            f"{r.win_rate:.3f}",
        ]
        if elo is not None:
            row.append(f"{elo.get(r.model, math.nan):.1f}")
        out.append(row + ["provisional" if r.provisional else ""])
    return out


def _header(lb: Leaderboard, elo: Mapping[str, float] | None) -> list[str]:
    pct = f"{lb.diagnostics['level']:.0%}"
    head = ["rank", "rank_ub", "model", "rating", f"{pct} CI", "rank range", "votes", "win_rate"]
    return head + (["elo"] if elo is not None else []) + ["flags"]


def table(lb: Leaderboard, markdown: bool = False, elo: Mapping[str, float] | None = None) -> str:
    head, body = _header(lb, elo), _display_rows(lb, elo)
    if markdown:
        lines = [
            "| " + " | ".join(head) + " |",
            "|" + "|".join("---:" if h not in ("model", "flags") else "---" for h in head) + "|",
        ]
        return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in body])
    widths = [max(len(h), *(len(r[k]) for r in body)) for k, h in enumerate(head)]

    def fmt(cells: list[str]) -> str:
        return "  ".join(
            c.ljust(w) if h in ("model", "flags") else c.rjust(w) for c, w, h in zip(cells, widths, head, strict=True)
        ).rstrip()

    return "\n".join([fmt(head)] + [fmt(r) for r in body])


def summary(lb: Leaderboard) -> str:
    d = lb.diagnostics
    text = (
        f"{d['n_models']} models, {d['n_votes']:,.0f} votes, ci={d['ci']}"
        + (f" ({d['rounds']} rounds)" if d["rounds"] else "")
        + f", ties={d['ties']}, converged={d['converged']} (|grad| {d['grad_norm']:.1e})"
    )
    if "position_advantage" in d and "position_advantage_se" in d:
        text += f", position advantage {d['position_advantage']:+.1f} ± {1.96 * d['position_advantage_se']:.1f}"
    if "tie_param" in d:
        text += f", davidson nu={d['tie_param']:.3f}"
    style = style_line(lb)
    if style:
        text += f"\n{style}"
    return text


def style_line(lb: Leaderboard) -> str | None:
    """The style coefficients in one line (None without style control)."""
    if lb.style is None:
        return None
    ci = lb.style_ci or {}
    pct = f"{lb.diagnostics['level']:.0%}"
    parts = [f"{k} {v:+.3f}" + (f" [{ci[k][0]:+.3f}, {ci[k][1]:+.3f}]" if k in ci else "") for k, v in lb.style.items()]
    return f"style control, coefficients (log-odds per s.d., {pct} CI): " + ", ".join(parts)


def render(result: Leaderboard | Boards, fmt: Format, elo: Mapping[str, float] | None = None) -> tuple[str, list[str]]:
    """The text for stdout and notes for stderr (too-small groups).

    ``result``: one board, or labelled boards (groups, components), each titled by its
    label. ``elo``: online Elo per model, shown as an extra column.
    """
    boards: dict[str | None, Leaderboard | TooSmall] = (
        {None: result} if isinstance(result, Leaderboard) else {k: v for k, v in result.items()}
    )
    notes = [f"{label}: not ranked ({item.reason})" for label, item in boards.items() if isinstance(item, TooSmall)]
    fitted = {k: v for k, v in boards.items() if isinstance(v, Leaderboard)}
    if fmt in ("json", "csv"):
        notes += [line for lb in fitted.values() if (line := style_line(lb))]
        rows: list[dict[str, object]] = []
        for label, lb in fitted.items():
            for r in lb.records():
                row: dict[str, object] = {"group": label} if label is not None else {}
                row.update(r)
                if elo is not None:
                    row["elo"] = elo.get(r["model"], math.nan)
                rows.append(row)
        if fmt == "json":
            return json.dumps(_plain(rows), indent=1), notes
        cols = (["group"] if None not in fitted else []) + list(ROW_KEYS) + (["elo"] if elo is not None else [])
        import pandas as pd  # its CSV writer, only for --format csv

        buf = io.StringIO()
        pd.DataFrame(rows, columns=cols).to_csv(buf, index=False)
        return buf.getvalue().rstrip("\n"), notes
    parts = []
    for label, lb in fitted.items():
        if fmt == "markdown":
            parts.append(
                (f"### {label}\n\n" if label is not None else "")
                + table(lb, markdown=True, elo=elo)
                + f"\n\n_{summary(lb)}_"
            )
        else:
            parts.append(("" if label is None else f"{label}: ") + f"{summary(lb)}\n{table(lb, elo=elo)}")
    return "\n\n".join(parts), notes
