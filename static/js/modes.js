/*
 * Fusebox: the "Charging plan" panel follows its plan without a reload. While the panel asks
 * for it ([data-poll-ms]: soon while a plan waits for balancing, slowly while a session runs),
 * it fetches itself again from [data-url] (the server renders it) and swaps itself in; never
 * while the person is filling in its form. Without this file, a reload shows the same.
 */
(function () {
  "use strict";

  function schedule(panel) {
    var delay = Number(panel.getAttribute("data-poll-ms"));
    if (delay > 0) {
      window.setTimeout(function () {
        refresh(panel);
      }, delay);
    }
  }

  function busy(panel) {
    return panel.hasAttribute("data-touched") || panel.contains(document.activeElement);
  }

  function watch(panel) {
    panel.addEventListener("input", function () {
      panel.setAttribute("data-touched", "");
    });
    schedule(panel);
  }

  function refresh(panel) {
    if (!panel.isConnected) {
      return;
    }
    if (busy(panel)) {
      schedule(panel);
      return;
    }
    fetch(panel.getAttribute("data-url"), {
      credentials: "same-origin",
      headers: { Accept: "text/html" },
    })
      .then(function (response) {
        if (!response.ok) {
          throw new Error(String(response.status));
        }
        return response.text();
      })
      .then(function (html) {
        var holder = document.createElement("template");
        holder.innerHTML = html.trim();
        var next = holder.content.querySelector("[data-plan-panel]");
        if (!next) {
          throw new Error("no panel");
        }
        if (busy(panel)) {
          schedule(panel);
          return;
        }
        panel.replaceWith(next);
        watch(next);
      })
      .catch(function () {
        schedule(panel); /* try again later: a lost answer must not freeze the panel */
      });
  }

  var panel = document.querySelector("[data-plan-panel]");
  if (panel) {
    watch(panel);
  }
})();
