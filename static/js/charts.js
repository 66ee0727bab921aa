// Line charts of run curves (Chart.js). A canvas names its series and where to fetch them;
// a live run's chart refetches every two seconds until the run ends.
(function () {
  "use strict";
  const palette = ["#3456d1", "#d14b34", "#1e7b46", "#a347c2", "#c28a12", "#128aa3"];

  function datasets(curves, names) {
    return names.flatMap((name, i) =>
      Object.entries(curves).filter(([key]) => key === name || key.startsWith(name + ":")).map(([key, points], j) => ({
        label: key,
        data: points.map(([step, value]) => ({ x: step, y: value })),
        borderColor: palette[(i + j) % palette.length],
        pointRadius: points.length > 60 ? 0 : 2,
        tension: 0.15,
      })));
  }

  function draw(canvas, curves) {
    const names = canvas.dataset.series.split(",");
    const data = { datasets: datasets(curves, names) };
    if (canvas._chart) {
      canvas._chart.data = data;
      canvas._chart.update("none");
      return;
    }
    canvas._chart = new Chart(canvas, {
      type: "line",
      data,
      options: {
        animation: false,
        aspectRatio: 2,
        parsing: false,
        scales: { x: { type: "linear", title: { display: true, text: "step" } } },
        plugins: { legend: { display: data.datasets.length > 1 } },
      },
    });
  }

  // The project overview: judgments per day stacked by kind, and judgments per annotator.
  function overviewCharts() {
    const source = document.getElementById("overview-data");
    if (!source) return;
    const data = JSON.parse(source.textContent);
    const perDay = document.querySelector("canvas[data-chart=per-day]");
    if (perDay) {
      const days = [...new Set(data.perDay.map((r) => r.day))];
      const kinds = [...new Set(data.perDay.map((r) => r.kind))];
      perDay._chart = new Chart(perDay, {
        type: "bar",
        data: {
          labels: days,
          datasets: kinds.map((kind, i) => ({
            label: kind,
            data: days.map((day) => (data.perDay.find((r) => r.day === day && r.kind === kind) || { n: 0 }).n),
            backgroundColor: palette[i % palette.length],
          })),
        },
        options: { animation: false, aspectRatio: 2.4, scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true } } },
      });
    }
    const people = document.querySelector("canvas[data-chart=annotators]");
    if (people) {
      people._chart = new Chart(people, {
        type: "bar",
        data: {
          labels: data.annotators.map((a) => a.name),
          datasets: [{ label: "judgments", data: data.annotators.map((a) => a.judgments), backgroundColor: palette[0] }],
        },
        options: { animation: false, aspectRatio: 2.4, indexAxis: "y", plugins: { legend: { display: false } } },
      });
    }
  }

  function start() {
    overviewCharts();
    document.querySelectorAll("canvas[data-series]").forEach((canvas) => {
      const inline = document.getElementById("curves-data");
      draw(canvas, inline ? JSON.parse(inline.textContent) : {});
      if (canvas.dataset.live !== "1") return;
      const timer = setInterval(async () => {
        const answer = await fetch(canvas.dataset.curvesUrl, { credentials: "same-origin" });
        if (!answer.ok) return;
        draw(canvas, await answer.json());
        const progress = document.getElementById("run-progress");
        if (progress && ["succeeded", "failed", "cancelled"].includes(progress.dataset.status)) clearInterval(timer);
      }, 2000);
    });
  }
  document.addEventListener("DOMContentLoaded", start);
  window.arbiterCharts = { draw };
})();
