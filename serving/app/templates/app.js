// Sortable columns, the "hide avoid" filter and row clicks of the shortlist. Own code, no
// library: the page works offline.
(function () {
  "use strict";
  var table = document.querySelector("table.shortlist");
  if (!table) { return; }
  var body = table.tBodies[0];
  function key(row, name) {
    var text = row.getAttribute("data-" + name);
    if (text === null || text === "") { return null; }
    var number = Number(text);
    return isNaN(number) ? text : number;
  }
  Array.prototype.forEach.call(table.querySelectorAll("th[data-sort]"), function (th) {
    var button = th.querySelector("button");
    button.addEventListener("click", function () {
      var name = th.getAttribute("data-sort");
      var ascending = th.getAttribute("aria-sort") !== "ascending";
      Array.prototype.forEach.call(table.querySelectorAll("th[data-sort]"), function (other) {
        other.removeAttribute("aria-sort");
      });
      th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
      var rows = Array.prototype.slice.call(body.rows);
      rows.sort(function (a, b) {
        var x = key(a, name), y = key(b, name);
        if (x === y) { return 0; }
        if (x === null) { return 1; }  // unknown values last, either way
        if (y === null) { return -1; }
        var order = x < y ? -1 : 1;
        return ascending ? order : -order;
      });
      rows.forEach(function (row) { body.appendChild(row); });
    });
  });
  var hide = document.getElementById("hide-avoid");
  function filter() {
    var shown = 0;
    Array.prototype.forEach.call(body.rows, function (row) {
      var hidden = hide.checked && row.getAttribute("data-verdict") === "avoid";
      row.hidden = hidden;
      if (!hidden) { shown += 1; }
    });
    var count = document.getElementById("shown-count");
    if (count) { count.textContent = String(shown); }
  }
  if (hide) { hide.addEventListener("change", filter); filter(); }
  Array.prototype.forEach.call(body.rows, function (row) {
    row.addEventListener("click", function (event) {
      if (event.target.closest("a")) { return; }
      var link = row.querySelector("a.creator");
      if (link) { link.click(); }
    });
  });
}());
