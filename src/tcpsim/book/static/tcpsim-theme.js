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
  function start() {
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
