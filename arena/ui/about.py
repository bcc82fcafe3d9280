"""The About tab: how the arena works, its rules, what it stores, how to take part."""

import gradio as gr

from arena.runtime import Arena


def about_markdown(arena: Arena) -> str:
    """Plain words for a visitor who arrived from a link; the numbers come from the settings."""
    settings = arena.settings
    return f"""
## How it works
1. Type a prompt (or press **Random prompt**) in the **Arena** tab: two anonymous models, **Model A** and
   **Model B**, answer it side by side. Text streams in as it is written; you can send follow-up messages
   to the same two models.
2. When both outputs are complete, vote: **A is better**, **B is better**, **Tie** or **Both are bad**.
   For images and 3D models you can also say which is better for specific qualities.
3. Your vote reveals the two models' names and locks the battle. Press **New battle** for another.
4. The **Leaderboard** ranks models with a Bradley–Terry model: ratings with 95% confidence intervals,
   per modality and quality dimension, and per prompt category or voter group.

## The rules
- Vote on the outputs, not on guesses about who made them. A text answer that names its own model
  spoils anonymity, so that vote is stored but not counted.
- One vote per battle and quality dimension, only after both outputs are shown; you can
  **Regenerate** (a new pair of models) as long as you have not voted.
- A battle with a failed output takes no vote.
- **Side-by-side** lets you pick both models by name. Those votes are stored but never count on the main
  leaderboard, because knowing the names changes how people vote.
- A model with fewer than {settings.provisional_votes} votes is marked *provisional*; groups with fewer
  than {settings.min_group_votes} votes show no table.

## What is stored, and privacy
- A random voter id in a cookie (`arena_voter`). Its only purpose is to keep your battles, votes, optional
  profile and your acceptance of these terms together without a login; it is not used for advertising or to
  follow you to other sites. There is no login and no name or e-mail.
- Your prompts, both outputs, the pair of models and your votes.
- A salted, one-way hash of your IP address (HMAC-SHA256), used only to detect fraud; never the address.
- If you fill in **About you** (optional): age band, gender, country, first language and expertise.
  You can change or delete those answers at any time; deleting them removes them from your votes too.
- Published vote dumps use a pseudonym per release instead of voter ids (salted anew for each dump, so two
  dumps cannot be linked), and no addresses. Demographics appear in dumps and group leaderboards only where at
  least {settings.k_anonymity} voters share them (k-anonymity); a rarer value or combination is left out.

## Terms of use
Before your first battle the page asks you to accept this notice, once; your acceptance is stored with your
voter id.
- Everything you type as a prompt, both models' outputs and your votes are stored, and may be **published** in
  the anonymised vote dumps described above, for anyone to download and study.
- **Do not enter private or personal information** (names, addresses, health, passwords, anything about other
  people): prompts are shown to the models' operators and published.
- Outputs come from experimental models and may be wrong or offensive; they are not the arena's opinion.
- Vote honestly on what you see; automated or coordinated voting is detected and excluded.

## Take part
- **Submit a model:** serve it behind an OpenAI-compatible endpoint over https (`/v1/chat/completions`,
  `/v1/images/generations`, or this project's `/v1/3d/generations`) and submit it in the **Submit a model**
  tab (or `POST /api/v1/submissions`). The arena probes it, an operator approves it, and it enters battles with
  a provisional rating until it has enough votes; its API key is encrypted and never shown again.
- **Download the data:** the REST API is documented at [/api/v1/docs](/api/v1/docs)
  ([OpenAPI](/api/v1/openapi.json)): models, leaderboards (with groups) and artifacts. The **Data** tab
  lists the published vote dumps (Parquet, CSV or JSON lines, also at [/api/v1/dumps](/api/v1/dumps)), each
  with a manifest and the `arena rank` command that reproduces the leaderboard from it.
"""


def build_about_tab(arena: Arena) -> None:
    gr.Markdown(about_markdown(arena), elem_id="about-text")
