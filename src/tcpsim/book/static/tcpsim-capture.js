/* The lab chapter's drop zone: a capture the reader chooses or drops is explained in the page,
 * by tcpsim.capture under Pyodide in the live simulator's worker (tcpsim-live.js; dpkt is packed
 * with the site), exactly as `python -m tcpsim explain FILE` explains it.  The file is read by
 * the page and goes nowhere.  Words: tcpsim/book/text.py ("page.cap_*"). */
(function () {
  "use strict";
  var t = window.tcpsimLib.t, el = window.tcpsimLib.el, MAX_MB = 50;
  function setUp(box, n) {
    box.innerHTML = "";
    if (!window.tcpsimLib.liveCan()) {
      box.appendChild(el("p", {"class": "tcpsim-note tcpsim-cap-file", "role": "note"}, t("cap_file")));
      return;
    }
    var id = "tcpsim-cap-" + n;
    var zone = el("div", {"class": "tcpsim-cap-zone"});
    var label = el("label", {"for": id}, t("cap_choose"));
    var input = el("input", {"type": "file", "id": id, "accept": ".pcap,.pcapng,.cap"});
    zone.appendChild(label);
    zone.appendChild(input);
    zone.appendChild(el("p", {"class": "tcpsim-hint"}, t("cap_private")));
    var status = el("p", {"class": "tcpsim-status", "aria-live": "polite"});
    var out = el("div", {"class": "tcpsim-cap-result"});
    [zone, status, out].forEach(function (x) { box.appendChild(x); });
    var asked = 0;
    function explain(file) {
      var mine = ++asked;
      if (file.size > MAX_MB * 1e6) {
        status.textContent = t("cap_too_big", {name: file.name, mb: (file.size / 1e6).toFixed(0), max: MAX_MB});
        return;
      }
      status.textContent = t("cap_working", {name: file.name, kb: Math.ceil(file.size / 1000)});
      file.arrayBuffer().then(function (buf) {
        window.tcpsimLoadLive(function (sim) {
          if (sim.phase() !== "ready") status.textContent = t("live_loading", {mb: window.tcpsimLiveMB || "15"});
          sim.call("capture", new Uint8Array(buf), {conn: Number(box.dataset.conn || 1),
                                                    profile: box.dataset.profile || "linux"})
            .then(function (r) {
              if (mine !== asked) return;
              if (r.error) {
                out.innerHTML = "";
                status.textContent = t("cap_error", {name: file.name, error: r.error});
              } else {
                out.innerHTML = r.html;
                status.textContent = t("cap_done", {name: file.name});
              }
              box.tcpsim = {last: r};
              box.dataset.explained = String(Number(box.dataset.explained || 0) + 1);
            }, function (e) { status.textContent = t("live_failed", {error: e.message}); });
        }, function () { status.textContent = t("live_failed", {error: "tcpsim-live.js"}); });
      });
    }
    input.addEventListener("change", function () { if (input.files[0]) explain(input.files[0]); });
    zone.addEventListener("dragover", function (e) { e.preventDefault(); zone.classList.add("tcpsim-cap-over"); });
    zone.addEventListener("dragleave", function () { zone.classList.remove("tcpsim-cap-over"); });
    zone.addEventListener("drop", function (e) {
      e.preventDefault();
      zone.classList.remove("tcpsim-cap-over");
      if (e.dataTransfer.files[0]) explain(e.dataTransfer.files[0]);
    });
  }
  document.querySelectorAll(".tcpsim-capture-drop").forEach(setUp);
})();
