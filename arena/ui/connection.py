"""The page's watch on its server: a lost connection is shown, never hidden.

Gradio alone keeps a dead stream's "answering…" bar moving and its vote buttons
enabled. This script, loaded in the page's <head>, asks the API's health route every
few seconds; when the server cannot be reached it shows a banner ("Connection lost,
retrying…"), marks the page offline (the progress bars stop) and disables every vote
button, Send, New battle, Regenerate and the prompt boxes, so nothing can be pressed or
sent that would not reach the server. Once the server
answers again it reloads the page, and the panels restore their unvoted battles from
the database (see restore.py): a reload is the one state the page can trust after its
streams were cut.
"""

CHECK_EVERY_MS = 2000  # a refused connection shows within this; a hanging one within this + the timeout
CHECK_TIMEOUT_MS = 3000
LOST = "Connection lost, retrying…"

HEAD = f"""
<style>
#arena-connection {{ position: fixed; top: 0; left: 0; right: 0; z-index: 1000; padding: .6rem 1rem;
  background: #7f1d1d; color: #fff; font-weight: 600; text-align: center; font-size: 1rem; }}
body.arena-offline .arena-progress {{ display: none; }}
</style>
<script>
(() => {{
  let lost = false;
  const controls = () => document.querySelectorAll(
    ".arena-votes button, .arena-dimensions button, .arena-dimensions input,"
    + " button[id$='-send'], button[id$='-new'], button[id$='-regenerate'], [id$='-prompt'] textarea");
  function disableControls() {{
    controls().forEach(b => {{ b.disabled = true; }});
  }}
  function showLost() {{
    document.body.classList.add("arena-offline");
    let el = document.getElementById("arena-connection");
    if (!el) {{
      el = document.createElement("div");
      el.id = "arena-connection";
      el.setAttribute("role", "alert");
      el.textContent = {LOST!r};
      document.body.appendChild(el);
    }}
    disableControls();
  }}
  async function check() {{
    let up = false;
    try {{
      const answer = await fetch("/api/v1/health", {{
        cache: "no-store", signal: AbortSignal.timeout({CHECK_TIMEOUT_MS}) }});
      up = answer.status < 502;  // a proxy's 502-504: the server behind it is gone
    }} catch (error) {{
      up = false;
    }}
    if (!up) {{
      lost = true;
      showLost();
    }} else if (lost) {{
      window.location.reload();
      return;
    }}
    setTimeout(check, {CHECK_EVERY_MS});
  }}
  setTimeout(check, {CHECK_EVERY_MS});  // Gradio adds this <head> after the load event
}})();
</script>
"""
