// Job page: polls the job API named in <progress data-api> until the job ends.
(function () {
  var bar = document.getElementById("bar");
  if (!bar || !bar.dataset.api) return;
  function text(id, value) { document.getElementById(id).textContent = value; }
  function poll() {
    fetch(bar.dataset.api, {credentials: "same-origin"}).then(function (r) { return r.json(); })
      .then(function (j) {
        bar.value = j.percent;
        text("pct", j.percent + "%");
        text("status", j.status);
        text("counts", j.done + " / " + j.total);
        text("message", j.message);
        if (j.issues.length) {
          var ul = document.getElementById("issues");
          ul.textContent = "";
          j.issues.forEach(function (i) {
            var li = document.createElement("li");
            li.textContent = typeof i === "string" ? i : JSON.stringify(i);
            ul.appendChild(li);
          });
        }
        if (j.status === "queued" || j.status === "running") setTimeout(poll, 1000);
      });
  }
  poll();
})();
