/* Roost storefront snippet: keeps a tracked link's click ID in a first-party
 * cookie and hands it to the checkout. It never calls Roost or throws. */
(function (w, d) {
"use strict";
var NAME = "roost_cid", ID = /^[0-9a-hjkmnp-tv-z]{26}$/, id = "";
function dec(s) {
  try { return decodeURIComponent(s.replace(/\+/g, " ")); } catch (e) { return ""; }
}
function cookie(n) {
  var c = d.cookie.split(/; */), i;
  for (i = 0; i < c.length; i++) if (c[i].indexOf(n + "=") === 0) return dec(c[i].slice(n.length + 1));
  return "";
}
function guard(f) {
  return function (a) { try { f(a); } catch (e) {} };
}
// A checkout form gets a hidden roost_cid field, once.
var mark = guard(function (f) {
  if (!/checkout/i.test(f.getAttribute("action")) && !/(^|\s)(woocommerce-)?checkout(\s|$)/.test(f.className)) return;
  var el = f.querySelector("[name=" + NAME + "]");
  if (!el) {
    el = d.createElement("input");
    el.type = "hidden";
    el.name = NAME;
    f.appendChild(el);
  }
  el.value = id;
});
var scan = guard(function () {
  for (var i = 0; i < d.forms.length; i++) mark(d.forms[i]);
});
try {
  if (w.roost && w.roost.clickId) return; // loaded twice
  var s = d.currentScript || d.querySelector('script[src*="/t.js"]'), i, v;
  var attr = function (k, def) { return (s && s.getAttribute("data-" + k)) || def; };
  var param = attr("param", NAME), cname = attr("cookie", NAME), days = +attr("days", 30);
  var q = location.search.slice(1).split("&");
  for (i = 0; i < q.length; i++) {
    v = q[i].split("=");
    if (dec(v[0]) === param && ID.test(dec(v[1] || ""))) id = dec(v[1]);
  }
  if (id) { // the latest click wins
    d.cookie = cname + "=" + id + "; path=/; max-age=" + Math.round((days > 0 ? days : 30) * 86400) +
      "; SameSite=Lax" + (location.protocol === "https:" ? "; Secure" : "");
  } else if (ID.test(cookie(cname))) id = cookie(cname);
  w.roost = w.roost || {};
  w.roost.clickId = function () { return id; };
  if (!id) return;
  // Shopify: a cart attribute (the order's note_attributes), once per ID and cart.
  if (w.Shopify) {
    var key = NAME + "_sent", ss, sent, x, body = { attributes: {} };
    try { ss = w.sessionStorage; sent = ss.getItem(key); } catch (e) {}
    if (sent !== id + "|" + cookie("cart")) {
      x = new XMLHttpRequest();
      x.open("POST", ((w.Shopify.routes && w.Shopify.routes.root) || "/") + "cart/update.js");
      x.setRequestHeader("Content-Type", "application/json");
      x.onload = guard(function () {
        if (x.status < 300) ss.setItem(key, id + "|" + cookie("cart"));
      });
      body.attributes[NAME] = id;
      x.send(JSON.stringify(body));
    }
  }
  // Checkout forms, now and whenever the page adds one.
  d.addEventListener("submit", function (e) { mark(e.target); }, true);
  scan();
  d.addEventListener("DOMContentLoaded", scan);
  if (w.MutationObserver) new MutationObserver(scan).observe(d.documentElement, { childList: true, subtree: true });
} catch (e) {}
})(window, document);
