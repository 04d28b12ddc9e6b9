/* Draw the scaling run's log-log charts with the vendored uPlot.
 *
 * The page renders {"charts": [{"id", "title", "x_label", "x": [sizes],
 * "series": [{"label", "values": [p95 ms or null]}]}]} with json_script
 * (id "scaling-data"); each <div data-scaling-chart="ID"> gets its chart.
 * Both axes are logarithmic (uPlot distr 3), so a straight line's gradient
 * is the slope printed in each series' label. Colours follow the admin's
 * light and dark themes through its CSS variables.
 */
(function () {
  "use strict";

  var PALETTE = ["#4a90c2", "#e08a00", "#d9534f", "#5cb85c", "#9467bd", "#17becf", "#8c564b"];

  function cssVar(name, fallback) {
    var value = getComputedStyle(document.documentElement).getPropertyValue(name);
    return value.trim() || fallback;
  }

  function short(value) {
    if (value === null || value === undefined) {
      return "–";
    }
    if (value >= 1e6) {
      return parseFloat((value / 1e6).toPrecision(3)) + "M";
    }
    if (value >= 1e3) {
      return parseFloat((value / 1e3).toPrecision(3)) + "k";
    }
    return String(parseFloat(value.toPrecision(3)));
  }

  /* An axis's labels: uPlot passes null for the log ticks it leaves unlabelled. */
  function ticks(u, splits) {
    return splits.map(function (value) { return value === null ? "" : short(value); });
  }

  function options(chart, width) {
    var fg = cssVar("--body-fg", "#333");
    var grid = cssVar("--hairline-color", cssVar("--border-color", "#ccc"));
    var axis = { stroke: fg, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 } };
    var series = [{
      label: chart.x_label,
      value: function (u, value) { return short(value); }
    }];
    chart.series.forEach(function (item, index) {
      series.push({
        label: item.label,
        stroke: PALETTE[index % PALETTE.length],
        width: 1.5,
        spanGaps: true,
        points: { show: true, size: 6 },
        value: function (u, value) { return value === null ? "–" : short(value) + " ms"; }
      });
    });
    return {
      width: width,
      height: 260,
      series: series,
      axes: [
        Object.assign({}, axis, {
          label: chart.x_label,
          values: ticks
        }),
        Object.assign({}, axis, {
          label: "p95 (ms)",
          size: 70,
          values: ticks
        })
      ],
      scales: {
        x: { time: false, distr: 3, log: 10 },
        y: { distr: 3, log: 10 }
      }
    };
  }

  function draw(container, chart) {
    var points = 0;
    chart.series.forEach(function (item) {
      item.values.forEach(function (value) {
        if (value !== null) {
          points += 1;
        }
      });
    });
    container.setAttribute("data-points", String(points));
    if (!points) {
      container.classList.add("pc-chart-empty");
      container.textContent = "Nothing measured.";
      return null;
    }
    var columns = [chart.x].concat(chart.series.map(function (s) { return s.values; }));
    var plot = new uPlot(options(chart, container.clientWidth || 400), columns, container);
    container.classList.add("pc-chart-drawn");
    return plot;
  }

  function drawAll() {
    var source = document.getElementById("scaling-data");
    if (!source) {
      return;
    }
    var data = JSON.parse(source.textContent);
    var plots = [];
    document.querySelectorAll("[data-scaling-chart]").forEach(function (container) {
      var id = container.getAttribute("data-scaling-chart");
      var chart = data.charts.find(function (c) { return c.id === id; });
      if (chart) {
        var plot = draw(container, chart);
        if (plot) {
          plots.push([plot, container]);
        }
      }
    });
    window.addEventListener("resize", function () {
      plots.forEach(function (pair) {
        pair[0].setSize({ width: pair[1].clientWidth, height: 260 });
      });
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", drawAll);
  } else {
    drawAll();
  }
})();
