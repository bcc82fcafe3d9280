"""The page's frame: one column width on every tab, a phone layout, keyboard focus, dark mode.

CSS and a small script for the whole page, kept apart from what each tab draws:
- Gradio sizes its container to its content, so the column jumped between 784 and
  1136 px as tabs changed; here it always takes the full width up to its maximum.
- On a phone (up to 480 px) the terms notice, the prompt box and its counter come
  first, the two answers stack one above the other at full width instead of two
  170-px columns, and the intro is shorter, so the prompt box is on the first screen.
- A model's label sits above its output instead of floating over it.
- Tab bars take the arrow keys, Home and End (the WAI-ARIA tabs pattern Gradio lacks).
- After sending a prompt Gradio disables the focused box and the focus falls to the
  page; it goes back to the prompt box. After a vote, once the names are revealed, it
  goes to the prompt box, or to New battle while a voted battle takes no more prompts,
  and from New battle to the prompt box once that opens (not on touch screens, where
  focusing pops up the keyboard).
- Dark mode follows the system setting (Gradio's own dark theme, chosen by the
  browser's prefers-color-scheme unless the URL says ?__theme=light or dark).
"""

CSS = """
.gradio-container { width: 100% !important; }
.arena-outputs label[data-testid="block-label"].float { position: static !important; margin: 0 0 .35rem; }
@media (max-width: 480px) {
  .arena-terms { order: -3; }
  [id^="arena-"][id$="-counter"], [id^="sbs-"][id$="-counter"] { order: -1; }
  #intro h2 { font-size: 1.2rem; margin: 0 0 .2rem; }
  #intro p { font-size: .9rem; margin: 0; }
  .arena-prompt { order: -2; }
  .arena-outputs { flex-direction: column !important; gap: 8px !important; }
  .arena-outputs > * { width: 100% !important; min-width: 0 !important; flex: 0 0 auto !important; }
}
/* Dark mode (Gradio's .dark, set from the system setting): the page's own colours, dimmed. */
.dark .arena-status-working { background: #1e293b; color: #bfdbfe; }
.dark .arena-status-ok { background: #14321f; color: #bbf7d0; }
.dark .arena-status-error { background: #3f1515; color: #fecaca; }
.dark .arena-chart .arena-dot { fill: #93c5fd; }
.dark .arena-chart .arena-ci { stroke: #60a5fa; }
.dark .arena-chart .arena-grid { stroke: #3f3f46; }
"""

HEAD = """<script>
(() => {
  // Tab bars: arrow keys, Home and End move to a tab and open it.
  document.addEventListener('keydown', (event) => {
    const tab = event.target.closest && event.target.closest('[role="tab"]');
    const list = tab && tab.closest('[role="tablist"]');
    if (!list) return;
    const tabs = [...list.querySelectorAll('[role="tab"]')]
      .filter((other) => other.closest('[role="tablist"]') === list && !other.disabled && other.offsetParent !== null);
    const at = tabs.indexOf(tab);
    const to = {ArrowRight: at + 1, ArrowLeft: at - 1, Home: 0, End: tabs.length - 1}[event.key];
    if (to === undefined || at < 0) return;
    event.preventDefault();
    const target = tabs[(to + tabs.length) % tabs.length];
    target.focus();
    target.click();
  });

  // Focus back to the prompt box after sending (which disables the focused box) and after a vote
  // (once the names are revealed); to New battle while a voted battle takes no more prompts.
  const PANEL = /^((?:arena|sbs)-(?:text|image|3d))-(?:prompt|send|vote-|random|regenerate|new)/;
  let panel = null;
  let voted = null;  // the panel whose vote button was pressed, until its names are revealed
  let after = null;  // the panel whose vote is in, until the voter moves the focus elsewhere
  const panelOf = (element) => {
    for (let node = element; node && node.id !== undefined; node = node.parentElement) {
      const found = node.id && node.id.match(PANEL);
      if (found) return found[1];
    }
    return null;
  };
  document.addEventListener('focusin', (event) => {
    panel = panelOf(event.target);
    const named = event.target.closest('[id]');
    if (after && !/-(prompt|new|vote-)/.test(named ? named.id : '')) after = null;
  });
  document.addEventListener('click', (event) => {
    const button = event.target.closest && event.target.closest('button[id*="-vote-"]');
    if (button) voted = panelOf(button);
  }, true);
  const usable = (element) => element && !element.disabled && element.offsetParent !== null;
  const refocus = () => {
    if (!panel || matchMedia('(pointer: coarse)').matches) return;
    const box = document.querySelector(`#${panel}-prompt textarea`);
    const next = document.querySelector(`#${panel}-new`);
    const focused = document.activeElement;
    const lost = !focused || focused === document.body || focused.disabled;
    const names = voted === panel && document.querySelector(`#${panel}-reveal .prose`);
    if (names && names.innerText.trim()) [voted, after] = [null, panel];  // the vote is in
    if (after === panel && (lost || (focused.id || '').includes('-vote-'))) {
      const target = usable(box) ? box : next;  // a voted battle that takes no prompt: New battle
      if (usable(target)) target.focus({preventScroll: true});
    } else if (usable(box) && (lost || focused === next)) {
      box.focus({preventScroll: true});
    }
  };
  new MutationObserver(refocus).observe(document.documentElement, {
    subtree: true, attributes: true, attributeFilter: ['disabled'], childList: true, characterData: true,
  });
})();
</script>"""
