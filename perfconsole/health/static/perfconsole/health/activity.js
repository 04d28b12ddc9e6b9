// Live activity: reload the sessions, locks and progress every N seconds.
// A file, not an inline script: the Content-Security-Policy allows scripts
// from the console's origin only. The page names N in data-refresh-seconds
// (0: no reloading); the button pauses and resumes.
(function () {
  "use strict";

  var holder = document.getElementById("activity-refresh");
  var live = document.getElementById("activity-live");
  var seconds = holder ? parseInt(holder.dataset.refreshSeconds, 10) : 0;
  if (!live || !(seconds > 0)) {
    return;
  }
  var status = document.getElementById("activity-refresh-status");
  var toggle = document.getElementById("activity-refresh-toggle");
  var paused = false;
  var timer = null;

  function say(text) {
    status.textContent = text;
  }

  function schedule() {
    timer = window.setTimeout(reload, seconds * 1000);
  }

  function reload() {
    if (paused) {
      return;
    }
    if (document.hidden) {
      // Nobody looks: try again later rather than load the server.
      schedule();
      return;
    }
    fetch(window.location.href, { credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok || response.redirected) {
          throw new Error("the server answered " + response.status);
        }
        return response.text();
      })
      .then(function (html) {
        var page = new DOMParser().parseFromString(html, "text/html");
        var fresh = page.getElementById("activity-live");
        if (!fresh) {
          throw new Error("the page came back without sessions");
        }
        live.replaceChildren.apply(live, Array.from(fresh.childNodes));
        say("Reloads every " + seconds + " s; last at " +
            new Date().toLocaleTimeString() + ".");
        schedule();
      })
      .catch(function (error) {
        say("Reloading stopped: " + error.message + ". Reload the page.");
        toggle.hidden = true;
      });
  }

  toggle.addEventListener("click", function () {
    paused = !paused;
    window.clearTimeout(timer);
    if (paused) {
      toggle.textContent = "Resume";
      say("Paused.");
    } else {
      toggle.textContent = "Pause";
      reload();
    }
  });
  schedule();
})();
