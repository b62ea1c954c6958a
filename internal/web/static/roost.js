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

// Live figures: an element with data-live="URL" refreshes the children
// marked data-field="name" from the JSON at URL every few seconds while the
// page is visible.
document.querySelectorAll("[data-live]").forEach(function (box) {
  var url = box.getAttribute("data-live");
  var tick = function () {
    if (document.hidden) return;
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) {
        if (!data) return;
        box.querySelectorAll("[data-field]").forEach(function (el) {
          var v = data[el.getAttribute("data-field")];
          if (v !== undefined && String(v) !== el.textContent) el.textContent = v;
        });
      }, function () {});
  };
  setInterval(tick, 5000);
  document.addEventListener("visibilitychange", tick);
});
