"""Counted text votes with both answers, for fits that look at the answers (style control).

One row per counted anonymous text vote: model_a, model_b, winner, and the assistant
turns of each side joined in order (answer_a, answer_b). Read in a background job,
never per request: it touches every counted vote and its outputs.
"""

from __future__ import annotations

import pandas as pd
from sqlalchemy import select

from arena.store.engine import Store
from arena.store.schema import Battle, Output, Vote
from arena.vocabulary import Dimension, Modality


def text_votes_with_answers(store: Store, dimension: Dimension = Dimension.OVERALL) -> pd.DataFrame:
    votes = (
        select(Vote.id, Vote.battle_id, Battle.model_a, Battle.model_b, Vote.winner)
        .join(Battle, Battle.id == Vote.battle_id)
        .where(Battle.modality == Modality.TEXT, Vote.dimension == dimension, Vote.anonymous, Vote.valid)
    )
    outputs = (
        select(Output.battle_id, Output.side, Output.turn, Output.text)
        .join(Vote, Vote.battle_id == Output.battle_id)
        .join(Battle, Battle.id == Vote.battle_id)
        .where(Battle.modality == Modality.TEXT, Vote.dimension == dimension, Vote.anonymous, Vote.valid)
        .order_by(Output.battle_id, Output.turn)
    )
    with store.read() as session:
        frame = pd.DataFrame(session.execute(votes).all(), columns=["id", "battle_id", "model_a", "model_b", "winner"])
        texts = pd.DataFrame(session.execute(outputs).all(), columns=["battle_id", "side", "turn", "text"])
    answers = (
        texts.fillna({"text": ""}).groupby(["battle_id", "side"])["text"].apply(list).unstack("side")
        if len(texts)
        else pd.DataFrame(columns=["a", "b"])
    )
    frame = frame.join(answers.rename(columns={"a": "answer_a", "b": "answer_b"}), on="battle_id")
    return frame.drop(columns=["id", "battle_id"])
