"""Votes open when the voter can see both outputs, not when the server has sent them.

An image is sent as a URL and a 3D model as a GLB file that the viewer still has to
fetch, parse and draw (0.7 to 1.7 s in software rendering). So after a battle
finishes, the page runs `WAIT` in the browser (a js-only step of the event chain,
which Gradio awaits) and only then asks the server to open the votes: WAIT resolves
once both images are decoded, or once both 3D canvases have drawn since their model
arrived. HEAD counts each WebGL canvas's draw calls, and makes the two 3D viewers of a
panel one camera, as 3D Arena's voters expect when comparing shapes: a drag or wheel turn
on one viewer is replayed on the other (Gradio's Model3D exposes no camera to link).
"""

HEAD = """
<script>
(() => {
  // Count the draw calls of every WebGL canvas: a 3D viewer has drawn its model once it
  // draws after the model's file arrived.
  const getContext = HTMLCanvasElement.prototype.getContext;
  HTMLCanvasElement.prototype.getContext = function (type, ...rest) {
    const gl = getContext.call(this, type, ...rest);
    if (gl && /webgl/.test(type) && !gl.__arenaCounted) {
      gl.__arenaCounted = true;
      const canvas = this;
      canvas.__arenaDraws = 0;
      for (const name of ["drawElements", "drawArrays", "drawElementsInstanced", "drawArraysInstanced"]) {
        const draw = gl[name];
        if (draw) gl[name] = function (...args) { canvas.__arenaDraws++; return draw.apply(this, args); };
      }
    }
    return gl;
  };
  // One camera for a panel's two viewers: a drag or wheel turn on one is replayed on the twin.
  // The replayed pointer has no real pointer behind it, so capturing it may fail: ignore that.
  for (const name of ["setPointerCapture", "releasePointerCapture"]) {
    const original = Element.prototype[name];
    Element.prototype[name] = function (id) { try { return original.call(this, id); } catch (error) { return undefined; } };
  }
  const twin = canvas => {
    const side = canvas.closest("[id$='-out-a'], [id$='-out-b']");
    if (!side || !/-3d-out-/.test(side.id)) return null;
    const other = side.id.replace(/-out-([ab])$/, (_, s) => "-out-" + (s === "a" ? "b" : "a"));
    return document.querySelector(`#${other} canvas`);
  };
  const replay = event => {
    if (!event.isTrusted || !(event.target instanceof HTMLCanvasElement)) return;
    const other = twin(event.target);
    if (!other) return;
    const from = event.target.getBoundingClientRect(), to = other.getBoundingClientRect();
    const init = {
      bubbles: true, cancelable: true, composed: true, view: window,
      clientX: event.clientX - from.left + to.left, clientY: event.clientY - from.top + to.top,
      screenX: event.screenX, screenY: event.screenY, movementX: event.movementX, movementY: event.movementY,
      button: event.button, buttons: event.buttons, ctrlKey: event.ctrlKey, shiftKey: event.shiftKey,
    };
    if (event instanceof WheelEvent) {
      other.dispatchEvent(new WheelEvent("wheel", { ...init, deltaX: event.deltaX, deltaY: event.deltaY,
        deltaMode: event.deltaMode }));
    } else {
      other.dispatchEvent(new PointerEvent(event.type, { ...init, pointerId: event.pointerId + 1000,
        pointerType: event.pointerType, isPrimary: false, width: 1, height: 1, pressure: event.pressure }));
    }
  };
  for (const type of ["pointerdown", "pointermove", "pointerup", "wheel"]) {
    document.addEventListener(type, replay, { capture: true, passive: true });
  }
})();
</script>
"""

# Resolves when both outputs of the panel are on screen, or the panel was cleared (a new
# battle): the server's next step opens the votes only for a battle that is ready.
# Resolves when both outputs are on screen, or when a side has shown no output for two
# seconds (a failed battle, no battle, or the voter left it). The server's next step opens
# the votes only for a ready battle: the browser never sees the panel's state.
WAIT = """
async () => {
  const panel = "%s";
  const side = s => document.querySelector(`#${panel}-out-${s}`);
  const shown = el => {
    if (!el) return false;
    const img = el.querySelector("img");
    if (img) return img.complete && img.naturalWidth > 0;
    const link = el.querySelector("a[data-testid='model3d-download-link'][href]");
    const canvas = el.querySelector("canvas");
    if (!link || !canvas || canvas.__arenaDraws === undefined) return false;
    if (canvas.__arenaModel !== link.href) {
      canvas.__arenaModel = link.href;
      canvas.__arenaDrawsAtModel = canvas.__arenaDraws;
      canvas.__arenaFrames = 0;
      return false;
    }
    // drawn in two frames since the file arrived: the model, not just the empty scene
    if (canvas.__arenaDraws > canvas.__arenaDrawsAtModel) canvas.__arenaFrames++;
    canvas.__arenaDrawsAtModel = canvas.__arenaDraws;
    return canvas.__arenaFrames >= 2;
  };
  const empty = el => !el || !el.querySelector("img, a[data-testid='model3d-download-link'][href]");
  let emptySince = null;
  while (true) {
    const a = side("a"), b = side("b");
    const sa = shown(a), sb = shown(b);
    if (sa && sb) return;
    emptySince = empty(a) || empty(b) ? emptySince ?? performance.now() : null;
    if (emptySince !== null && performance.now() - emptySince > 2000) return;
    await new Promise(resolve => requestAnimationFrame(() => setTimeout(resolve, 30)));
  }
}
"""


def wait_js(prefix: str) -> str:
    """The browser-side wait for one panel's outputs (see WAIT)."""
    return WAIT % prefix
