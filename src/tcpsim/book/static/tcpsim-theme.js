/* The header's menu buttons (sphinx-book-theme 1.3.0 on pydata-sphinx-theme 0.17.1).
 * pydata-sphinx-theme wires only the first ".primary-toggle" / ".secondary-toggle"
 * of the page (document.querySelector) to its sidebar dialogs, and the first is its
 * own hidden header button, so the book theme's visible buttons did nothing.  Here
 * each visible button does what it shows: on a narrow page it opens the sidebar as
 * the theme's dialog (by clicking the wired button); on a wide page the menu button
 * folds the left sidebar away and back. */
(function () {
  "use strict";
  var WIDE = 960;                                   /* pydata-sphinx-theme's breakpoint for the sidebar */
  /* A name that does not contain the words a button shows confuses speech input
     ("click Search Ctrl K"): the theme's search, theme and page-navigation controls
     are named by what they show, their old name kept as a description. */
  function names() {
    document.querySelectorAll(".search-button__button, .theme-switch-button, .nav-link, .prev-next-area a")
      .forEach(function (e) {
        var label = e.getAttribute("aria-label");
        var shown = (e.innerText || "").replace(/\s+/g, " ").trim();
        if (!label || !shown || label.toLowerCase().indexOf(shown.toLowerCase()) >= 0) return;
        e.setAttribute("title", e.getAttribute("title") || label);
        e.removeAttribute("aria-label");
      });
  }
  /* The colour-mode button's icons carry titles ("Light", "Dark") that speech input would
     take for its visible words: they are decoration, its name is "Color mode". Font
     Awesome turns the icons into SVGs after load, hence the observer. */
  function quietIcons() {
    document.querySelectorAll(".theme-switch-button .theme-switch, .theme-switch-button svg").forEach(function (e) {
      if (e.getAttribute("aria-hidden") !== "true") e.setAttribute("aria-hidden", "true");
      if (e.hasAttribute("title")) e.removeAttribute("title");
      var title = e.querySelector && e.querySelector("title");
      if (title) title.remove();
    });
  }
  /* From file:// the search page cannot fetch the pages it found to quote a line of each
     (the browser refuses fetch() of file URLs, and says so in the console): there it
     lists the pages by title alone. */
  /* global DOCUMENTATION_OPTIONS: Sphinx declares it with const, so it is no window property */
  if (location.protocol === "file:" && typeof DOCUMENTATION_OPTIONS === "object") {
    DOCUMENTATION_OPTIONS.SHOW_SEARCH_SUMMARY = false;
  }
  function start() {
    names();
    quietIcons();
    document.querySelectorAll(".theme-switch-button").forEach(function (b) {
      new MutationObserver(quietIcons).observe(b, {childList: true, subtree: true});
    });
    ["primary", "secondary"].forEach(function (side) {
      var all = document.querySelectorAll("." + side + "-toggle");
      if (all.length < 2) return;
      var wired = all[0];
      Array.prototype.slice.call(all, 1).forEach(function (button) {
        button.addEventListener("click", function (event) {
          event.preventDefault();
          event.stopPropagation();
          if (side === "primary" && window.innerWidth >= WIDE) {
            var folded = document.body.classList.toggle("tcpsim-primary-folded");
            button.setAttribute("aria-expanded", folded ? "false" : "true");
          } else {
            wired.click();
          }
        }, true);
      });
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
