/* Any diagram can be opened larger (a phone shows the ladder's 12 px text at 4-6 px).
 * A click, a tap, Enter or Space on a diagram opens it at its natural size in a
 * dialog that scrolls (and zooms with the fingers); Escape or the button closes it.
 * Words come from window.tcpsimText ("page.zoom_*", tcpsim/book/text.py). */
(function () {
  "use strict";
  function t(key) {
    var s = (window.tcpsimText || {})[key];
    return s === undefined ? "[" + key + "]" : s;
  }
  var SELECTOR = ".tcpsim-ladder svg, .tcpsim-state svg, .tcpsim-when-svg svg, " +
                 ".cell_output img[src$='.svg'], .cell_output .output > svg";
  var dialog = null, body = null;
  function make() {
    dialog = document.createElement("dialog");
    dialog.className = "tcpsim-zoom";
    dialog.setAttribute("aria-label", t("zoom_dialog"));
    var close = document.createElement("button");
    close.type = "button";
    close.className = "tcpsim-zoom-close";
    close.textContent = t("zoom_close");
    close.addEventListener("click", function () { dialog.close(); });
    body = document.createElement("div");
    body.className = "tcpsim-zoom-body";
    dialog.appendChild(close);
    dialog.appendChild(body);
    dialog.addEventListener("click", function (e) { if (e.target === dialog) dialog.close(); });
    document.body.appendChild(dialog);
  }
  function name(fig) {
    var title = fig.querySelector && fig.querySelector("title");
    /* an <img>'s alt is the drawing's title, then its description (tcpsim/book/sphinx.py) */
    return (title && title.textContent) || (fig.getAttribute("alt") || "").split(/\.\s/)[0];
  }
  function open(fig) {
    if (!dialog) make();
    body.innerHTML = "";
    var copy = fig.cloneNode(true);
    if (copy.tagName.toLowerCase() === "svg") {
      var w = fig.getAttribute("width"), h = fig.getAttribute("height");
      if (w) copy.style.width = w + "px";
      if (h) copy.style.height = h + "px";
      copy.style.maxWidth = "none";
      copy.querySelectorAll("[id]").forEach(function (e) { e.id = e.id + "-zoom"; });
    } else {
      copy.style.maxWidth = "none";
      copy.style.width = (fig.naturalWidth || 800) + "px";
    }
    body.appendChild(copy);
    dialog.showModal();
  }
  function arm(fig) {
    if (fig.dataset.tcpsimZoom) return;
    fig.dataset.tcpsimZoom = "1";
    fig.classList.add("tcpsim-zoomable");
    fig.addEventListener("click", function () { open(fig); });       /* a tap on the figure itself */
    /* and a real button, for the keyboard and screen readers: its visible words begin its name */
    var button = document.createElement("button");
    button.type = "button";
    button.className = "tcpsim-zoom-open";
    button.textContent = t("zoom_button");
    button.setAttribute("aria-label", t("zoom_open").replace("{name}", name(fig)));
    button.addEventListener("click", function () { open(fig); });
    fig.parentNode.insertBefore(button, fig);
  }
  function scan() { document.querySelectorAll(SELECTOR).forEach(arm); }
  function start() {
    scan();
    /* panels and the appendix table put new diagrams in the page */
    new MutationObserver(function () { scan(); }).observe(document.body, {childList: true, subtree: true});
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
