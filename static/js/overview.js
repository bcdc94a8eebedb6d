/* The overview's charts, drawn with Chart.js from the JSON beside each canvas.
 *
 * A canvas names its data with data-chart (the id of a json_script). Charts are drawn
 * when the page loads and again when a live update replaces the figures; the old
 * ones are destroyed first. Lines differ by colour, dash and point shape, so that
 * they can be told apart without colour; every chart has its numbers in a table.
 */
(function () {
  "use strict";

  // Okabe and Ito's palette: distinguishable with the common colour-vision deficiencies.
  var PALETTE = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000"];
  var POINTS = ["circle", "triangle", "rect", "rectRot", "crossRot", "star", "rectRounded"];
  var DASHES = [[], [6, 4], [2, 3], [10, 3, 2, 3], [4, 4], [1, 3], [8, 2]];
  var BAR = "#1f5fbf";

  // Long category names break into lines (Chart.js draws an array as lines) instead of
  // being cut off at the canvas edge.
  function wrap(label, width) {
    if (typeof label !== "string" || label.length <= width) return label;
    var lines = [];
    var current = "";
    label.split(" ").forEach(function (word) {
      if (current && (current + " " + word).length > width) {
        lines.push(current);
        current = word;
      } else {
        current = current ? current + " " + word : word;
      }
    });
    if (current) lines.push(current);
    return lines;
  }

  function config(spec) {
    var line = spec.type === "line";
    var labels = spec.horizontal
      ? spec.labels.map(function (label) {
          return wrap(label, 26);
        })
      : spec.labels;
    var datasets = spec.datasets.map(function (d, i) {
      if (!line) {
        return { label: d.label, data: d.data, backgroundColor: BAR, borderColor: BAR, borderWidth: 1, maxBarThickness: 26 };
      }
      var colour = PALETTE[i % PALETTE.length];
      return {
        label: d.label,
        data: d.data,
        borderColor: colour,
        backgroundColor: colour,
        borderDash: DASHES[i % DASHES.length],
        pointStyle: POINTS[i % POINTS.length],
        // No marker where nothing happened: the lines that lie on zero do not pile up there.
        pointRadius: function (context) {
          return context.raw ? 3.5 : 0;
        },
        pointHoverRadius: 6,
        borderWidth: 2,
        tension: 0.25,
      };
    });
    var valueAxis = {
      beginAtZero: true,
      ticks: { precision: 0 },
      title: { display: !!spec.y_title, text: spec.y_title || "" },
      grid: { color: "#e6e9ef" },
    };
    // Every category of a horizontal bar chart is named; a time axis may skip some.
    var labelAxis = { grid: { display: false }, ticks: { autoSkip: !spec.horizontal, maxRotation: 0 } };
    return {
      type: line ? "line" : "bar",
      data: { labels: labels, datasets: datasets },
      options: {
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        indexAxis: spec.horizontal ? "y" : "x",
        interaction: { mode: "index", intersect: false },
        plugins: {
          legend: line
            ? { position: "bottom", labels: { usePointStyle: true, boxWidth: 10, padding: 14 } }
            : { display: false },
          tooltip: { usePointStyle: true },
        },
        scales: spec.horizontal ? { x: valueAxis, y: labelAxis } : { x: labelAxis, y: valueAxis },
      },
    };
  }

  function draw(root) {
    if (!window.Chart) return;
    (root || document).querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
      var source = document.getElementById(canvas.getAttribute("data-chart"));
      if (!source) return;
      var existing = window.Chart.getChart(canvas);
      if (existing) existing.destroy();
      new window.Chart(canvas, config(JSON.parse(source.textContent)));
    });
  }

  function destroy(root) {
    if (!window.Chart) return;
    root.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
      var chart = window.Chart.getChart(canvas);
      if (chart) chart.destroy();
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    if (window.Chart) {
      var style = getComputedStyle(document.body);
      window.Chart.defaults.font.family = style.fontFamily;
      window.Chart.defaults.color = "#3a4456";
    }
    draw(document);
    document.addEventListener("live:replacing", function (event) {
      destroy(event.target);
    });
    document.addEventListener("live:updated", function (event) {
      draw(event.target);
    });
  });
})();
