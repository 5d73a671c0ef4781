// Live refresh for index.html opened from disk (file://), inlined into the page by utils/gallery.py.
// fetch() of file:// is blocked in Chromium, so the runner rewrites gallery.js
// (`window.GALLERY = {...}`) after every rebuild and this script re-inserts a <script> tag for it
// every 2 s. A figure whose version changed gets a new img.src (no page reload, no flicker); the
// status line and the findings are swapped in place; only a change in the *set* of outputs
// reloads the page (once per new layout).
(function () {
  "use strict";
  var PERIOD_MS = 2000;
  var layout = document.body.getAttribute("data-layout");
  var shown = {status: null, findings: null};

  function setHtml(id, key, html) {
    var el = document.getElementById(id);
    if (el && typeof html === "string" && html !== shown[key]) {
      el.innerHTML = html;  // text only (no images), so a same-content swap is invisible
      shown[key] = html;
    }
  }

  function reloadOnce(newLayout) {
    try {
      if (window.sessionStorage.getItem("gallery-reloaded") === newLayout) { return false; }
      window.sessionStorage.setItem("gallery-reloaded", newLayout);
    } catch (e) {
      return false;  // no storage: show the banner instead of risking a reload loop
    }
    window.location.reload();
    return true;
  }

  function apply(g) {
    if (!g || !g.outputs) { return; }
    if (g.layout !== layout) {
      if (!reloadOnce(g.layout)) {
        var banner = document.getElementById("layout-changed");
        if (banner) { banner.hidden = false; }
      }
      return;
    }
    var imgs = document.querySelectorAll("[data-rel][data-src]");  // images, or objects for PDF figures
    for (var i = 0; i < imgs.length; i++) {
      var img = imgs[i];
      var o = g.outputs[img.getAttribute("data-rel")];
      if (o && o.v !== img.getAttribute("data-v")) {
        img.setAttribute("data-v", o.v);
        var url = img.getAttribute("data-src") + "?v=" + o.v + (img.getAttribute("data-frag") || "");
        if (img.tagName === "OBJECT") { img.setAttribute("data", url); } else { img.src = url; }
        document.dispatchEvent(new CustomEvent("gallery:redrawn", {detail: {rel: img.getAttribute("data-rel")}}));
        var card = img.closest(".card");
        if (card) {
          card.classList.add("fresh");
          window.setTimeout(function (c) { c.classList.remove("fresh"); }, 6000, card);
        }
      }
    }
    var stamps = document.querySelectorAll("[data-drawn]");
    for (var j = 0; j < stamps.length; j++) {
      var d = g.outputs[stamps[j].getAttribute("data-drawn")];
      if (d && stamps[j].textContent !== d.drawn) { stamps[j].textContent = d.drawn; }
    }
    setHtml("status", "status", g.status);
    setHtml("findings-body", "findings", g.findings);
  }

  function poll() {
    var old = document.getElementById("gallery-data");
    var s = document.createElement("script");
    s.id = "gallery-data";
    s.src = "gallery.js?t=" + Date.now();
    s.onload = function () { apply(window.GALLERY); };
    if (old && old.parentNode) { old.parentNode.removeChild(old); }
    document.head.appendChild(s);
  }

  apply(window.GALLERY);
  window.setInterval(poll, PERIOD_MS);
})();
