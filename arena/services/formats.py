"""Pairing-aware 3D battles: an untextured mesh is not drawn against a textured one.

3D Arena's authors found that the output format decides votes (a coloured model beats a
grey one whatever the shapes), so such a battle says little about quality. Models whose
`display.output_format` names an untextured mesh are paired only among themselves,
and textured ones among themselves, unless the operator sets ARENA_MIX_3D_FORMATS.
A model without a stated format pairs with any.
"""

from collections.abc import Mapping

from sqlalchemy import select

from arena.services.sampling import Pair
from arena.store.engine import Store
from arena.store.schema import Model
from arena.vocabulary import Modality


def output_formats(store: Store, modality: Modality) -> tuple[set[str], set[str]]:
    """The untextured and the textured models of a modality, by their stated output format."""
    with store.read() as session:
        rows = session.execute(
            select(Model.name, Model.output_format).where(Model.modality == modality, Model.output_format.is_not(None))
        ).all()
    plain = {name for name, fmt in rows if fmt and "untextured" in fmt.lower()}
    return plain, {name for name, _ in rows} - plain


def same_format_pairs(pairs: Mapping[Pair, float], untextured: set[str], textured: set[str]) -> dict[Pair, float]:
    """`pairs` without the pairs of an untextured and a textured model, renormalised to sum to 1.

    Raises ValueError when no pair is left (as the sampler does with fewer than two models).
    """
    kept = {pair: p for pair, p in pairs.items() if not (set(pair) & untextured and set(pair) & textured)}
    total = sum(kept.values())
    if not kept or total <= 0:
        raise ValueError("no two models of the same output format")
    return {pair: p / total for pair, p in kept.items()}
