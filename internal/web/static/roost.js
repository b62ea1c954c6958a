// Roost dashboard: the little behaviour pages need, with no build step.
// Copy buttons (data-copy="#input") and inputs that select themselves
// (data-select), for one-time secrets.
document.addEventListener("click", function (e) {
  var b = e.target.closest("[data-copy]");
  if (!b) return;
  var el = document.querySelector(b.getAttribute("data-copy"));
  if (!el) return;
  el.select();
  var done = function () { b.textContent = "Copied"; };
  if (navigator.clipboard) navigator.clipboard.writeText(el.value).then(done, function () {});
  else if (document.execCommand("copy")) done();
});
document.addEventListener("focusin", function (e) {
  if (e.target.matches && e.target.matches("input[data-select]")) e.target.select();
});
