// The reliability diagram of a reward model (Chart.js): observed rate against mean predicted
// P(chosen ≻ rejected) per bin, with the diagonal a calibrated model lies on. Data comes from the
// page through json_script (the page's Content-Security-Policy allows no inline script).
(function () {
  "use strict";
  function start() {
    const source = document.getElementById("calibration-data");
    const canvas = document.getElementById("reliability-chart");
    if (!source || !canvas || typeof Chart === "undefined") return;
    const bins = JSON.parse(source.textContent).bins.filter((b) => b.count > 0);
    canvas._chart = new Chart(canvas, {
      type: "scatter",
      data: {
        datasets: [
          {
            label: "observed",
            data: bins.map((b) => ({ x: b.mean_predicted, y: b.observed, count: b.count })),
            borderColor: "#3456d1",
            backgroundColor: "#3456d1",
            showLine: true,
          },
          {
            label: "calibrated",
            data: [{ x: 0, y: 0 }, { x: 1, y: 1 }],
            borderColor: "#999",
            borderDash: [4, 4],
            pointRadius: 0,
            showLine: true,
          },
        ],
      },
      options: {
        animation: false,
        aspectRatio: 2,
        scales: {
          x: { min: 0, max: 1, title: { display: true, text: "predicted P(chosen ≻ rejected)" } },
          y: { min: 0, max: 1, title: { display: true, text: "observed" } },
        },
      },
    });
  }
  document.addEventListener("DOMContentLoaded", start);
})();
