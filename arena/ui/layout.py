"""The page's frame: one column width on every tab, a phone layout, keyboard focus, dark mode.

CSS and a small script for the whole page, kept apart from what each tab draws:
- Gradio sizes its container to its content, so the column jumped between 784 and
  1136 px as tabs changed; here it always takes the full width up to its maximum.
- On a phone (up to 480 px) the prompt comes first, the two answers stack one above
  the other at full width instead of two 170-px columns, and the intro is shorter,
  so the prompt box is on the first screen.
- A model's label sits above its output instead of floating over it.
- Tab bars take the arrow keys, Home and End (the WAI-ARIA tabs pattern Gradio lacks).
- After sending a prompt or voting, Gradio disables the control that had the focus and
  the focus falls to the page; it goes back to that panel's prompt box instead, or to
  New battle while a voted battle takes no more prompts, and from New battle to the
  prompt box once it opens (not on touch screens, where focusing pops up the keyboard).
- Dark mode follows the system setting (Gradio's own dark theme, chosen by the
  browser's prefers-color-scheme unless the URL says ?__theme=light or dark).
"""

CSS = """
.gradio-container { width: 100% !important; }
.arena-outputs label[data-testid="block-label"].float { position: static !important; margin: 0 0 .35rem; }
@media (max-width: 480px) {
  #intro h2 { font-size: 1.2rem; margin: 0 0 .2rem; }
  #intro p { font-size: .9rem; margin: 0; }
  .arena-prompt { order: -1; }
  .arena-outputs { flex-direction: column !important; gap: 8px !important; }
  .arena-outputs > * { width: 100% !important; min-width: 0 !important; flex: 0 0 auto !important; }
}
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

  // Focus back to the prompt box when sending or voting disabled the focused control.
  const PANEL = /^((?:arena|sbs)-(?:text|image|3d))-(?:prompt|send|vote-|random|regenerate|new)/;
  let panel = null;
  let source = null;  // the control that had the focus last
  const panelOf = (element) => {
    for (let node = element; node && node.id !== undefined; node = node.parentElement) {
      const found = node.id && node.id.match(PANEL);
      if (found) return found[1];
    }
    return null;
  };
  document.addEventListener('focusin', (event) => {
    panel = panelOf(event.target);
    source = event.target;
  });
  const refocus = () => {
    if (!panel || matchMedia('(pointer: coarse)').matches) return;
    const box = document.querySelector(`#${panel}-prompt textarea`);
    const next = document.querySelector(`#${panel}-new`);
    const focused = document.activeElement;
    const lost = !focused || focused === document.body || focused.disabled;
    if (box && !box.disabled && box.offsetParent !== null && (lost || focused === next)) {
      box.focus({preventScroll: true});
    } else if (lost && source && /-vote-/.test(source.id) && box && box.disabled && next && !next.disabled) {
      next.focus({preventScroll: true});  // a voted battle takes no more prompts: New battle is the next step
    }
  };
  new MutationObserver(refocus).observe(document.documentElement, {
    subtree: true, attributes: true, attributeFilter: ['disabled'], childList: true,
  });
})();
</script>"""
