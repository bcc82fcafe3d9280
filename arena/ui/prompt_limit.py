"""The prompt limit, told before sending: a live counter under each prompt box.

The box itself has no maxlength, so a pasted prompt is never clipped without a word;
the counter turns red past ARENA_MAX_PROMPT_CHARS and the panel refuses to send it
(`too_long`), keeping the prompt in the box for the voter to shorten. Characters are
counted as the server counts them (code points, not UTF-16 units, without leading and
trailing spaces).
"""

from html import escape

HEAD = """
<style>
.arena-counter { font-size: .85rem; text-align: right; color: var(--body-text-color-subdued); }
.arena-counter.arena-over { color: #b91c1c; font-weight: 600; }
</style>
<script>
(() => {
  const sync = () => {
    for (const counter of document.querySelectorAll(".arena-counter[data-box]")) {
      const box = document.querySelector(`#${counter.dataset.box} textarea`);
      if (!box) continue;
      const used = [...box.value.trim()].length, limit = Number(counter.dataset.max);
      const text = used > limit
        ? `${used.toLocaleString("en")} / ${limit.toLocaleString("en")} characters: too long, shorten it to send`
        : `${used.toLocaleString("en")} / ${limit.toLocaleString("en")} characters`;
      if (counter.textContent !== text) counter.textContent = text;
      counter.classList.toggle("arena-over", used > limit);
    }
  };
  document.addEventListener("input", sync, true);
  setInterval(sync, 300);  // the server also clears boxes
})();
</script>
"""


def counter_html(box_id: str, limit: int) -> str:
    """The counter for the prompt box `box_id` (filled in by HEAD's script as the voter types)."""
    return (
        f'<div class="arena-counter" data-box="{escape(box_id)}" data-max="{limit}" aria-live="polite">'
        f"0 / {limit:,} characters</div>"
    )


def too_long(prompt: str, limit: int) -> str | None:
    """The refusal for a prompt over the limit, or None when it fits."""
    if len(prompt) <= limit:
        return None
    return (
        f"Your prompt is {len(prompt):,} characters long; the limit is {limit:,}. "
        f"Shorten it by {len(prompt) - limit:,} and send again."
    )
