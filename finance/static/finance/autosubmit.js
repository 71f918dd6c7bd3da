// A <select data-autosubmit> submits its form when changed (the language switcher);
// replaces inline onchange handlers, which the content security policy forbids.
document.addEventListener("change", function (event) {
  var el = event.target;
  if (el && el.matches && el.matches("select[data-autosubmit]") && el.form) {
    el.form.submit();
  }
});
