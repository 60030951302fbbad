/* The dashboard's charts: data from the page's JSON block, drawn with the bundled
   Chart.js (app/static/vendor); a click on a bar opens the list behind it. */
(function () {
  "use strict";
  var source = document.getElementById("mq-dash-data");
  if (!source || typeof Chart === "undefined") { return; }
  var data = JSON.parse(source.textContent);
  var colors = ["#337ab7", "#5cb85c", "#d9534f", "#f0ad4e"];
  Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
  Chart.defaults.animation = false;

  function draw(id, chart, type, horizontal) {
    var canvas = document.getElementById(id);
    if (!canvas || !chart || !chart.labels.length) { return; }
    var datasets = chart.series.map(function (s, i) {
      var ds = { label: s.label, data: s.data, backgroundColor: colors[i % colors.length], borderColor: colors[i % colors.length] };
      if (type === "trend" && s.key === "overdue") { ds.type = "line"; ds.fill = false; }
      return ds;
    });
    new Chart(canvas, {
      type: "bar",
      data: { labels: chart.labels, datasets: datasets },
      options: {
        indexAxis: horizontal ? "y" : "x",
        responsive: true,
        maintainAspectRatio: false,
        scales: { x: { beginAtZero: true, ticks: { precision: 0 } }, y: { beginAtZero: true, ticks: { precision: 0 } } },
        onClick: function (event, elements) {
          if (!elements.length) { return; }
          var url = chart.links[elements[0].index];
          if (url) { window.location.href = url; }
        },
        onHover: function (event, elements) {
          event.native.target.style.cursor = elements.length ? "pointer" : "default";
        }
      }
    });
  }
  draw("mq-chart-trend", data.trend, "trend", false);
  draw("mq-chart-category", data.category, "category", true);
  draw("mq-chart-grid", data.grid, "grid", false);
})();
