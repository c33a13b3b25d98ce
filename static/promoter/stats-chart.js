// Draws the promoter centre's chart with the vendored Chart.js from the JSON the page carries
// (#stats-chart-data): bars for the day's commission in yuan, lines for visits and orders. The same
// numbers fill the table below it; canvas.chart exposes the chart so a browser test can compare.
(function () {
  var canvas = document.getElementById("stats-chart");
  var source = document.getElementById("stats-chart-data");
  if (!canvas || !source || typeof Chart === "undefined") return;
  var data = JSON.parse(source.textContent);
  canvas.chart = new Chart(canvas, {
    data: {
      labels: data.labels,
      datasets: [
        { type: "bar", label: data.commission_label, data: data.commission_fen.map(function (fen) { return fen / 100; }),
          backgroundColor: "#07c160", yAxisID: "money", order: 3 },
        { type: "line", label: data.visits_label, data: data.visits, borderColor: "#409eff",
          backgroundColor: "#409eff", yAxisID: "count", tension: 0.3, order: 2 },
        { type: "line", label: data.orders_label, data: data.orders, borderColor: "#fa9d3b",
          backgroundColor: "#fa9d3b", yAxisID: "count", tension: 0.3, order: 1 }
      ]
    },
    options: {
      responsive: true,
      maintainAspectRatio: false,
      animation: false,
      interaction: { mode: "index", intersect: false },
      scales: {
        money: { position: "left", beginAtZero: true, ticks: { callback: function (v) { return "¥" + v; } } },
        count: { position: "right", beginAtZero: true, grid: { drawOnChartArea: false }, ticks: { precision: 0 } }
      }
    }
  });
  canvas.setAttribute("data-ready", "1");
})();
