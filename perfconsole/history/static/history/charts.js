/* Draw the statistics history's charts with uPlot.
 *
 * A container <div data-chart="ID" data-chart-source="JSON-ID"> names one
 * chart of the JSON the page rendered with json_script:
 * {"times": [epoch seconds], "tz": "Europe/Paris",
 *  "charts": [{"id", "title", "unit", "series": [{"label", "values"}]}]}.
 * null values are gaps (spanGaps is off). Colours come from the admin's CSS
 * variables, so the charts follow its light and dark themes.
 */
(function () {
  "use strict";

  var PALETTE = ["#4a90c2", "#e08a00", "#d9534f", "#5cb85c", "#9467bd", "#17becf"];
  var SIZE_UNITS = ["B", "kB", "MB", "GB", "TB"];

  function cssVar(name, fallback) {
    var value = getComputedStyle(document.documentElement).getPropertyValue(name);
    return value.trim() || fallback;
  }

  function trim(number) {
    var abs = Math.abs(number);
    if (abs > 0 && abs < 1) {
      return String(parseFloat(number.toPrecision(3)));
    }
    var places = abs >= 100 ? 0 : abs >= 10 ? 1 : abs >= 1 ? 2 : 3;
    return String(parseFloat(number.toFixed(places)));
  }

  function bytes(value) {
    var unit = 0;
    while (Math.abs(value) >= 1024 && unit < SIZE_UNITS.length - 1) {
      value /= 1024;
      unit += 1;
    }
    return trim(value) + " " + SIZE_UNITS[unit];
  }

  /* Return a value with its unit: bytes scaled, ms, %, per second ... */
  function format(unit, value) {
    if (value === null || value === undefined) {
      return "–";
    }
    if (unit === "B") {
      return bytes(value);
    }
    if (unit === "B/s") {
      return bytes(value) + "/s";
    }
    if (unit === "ms" && Math.abs(value) >= 1000) {
      return trim(value / 1000) + " s";
    }
    if (unit === "ms") {
      return trim(value) + " ms";
    }
    if (unit === "%") {
      return trim(value) + " %";
    }
    if (unit === "/s" || unit === "/h" || unit === "ms/s") {
      return trim(value) + " " + unit;
    }
    // Counts (sessions, rows, blocks): the unit is in the chart's title.
    return trim(value);
  }

  function options(chart, data, width) {
    var fg = cssVar("--body-fg", "#333");
    var grid = cssVar("--hairline-color", cssVar("--border-color", "#ccc"));
    var axis = {
      stroke: fg,
      grid: { stroke: grid, width: 1 },
      ticks: { stroke: grid, width: 1 }
    };
    var zoned = function (ts) { return uPlot.tzDate(new Date(ts * 1e3), data.tz); };
    // 24-hour times as the console shows them; dates on windows over two days.
    var tick = uPlot.fmtDate(data.end - data.start > 2 * 86400 ? "{MM}-{DD} {HH}:{mm}" : "{HH}:{mm}");
    var full = uPlot.fmtDate("{YYYY}-{MM}-{DD} {HH}:{mm}:{ss}");
    var series = [{
      value: function (u, ts) { return ts === null ? "–" : full(zoned(ts)); }
    }];
    chart.series.forEach(function (item, index) {
      series.push({
        label: item.label,
        stroke: PALETTE[index % PALETTE.length],
        width: 1.5,
        spanGaps: false,
        value: function (u, value) { return format(chart.unit, value); }
      });
    });
    return {
      width: width,
      height: 200,
      tzDate: zoned,
      series: series,
      axes: [
        Object.assign({}, axis, {
          space: 60,
          values: function (u, splits) {
            return splits.map(function (ts) { return tick(zoned(ts)); });
          }
        }),
        Object.assign({}, axis, {
          size: 90,
          values: function (u, splits) {
            return splits.map(function (v) { return format(chart.unit, v); });
          }
        })
      ],
      scales: {
        // The whole window, so a chart filling in shows where it stands.
        x: { time: true, auto: false, range: [data.start, data.end] },
        y: chart.unit === "%" ? { range: [0, 100] } : {}
      }
    };
  }

  function pointCount(chart) {
    var count = 0;
    chart.series.forEach(function (item) {
      item.values.forEach(function (value) {
        if (value !== null) {
          count += 1;
        }
      });
    });
    return count;
  }

  function draw(container, data, chart) {
    var points = pointCount(chart);
    container.setAttribute("data-points", String(points));
    if (!data.times.length || !chart.series.length) {
      container.classList.add("pc-chart-empty");
      container.textContent = data.times.length ? "No data in this window." : "No collection in this window yet.";
      return null;
    }
    var columns = [data.times].concat(chart.series.map(function (s) { return s.values; }));
    var plot = new uPlot(options(chart, data, container.clientWidth || 400), columns, container);
    container.classList.add("pc-chart-drawn");
    return plot;
  }

  function drawAll() {
    var plots = [];
    var sources = {};
    document.querySelectorAll("[data-chart]").forEach(function (container) {
      var sourceId = container.getAttribute("data-chart-source");
      if (!(sourceId in sources)) {
        var element = document.getElementById(sourceId);
        sources[sourceId] = element ? JSON.parse(element.textContent) : null;
      }
      var data = sources[sourceId];
      if (!data) {
        return;
      }
      var chart = data.charts.find(function (c) { return c.id === container.getAttribute("data-chart"); });
      if (chart) {
        var plot = draw(container, data, chart);
        if (plot) {
          plots.push([plot, container]);
        }
      }
    });
    window.addEventListener("resize", function () {
      plots.forEach(function (pair) {
        pair[0].setSize({ width: pair[1].clientWidth, height: 200 });
      });
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", drawAll);
  } else {
    drawAll();
  }
})();
