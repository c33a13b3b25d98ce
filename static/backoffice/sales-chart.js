// Draws the dashboard's sales chart with Chart.js from the JSON the page carries (#sales-chart-data):
// bars for the day's sales in yuan, a line for the number of paid orders.
(function () {
  var canvas = document.getElementById("sales-chart");
  var source = document.getElementById("sales-chart-data");
  if (!canvas || !source || typeof Chart === "undefined") return;
  var data = JSON.parse(source.textContent);
  canvas.chart = new Chart(canvas, {
    data: {
      labels: data.labels,
      datasets: [
        { type: "bar", label: data.sales_label, data: data.sales_fen.map(function (fen) { return fen / 100; }),
          backgroundColor: "#07c160", yAxisID: "sales", order: 2 },
        { type: "line", label: data.orders_label, data: data.orders, borderColor: "#409eff",
          backgroundColor: "#409eff", yAxisID: "orders", tension: 0.3, order: 1 }
      ]
    },
    options: {
      responsive: true,
      maintainAspectRatio: false,
      animation: false,
      interaction: { mode: "index", intersect: false },
      scales: {
        sales: { position: "left", beginAtZero: true, ticks: { callback: function (v) { return "¥" + v; } } },
        orders: { position: "right", beginAtZero: true, grid: { drawOnChartArea: false }, ticks: { precision: 0 } }
      },
      plugins: {
        tooltip: {
          callbacks: {
            label: function (item) {
              return item.dataset.yAxisID === "sales"
                ? item.dataset.label + ": " + data.sales_text[item.dataIndex]
                : item.dataset.label + ": " + item.raw;
            }
          }
        }
      }
    }
  });
  canvas.setAttribute("data-ready", "1");
})();
