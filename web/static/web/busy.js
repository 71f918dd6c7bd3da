/* A long form (the year-end close): on submit, the button is disabled (no second close
   while the first runs) and the form's data-busy text is shown until the result page
   arrives. Loaded as a static file (the CSP allows no inline script). */
(function () {
  "use strict";
  Array.prototype.forEach.call(document.querySelectorAll("form.busy-form"), function (form) {
    form.addEventListener("submit", function () {
      var button = form.querySelector("button[type=submit]");
      var note = form.querySelector(".busy-note");
      if (note) { note.textContent = form.getAttribute("data-busy"); note.hidden = false; }
      if (button) { window.setTimeout(function () { button.disabled = true; }, 0); }
    });
  });
}());
