/* Progress of a long job (bank-file import): polls the job API named in data-api of
   #job-progress every second until the job ends, then reloads the page so the server
   renders the import report. If the API does not answer (e.g. it shows the job only to
   its owner), the page reloads every 2 s instead. Loaded as a static file (the CSP
   allows no inline script). */
(function () {
  "use strict";
  var box = document.getElementById("job-progress");
  if (!box) { return; }
  var bar = box.querySelector("progress");
  var pct = box.querySelector(".pct");
  var status = box.querySelector(".status");
  var counts = box.querySelector(".counts");
  var api = box.getAttribute("data-api");
  var running = function (s) { return s === "queued" || s === "running"; };
  if (!running(box.getAttribute("data-status"))) { return; }
  function tick() {
    window.fetch(api, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (r) { if (!r.ok) { throw new Error(String(r.status)); } return r.json(); })
      .then(function (j) {
        bar.value = j.percent;
        pct.textContent = j.percent + "%";
        status.textContent = box.getAttribute("data-label-" + j.status) || j.status;
        counts.textContent = j.total ? j.done + " / " + j.total : String(j.done);
        if (running(j.status)) { window.setTimeout(tick, 1000); } else { window.location.reload(); }
      })
      .catch(function () { window.setTimeout(function () { window.location.reload(); }, 2000); });
  }
  window.setTimeout(tick, 500);
}());
