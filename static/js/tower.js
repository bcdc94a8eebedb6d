/* The pages' own small script: the reader's time zone, live relative times, focus on errors.
 *
 * Times are rendered by the server in the zone named by the "tz" cookie (see
 * controltower/timezones.py). This script sets that cookie from the browser's zone;
 * on the first page, before the server knew the zone, it rewrites the absolute
 * times itself, unless the person chose a zone of their own (account, "Time zone"), which
 * the server uses instead. Relative times ("3 hours ago") are kept current while a page stays open.
 */
(function () {
  "use strict";

  var zone = "";
  try {
    zone = Intl.DateTimeFormat().resolvedOptions().timeZone || "";
  } catch (e) {
    zone = "";
  }
  var rendered = document.documentElement.getAttribute("data-time-zone");
  // A zone the person chose in the tower wins over the browser's: the server rendered it.
  var chosen = document.documentElement.hasAttribute("data-time-zone-chosen");
  var rewrite = zone && zone !== rendered && !chosen;
  if (zone) {
    document.cookie = "tz=" + encodeURIComponent(zone) + "; path=/; max-age=31536000; SameSite=Lax";
  }

  var absolute = new Intl.DateTimeFormat("en-GB", {
    day: "2-digit",
    month: "short",
    year: "numeric",
    hour: "2-digit",
    minute: "2-digit",
    hour12: false,
  });
  var UNITS = [
    ["year", 365 * 86400],
    ["month", 30 * 86400],
    ["week", 7 * 86400],
    ["day", 86400],
    ["hour", 3600],
    ["minute", 60],
  ];

  function relative(date) {
    var seconds = Math.round((Date.now() - date.getTime()) / 1000);
    if (Math.abs(seconds) < 60) return "just now";
    var size = Math.abs(seconds);
    for (var i = 0; i < UNITS.length; i++) {
      var count = Math.floor(size / UNITS[i][1]);
      if (count >= 1) {
        var words = count + " " + UNITS[i][0] + (count === 1 ? "" : "s");
        return seconds > 0 ? words + " ago" : "in " + words;
      }
    }
    return "just now";
  }

  function refresh(root) {
    var scope = root && root.querySelectorAll ? root : document;
    scope.querySelectorAll("[data-relative]").forEach(function (el) {
      var date = new Date(el.getAttribute("data-relative"));
      if (!isNaN(date)) el.textContent = relative(date);
    });
    if (rewrite) {
      // Only absolute times: a <time> that shows a relative text carries data-relative.
      scope.querySelectorAll("time[datetime]:not([data-relative])").forEach(function (el) {
        var date = new Date(el.getAttribute("datetime"));
        if (!isNaN(date) && el.getAttribute("datetime").indexOf("T") > 0) {
          el.textContent = absolute.format(date).replace(",", "");
        }
      });
      var label = document.getElementById("time-zone-name");
      if (label) label.textContent = zone;
    }
  }

  function focusErrors(root) {
    var scope = root && root.querySelector ? root : document;
    var summary = scope.querySelector("[data-focus-on-load]");
    if (summary) summary.focus();
  }

  document.addEventListener("DOMContentLoaded", function () {
    refresh(document);
    focusErrors(document);
    setInterval(function () {
      refresh(document);
    }, 60000);
    document.body.addEventListener("htmx:afterSwap", function (event) {
      refresh(event.target);
    });
  });
})();
