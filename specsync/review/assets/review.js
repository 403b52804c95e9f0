// The review page's extras: filters, search, keyboard navigation and lazy players. The page
// is complete without it (every tile listed, the first players loaded).
(function () {
  "use strict";
  var tiles = Array.prototype.slice.call(document.querySelectorAll("article.tile"));
  var rows = Array.prototype.slice.call(document.querySelectorAll("section.video"));
  var form = document.getElementById("filters");
  var shown = document.getElementById("shown");
  var texts = tiles.map(function (tile) {
    return (tile.getAttribute("data-id") + " " + tile.textContent).toLowerCase();
  });
  form.hidden = false;
  document.getElementById("keys").hidden = false;

  function applyFilters() {
    var locale = form.elements.locale.value;
    var state = form.elements.state.value;
    var query = form.elements.search.value.trim().toLowerCase();
    var count = 0;
    tiles.forEach(function (tile, index) {
      var flags = tile.getAttribute("data-flags").split(" ");
      var ok = (!locale || tile.getAttribute("data-locale") === locale) &&
        (!state || tile.getAttribute("data-state") === state || flags.indexOf(state) >= 0) &&
        (!query || texts[index].indexOf(query) >= 0);
      tile.hidden = !ok;
      if (ok) { count += 1; }
    });
    rows.forEach(function (row) {
      row.hidden = !row.querySelector("article.tile:not([hidden])");
    });
    shown.textContent = count + " of " + tiles.length + " items shown";
  }
  form.addEventListener("input", applyFilters);
  form.addEventListener("change", applyFilters);
  form.addEventListener("submit", function (event) { event.preventDefault(); });
  applyFilters();

  // Players below the first screenful start with preload="none": they read their metadata
  // when they come near the view, so a thousand tiles never load a thousand headers at once.
  if ("IntersectionObserver" in window) {
    var observer = new IntersectionObserver(function (entries) {
      entries.forEach(function (entry) {
        if (entry.isIntersecting) {
          entry.target.preload = "metadata";
          observer.unobserve(entry.target);
        }
      });
    }, { rootMargin: "800px 0px" });
    document.querySelectorAll("video[preload='none']").forEach(function (video) {
      observer.observe(video);
    });
  }

  function visibleTiles() { return tiles.filter(function (tile) { return !tile.hidden; }); }
  function currentTile() {
    var active = document.activeElement;
    return active && active.closest ? active.closest("article.tile") : null;
  }
  function move(step) {
    var list = visibleTiles();
    if (!list.length) { return; }
    var index = list.indexOf(currentTile());
    var next = index < 0 ? (step > 0 ? 0 : list.length - 1)
      : Math.min(list.length - 1, Math.max(0, index + step));
    list[next].focus();
    list[next].scrollIntoView({ block: "nearest" });
  }
  document.addEventListener("keydown", function (event) {
    var target = event.target;
    if (event.ctrlKey || event.metaKey || event.altKey) { return; }
    if (target.closest && target.closest("input, select, textarea")) {
      if (event.key === "Escape") { target.blur(); }
      return;
    }
    if (event.key === "j" || event.key === "n") { move(1); event.preventDefault(); }
    else if (event.key === "k" || event.key === "p") { move(-1); event.preventDefault(); }
    else if (event.key === "/") { form.elements.search.focus(); event.preventDefault(); }
    else if ((event.key === " " || event.key === "Enter") && target.tagName !== "VIDEO") {
      var tile = currentTile();
      var video = tile && tile.querySelector("video");
      if (video && target === tile) {
        if (video.paused) { video.play().catch(function () {}); } else { video.pause(); }
        event.preventDefault();
      }
    }
  });
})();
