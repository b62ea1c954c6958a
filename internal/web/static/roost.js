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

// The claim page, waiting for a claim token's post: ask every few
// seconds, and reload when the token moves on (claimed, refused, expired).
document.querySelectorAll("[data-token-status]").forEach(function (box) {
  var url = box.getAttribute("data-token-status"), was = box.getAttribute("data-status");
  var tick = function () {
    if (document.hidden) return;
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) { if (data && data.status !== was) location.reload(); }, function () {});
  };
  setInterval(tick, 3000);
  document.addEventListener("visibilitychange", tick);
});

// The composer: a live length counter per chosen account, measured as its
// network measures (the server checks again on submit). URLs count 23 on
// Mastodon and X; Bluesky counts graphemes; X weighs CJK and emoji 2.
(function () {
  var form = document.querySelector("[data-composer]");
  if (!form) return;
  var seg = window.Intl && Intl.Segmenter ? new Intl.Segmenter(undefined, { granularity: "grapheme" }) : null;
  var graphemes = function (s) { return seg ? Array.from(seg.segment(s), function (x) { return x.segment; }) : Array.from(s); };
  var urlRE = /https?:\/\/[^\s<>"]+/g;
  var links23 = function (s) {
    return s.replace(urlRE, function (u) {
      var m = u.match(/[.,:;!?)\]}'"]+$/);
      return "x".repeat(23) + (m ? m[0] : "");
    });
  };
  var isEmoji = function (g) { return /\u200d|\ufe0f|[\u{1F000}-\u{1FAFF}\u{2600}-\u{27BF}\u{1F1E6}-\u{1F1FF}]/u.test(g); };
  var xWeight = function (cp) { return cp <= 4351 || (cp >= 8192 && cp <= 8205) || (cp >= 8208 && cp <= 8223) || (cp >= 8242 && cp <= 8247) ? 1 : 2; };
  var count = {
    mastodon: function (s) { return graphemes(links23(s).replace(/@([A-Za-z0-9_]+)@[A-Za-z0-9.-]+[A-Za-z0-9]/g, "@$1")).length; },
    bluesky: function (s) { return graphemes(s).length; },
    x: function (s) {
      var n = 0;
      graphemes(links23(s.normalize("NFC"))).forEach(function (g) {
        if (isEmoji(g)) { n += 2; return; }
        for (var c of g) n += xWeight(c.codePointAt(0));
      });
      return n;
    },
    sandbox: function (s) { return graphemes(s).length; }
  };
  var render = function () {
    var body = form.elements.body.value.trim();
    var hasLink = form.elements.offer_id.value || form.elements.destination.value.trim();
    var link = hasLink ? form.getAttribute("data-sample-link") : "";
    if (link) body = body.indexOf("{link}") >= 0 ? body.replace("{link}", link) : body + "\n\n" + link;
    body = body.split("{link}").join("");
    var sig = form.getAttribute("data-signature");
    return sig ? body + " " + sig : body;
  };
  var update = function () {
    var text = render();
    form.querySelectorAll("input[name=accounts]").forEach(function (box) {
      var out = box.parentNode.querySelector(".counter");
      if (!box.checked) { out.textContent = ""; return; }
      var fn = count[box.getAttribute("data-network")] || count.sandbox;
      var n = fn(text), limit = +box.getAttribute("data-limit");
      out.textContent = n + " / " + limit;
      out.classList.toggle("over", n > limit);
    });
  };
  form.addEventListener("input", update);
  form.addEventListener("change", update);
  update();
})();

// The inbox's reply box: a live counter of the reply as the network will
// count it, signature included, and saved replies dropped into the text.
(function () {
  var form = document.querySelector("[data-reply]");
  if (!form) return;
  var text = form.querySelector("textarea[name=text]"), out = form.querySelector(".counter");
  var limit = parseInt(form.getAttribute("data-limit"), 10), sig = form.getAttribute("data-signature") || "";
  var seg = window.Intl && Intl.Segmenter ? new Intl.Segmenter() : null;
  var count = function (s) { return seg ? Array.from(seg.segment(s)).length : Array.from(s).length; };
  var update = function () {
    var n = count(text.value.trim() + (sig ? " " + sig : ""));
    out.textContent = n + " / " + limit;
    out.classList.toggle("over", n > limit);
  };
  text.addEventListener("input", update);
  var tpl = form.querySelector("[data-template]");
  if (tpl) tpl.addEventListener("change", function () {
    if (!tpl.value) return;
    text.value = text.value ? text.value + " " + tpl.value : tpl.value;
    tpl.value = "";
    update();
    text.focus();
  });
  update();
})();
