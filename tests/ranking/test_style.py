"""Style control: features as LMArena computes them, and a contextual fit that recovers
known strengths and style coefficients where the plain fit does not."""

import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ranking import RankingError, RankOptions, rank, rank_components, rank_groups, style_features
from ranking.cli import main
from ranking.simulate import SCALE, simulate
from ranking.style import STYLE_FEATURES, style_counts

TRUE_BETA = {"length": 0.4, "bold": -0.15}


def test_markdown_counts_follow_lmarena():
    text = "# Title\n## Sub\nSome **bold** and __also__.\n- a\n* b\n1. c\n```\n# not a header\n- nor a list\n```\n"
    conv = [{"role": "user", "content": "# question"}, {"role": "assistant", "content": text}]
    assert style_counts(conv) == {"length": len(text), "headers": 2, "lists": 3, "bold": 2}
    parts = [{"role": "assistant", "content": [{"type": "text", "text": text}]}]
    assert style_counts(parts) == style_counts(conv) == style_counts(json.dumps(conv))
    assert style_counts(None) == {"length": 0, "headers": 0, "lists": 0, "bold": 0}


def test_style_features_are_normalised_differences():
    a = [{"role": "assistant", "content": "x" * 99 + "\n**b**"}]
    b = [{"role": "assistant", "content": "short"}]
    f = style_features(a, b)
    assert list(f) == [f"style_{k}" for k in STYLE_FEATURES]
    ca, cb = style_counts(a)["length"], style_counts(b)["length"]
    assert f["style_length"] == pytest.approx((ca - cb) / (ca + cb + 1))
    assert f["style_bold"] == pytest.approx(1 / 2) and f["style_headers"] == 0
    assert style_features(b, a)["style_length"] == pytest.approx(-f["style_length"])


def simulated(n_votes=100_000, seed=3):
    """Votes where voters reward length (and dislike bold) beyond the models' strengths;
    verbose models are not the strong ones."""
    rng = np.random.default_rng(seed)
    arena = simulate(12, n_votes, seed=seed, spread=0.6, tie_rate=0.0)
    m = len(arena.models)
    verbosity = rng.normal(0, 1.0, m)
    boldness = rng.normal(0, 1.0, m)
    la = np.exp(6 + verbosity[arena.a] + 0.3 * rng.standard_normal(n_votes))
    lb = np.exp(6 + verbosity[arena.b] + 0.3 * rng.standard_normal(n_votes))
    ba = rng.poisson(np.exp(boldness[arena.a]))
    bb = rng.poisson(np.exp(boldness[arena.b]))
    raw = {"length": (la - lb) / (la + lb + 1), "bold": (ba - bb) / (ba + bb + 1)}
    d = arena.theta[arena.a] - arena.theta[arena.b]
    for k, beta in TRUE_BETA.items():
        d = d + beta * (raw[k] - raw[k].mean()) / raw[k].std()
    win = rng.random(n_votes) < 1 / (1 + np.exp(-d))
    names = np.array(arena.models)
    df = pd.DataFrame(
        {
            "model_a": names[arena.a],
            "model_b": names[arena.b],
            "winner": np.where(win, "model_a", "model_b"),
            "style_length": raw["length"],
            "style_bold": raw["bold"],
        }
    )
    return df, pd.Series(1000 + SCALE * arena.theta, index=arena.models)


def max_error(lb, truth):
    r = lb.to_frame().set_index("model")["rating"]
    return float((r - truth[r.index]).abs().max())


def test_controlled_fit_recovers_strengths_and_coefficients():
    df, truth = simulated()
    controlled = rank(df, style="controlled")
    plain = rank(df)
    assert controlled.diagnostics["converged"] and controlled.diagnostics["style"] == "controlled"
    assert max_error(controlled, truth) < 20
    assert max_error(plain, truth) > 60
    assert set(controlled.style) == set(TRUE_BETA)
    for k, beta in TRUE_BETA.items():
        lo, hi = controlled.style_ci[k]
        assert abs(controlled.style[k] - beta) < 0.05 and lo < beta < hi, k
    assert plain.style is None and "style" not in plain.to_dict()
    assert set(controlled.to_dict()["style"]["length"]) == {"coef", "ci_low", "ci_high"}
    shrunk = rank(df, style="controlled", style_reg=1.0)
    assert 0 < shrunk.style["length"] < controlled.style["length"]


def test_without_style_the_contextual_fit_is_the_plain_fit():
    """A constant feature is dropped; what is left is BT on the same votes, so ratings
    and sandwich intervals equal the plain (counted) fit's."""
    df = simulate(8, 5_000, seed=5).frame().astype(str).assign(style_flat=1.0)
    plain, ctx = rank(df), rank(df, style="controlled")
    assert ctx.diagnostics["style_dropped"] == ["flat"] and ctx.style == {}
    a, b = plain.to_frame(), ctx.to_frame()
    for col in ("rating", "ci_low", "ci_high"):
        assert np.allclose(a[col], b[col], atol=1e-7), col
    pos_plain, pos_ctx = rank(df, position=True), rank(df, position=True, style="controlled")
    assert pos_ctx.diagnostics["position_advantage"] == pytest.approx(pos_plain.diagnostics["position_advantage"])
    assert pos_ctx.diagnostics["position_advantage_se"] == pytest.approx(pos_plain.diagnostics["position_advantage_se"])


def test_voter_clustered_sandwich():
    df, _ = simulated(20_000)
    one_each = df.assign(judge=[f"v{k}" for k in range(len(df))])
    a, b = rank(one_each, style="controlled"), rank(one_each, style="controlled", ci="cluster")
    assert np.allclose(a.to_frame().ci_low, b.to_frame().ci_low) and np.allclose(
        a.style_ci["length"], b.style_ci["length"]
    )
    assert b.diagnostics["ci"] == "cluster" and b.diagnostics["rounds"] == 0
    # voters with a taste of their own for length: clustered intervals are wider
    rng = np.random.default_rng(0)
    judge = rng.integers(0, 40, len(df))
    taste = rng.normal(0, 1.0, 40)[judge]  # > 0: this voter picks the longer answer, < 0 the shorter
    flip = rng.random(len(df)) < np.minimum(0.3 * np.abs(taste), 0.6)
    lean = np.where((taste > 0) == (df.style_length > 0), "model_a", "model_b")
    tasteful = df.assign(judge=judge.astype(str), winner=np.where(flip, lean, df.winner))
    s, c = rank(tasteful, style="controlled"), rank(tasteful, style="controlled", ci="cluster")
    width = lambda lb: lb.style_ci["length"][1] - lb.style_ci["length"][0]  # noqa: E731
    assert width(c) > 1.5 * width(s) and c.style == pytest.approx(s.style)
    with pytest.raises(RankingError, match="voter column"):
        rank(df, style="controlled", ci="cluster")


def with_conversations(df, seed=0):
    rng = np.random.default_rng(seed)

    def answer():
        body = "word " * int(rng.integers(5, 200))
        heads = "".join(f"## h{k}\n" for k in range(int(rng.integers(0, 3))))
        items = "".join(f"- item {k}\n" for k in range(int(rng.integers(0, 4))))
        return heads + body + "\n" + items + ("**bold**" if rng.random() < 0.5 else "")

    conv = lambda: [{"role": "user", "content": "q"}, {"role": "assistant", "content": answer()}]  # noqa: E731
    out = df[["model_a", "model_b", "winner"]].copy()
    out["conversation_a"] = [conv() for _ in range(len(out))]
    out["conversation_b"] = [conv() for _ in range(len(out))]
    return out


def test_features_from_conversations_in_every_format(tmp_path):
    df = with_conversations(simulate(5, 600, seed=7).frame().astype(str))
    pre = pd.concat(
        [df, pd.DataFrame([style_features(a, b) for a, b in zip(df.conversation_a, df.conversation_b)])], axis=1
    )
    ref = rank(pre.drop(columns=["conversation_a", "conversation_b"]), style="controlled")
    assert sorted(ref.style) == sorted(STYLE_FEATURES)
    pq.write_table(pa.Table.from_pandas(df, preserve_index=False), tmp_path / "v.parquet", row_group_size=200)
    df.to_json(tmp_path / "v.jsonl", orient="records", lines=True)
    (tmp_path / "v.json").write_text(json.dumps(df.to_dict(orient="records")))
    df.assign(
        conversation_a=df.conversation_a.map(json.dumps), conversation_b=df.conversation_b.map(json.dumps)
    ).to_csv(tmp_path / "v.csv", index=False)
    for src in (df, tmp_path / "v.parquet", tmp_path / "v.jsonl", tmp_path / "v.json", tmp_path / "v.csv"):
        lb = rank(src, style="controlled")
        assert lb.style == pytest.approx(ref.style), src
        assert np.allclose(lb.to_frame().rating, ref.to_frame().rating), src


def metadata(conv_a, conv_b):
    """LMArena's conv_metadata for two conversations (length in characters here)."""
    out = {}
    for side, conv in (("a", conv_a), ("b", conv_b)):
        c = style_counts(conv)
        out[f"sum_assistant_{side}_tokens"] = c["length"]
        out[f"header_count_{side}"] = {"h1": c["headers"], "h2": 0, "h3": 0, "h4": 0, "h5": 0, "h6": 0}
        out[f"list_count_{side}"] = {"ordered": 0, "unordered": c["lists"]}
        out[f"bold_count_{side}"] = {"**": c["bold"], "__": 0}
    return out


def test_features_from_lmarena_conv_metadata(tmp_path):
    df = with_conversations(simulate(5, 600, seed=7).frame().astype(str))
    ref = rank(df, style="controlled")
    meta = df[["model_a", "model_b", "winner"]].assign(
        conv_metadata=[metadata(a, b) for a, b in zip(df.conversation_a, df.conversation_b)]
    )
    pq.write_table(pa.Table.from_pandas(meta, preserve_index=False), tmp_path / "m.parquet")
    for src in (meta, tmp_path / "m.parquet", meta.assign(conversation_a=None, conversation_b=None)):
        lb = rank(src, style="controlled")
        assert lb.style == pytest.approx(ref.style)
        assert np.allclose(lb.to_frame().rating, ref.to_frame().rating)
    meta.loc[4, "conv_metadata"] = None
    assert rank(meta, style="controlled").diagnostics["skipped"] == {"missing_field": 1}


def test_style_rows_are_screened_like_the_others():
    df, _ = simulated(3_000)
    df.loc[3, "style_length"] = np.nan
    df.loc[5, "model_b"] = df.loc[5, "model_a"]
    lb = rank(df, style="controlled")
    assert lb.diagnostics["skipped"] == {"missing_field": 1, "self_comparison": 1}
    with pytest.raises(RankingError, match="column 'style' has 1 missing values"):
        rank(df, style="controlled", strict=True)


@pytest.mark.parametrize(
    "kwargs,text",
    [
        ({"style": "raw"}, "style must be one of none, controlled"),
        ({"style": "controlled", "ci": "bootstrap"}, "not ci='bootstrap'"),
        ({"style": "controlled", "ties": "davidson"}, "not davidson"),
        ({"style": "controlled", "reweight": True}, "reweight"),
        ({"style_reg": -1}, "style_reg must be a finite number >= 0"),
    ],
)
def test_bad_style_options(kwargs, text):
    with pytest.raises(RankingError, match=text):
        RankOptions(**kwargs)


def test_style_needs_features_and_one_board():
    df = simulate(4, 200, seed=1).frame().astype(str)
    with pytest.raises(RankingError, match="style control needs style_\\* feature columns, LMArena's conv_metadata"):
        rank(df, style="controlled")
    with pytest.raises(RankingError, match="one row per vote"):
        rank(df.groupby(["model_a", "model_b", "winner"]).size().rename("count").reset_index(), style="controlled")
    with pytest.raises(RankingError, match="not rank_components"):
        rank_components(df.assign(style_x=1.0), style="controlled")


def test_style_controlled_groups_fit_each_group_on_its_own():
    df, _ = simulated(20_000)
    df["lang"] = np.where(np.arange(len(df)) % 3 == 0, "de", "en")
    boards = rank_groups(df, "lang", style="controlled", min_votes=0)
    assert list(boards) == ["en", "de"]
    for lang, lb in boards.items():
        alone = rank(df[df.lang == lang].drop(columns="lang"), style="controlled")
        assert lb.style == pytest.approx(alone.style), lang
        assert np.allclose(lb.to_frame().rating, alone.to_frame().rating), lang


def test_cli_style_control(tmp_path, capsys):
    df, _ = simulated(4_000)
    df.to_parquet(tmp_path / "v.parquet")
    assert main([str(tmp_path / "v.parquet"), "--style-control"]) == 0
    out = capsys.readouterr().out
    assert "style control, coefficients (log-odds per s.d., 95% CI): bold -" in out and "length +" in out
    assert main([str(tmp_path / "v.parquet"), "--style-control", "--format", "json"]) == 0
    captured = capsys.readouterr()
    assert len(json.loads(captured.out)) == 12 and captured.err.startswith("style control, coefficients")
    df.assign(lang=np.where(np.arange(len(df)) % 2, "de", "en")).to_csv(tmp_path / "v.csv", index=False)
    assert main([str(tmp_path / "v.csv"), "--style-control", "--by", "lang", "--min-votes", "0"]) == 0
    assert capsys.readouterr().out.count("style control, coefficients") == 2
    assert main([str(tmp_path / "v.parquet"), "--style-control", "--ci", "bootstrap"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: style control has sandwich intervals") and err.count("\n") == 1
