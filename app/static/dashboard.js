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
    // every label shown (Chart.js skips those that do not fit): category names are long, so the
    // axis of labels never auto-skips, a horizontal chart grows a row per label and a vertical
    // one turns its labels up to 60 degrees
    var labelAxis = horizontal ? "y" : "x";
    var valueAxis = horizontal ? "x" : "y";
    var scales = {};
    scales[labelAxis] = { ticks: { autoSkip: false, maxRotation: 60, minRotation: 0 } };
    scales[valueAxis] = { beginAtZero: true, ticks: { precision: 0 } };
    if (horizontal) {
      canvas.parentNode.style.height = Math.max(240, chart.labels.length * 24 + 60) + "px";
    }
    new Chart(canvas, {
      type: "bar",
      data: { labels: chart.labels, datasets: datasets },
      options: {
        indexAxis: horizontal ? "y" : "x",
        responsive: true,
        maintainAspectRatio: false,
        scales: scales,
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
