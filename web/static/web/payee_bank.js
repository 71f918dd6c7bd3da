/* The payee form (web/templates/web/payees_fields.html): as a 12-digit CNAPS code (联行号)
   is typed, asks the site's look-up (data-lookup on the CNAPS input: /web/payees/bank/)
   for the branch and fills the bank and branch fields, or shows the server's message
   (not 12 digits, not a known branch). The server looks the code up again on save; this
   only shows it early. A static file: the CSP allows no inline script. */
(function () {
  "use strict";
  var input = document.getElementById("id_cnaps");
  if (!input) { return; }
  var api = input.getAttribute("data-lookup");
  var bank = document.getElementById("id_bank_name");
  var branch = document.getElementById("id_branch_name");
  var feedback = document.getElementById("cnaps-feedback");
  var asked = "";
  function show(text, ok) {
    if (!feedback) { return; }
    feedback.textContent = text;
    feedback.className = "small " + (ok ? "text-success" : "text-danger");
  }
  function fill(j) {
    if (bank) { bank.value = j.bank_name || ""; }
    if (branch) { branch.value = j.branch_name || ""; }
  }
  function look() {
    var code = input.value.replace(/\s+/g, "");
    if (code.length < 12) { show("", true); asked = ""; return; }
    if (code === asked) { return; }
    asked = code;
    window.fetch(api + "?cnaps=" + encodeURIComponent(code),
                 {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (r) { return r.json(); })
      .then(function (j) {
        if (code !== asked) { return; }
        if (j.error) { fill({}); show(j.error, false); input.setAttribute("aria-invalid", "true"); }
        else { fill(j); show("✓ " + j.bank_name + " " + j.branch_name, true); input.removeAttribute("aria-invalid"); }
      })
      .catch(function () { asked = ""; });
  }
  input.addEventListener("input", look);
  input.addEventListener("change", look);
}());
