// Click-to-zoom for index.html, inlined into the page by utils/gallery.py (no external files).
// A click on a thumbnail opens the <dialog id="zoom"> with the figure large, its title, its
// description and the links to its tables (copied from the card). Esc closes (the dialog does
// that natively), as do the close button and a click beside the figure; left/right arrows step
// through the figures in page order. A ctrl/shift/middle click still opens the file itself.
(function () {
  "use strict";
  var dialog = document.getElementById("zoom");
  if (!dialog || typeof dialog.showModal !== "function") { return; }  // plain links then
  var img = null;  // the enlarged image, made on the first open: until then the page's images are its figures
  var title = document.getElementById("zoom-title");
  var caption = document.getElementById("zoom-caption");
  var current = null;  // the thumbnail shown enlarged
  var opener = null;   // the link to give the focus back to

  function thumbs() { return Array.prototype.slice.call(document.querySelectorAll(".card img[data-rel]")); }

  function show(thumb) {
    var card = thumb.closest(".card");
    current = thumb;
    if (!img) {
      img = document.createElement("img");
      img.id = "zoom-img";
      document.getElementById("zoom-figure").appendChild(img);
    }
    dialog.setAttribute("data-rel", thumb.getAttribute("data-rel"));
    img.src = thumb.getAttribute("src");
    img.alt = thumb.alt;
    title.textContent = card.getAttribute("data-title") || thumb.alt;
    caption.innerHTML = "";
    var parts = card.querySelectorAll("figcaption .desc, figcaption .meta");
    for (var i = 0; i < parts.length; i++) { caption.appendChild(parts[i].cloneNode(true)); }
  }

  function step(by) {
    var all = thumbs();
    var at = all.indexOf(current);
    if (at < 0 || all.length === 0) { return; }
    show(all[(at + by + all.length) % all.length]);
  }

  document.addEventListener("click", function (ev) {
    var link = ev.target.closest && ev.target.closest("a.zoom-link");
    if (!link || ev.button !== 0 || ev.ctrlKey || ev.metaKey || ev.shiftKey || ev.altKey) { return; }
    var thumb = link.querySelector("img[data-rel]");
    if (!thumb) { return; }
    ev.preventDefault();
    opener = link;
    show(thumb);
    if (!dialog.open) { dialog.showModal(); }
  });

  dialog.addEventListener("click", function (ev) {
    var stepBy = ev.target.getAttribute && ev.target.getAttribute("data-step");
    if (stepBy) { step(parseInt(stepBy, 10)); return; }
    if (ev.target === dialog || ev.target.id === "zoom-close") { dialog.close(); }
  });

  document.addEventListener("keydown", function (ev) {
    if (!dialog.open) { return; }
    if (ev.key === "ArrowRight") { step(1); ev.preventDefault(); }
    else if (ev.key === "ArrowLeft") { step(-1); ev.preventDefault(); }
  });

  dialog.addEventListener("close", function () {
    current = null;
    dialog.removeAttribute("data-rel");
    if (opener) { opener.focus(); }
  });

  // live.js swapped in a redrawn figure: show the new version when it is the one zoomed.
  document.addEventListener("gallery:redrawn", function (ev) {
    if (current && dialog.open && ev.detail && ev.detail.rel === current.getAttribute("data-rel")) {
      show(current);
    }
  });
})();
