// The filter box of index.html, inlined by runner/gallery.py. Typing a run, metric or task name shows
// only the figures whose runs, experiments, tasks, metrics or title contain every word typed; sections
// left without a figure are hidden, and folded sections holding a match are opened. Empty: all shown.
(function () {
  "use strict";
  var box = document.getElementById("filter");
  if (!box) { return; }
  var count = document.getElementById("filter-count");
  var opened = [];  // folds this filter opened, closed again when it is cleared

  function apply() {
    var words = box.value.toLowerCase().split(/\s+/).filter(function (w) { return w.length > 0; });
    var cards = document.querySelectorAll(".card");
    var shown = 0;
    Array.prototype.forEach.call(cards, function (card) {
      var text = ((card.getAttribute("data-terms") || "") + " " + (card.getAttribute("data-title") || "")).toLowerCase();
      var match = words.every(function (w) { return text.indexOf(w) >= 0; });
      card.hidden = !match;
      if (match) { shown += 1; }
    });
    Array.prototype.forEach.call(document.querySelectorAll(".figure-section"), function (section) {
      section.hidden = words.length > 0 && !section.querySelector(".card:not([hidden])");
    });
    Array.prototype.forEach.call(document.querySelectorAll(".contents a"), function (link) {
      var card = document.getElementById(link.getAttribute("href").slice(1));
      link.parentNode.hidden = !!(card && card.hidden);  // the contents list names what is shown
    });
    opened.forEach(function (d) { d.open = false; });
    opened = [];
    if (words.length) {
      Array.prototype.forEach.call(document.querySelectorAll("details.fold"), function (d) {
        if (!d.open && d.querySelector(".card:not([hidden])")) { d.open = true; opened.push(d); }
      });
    }
    count.textContent = words.length ? shown + " of " + cards.length + " figures" : "";
  }

  box.addEventListener("input", apply);
  if (box.value) { apply(); }
}());
