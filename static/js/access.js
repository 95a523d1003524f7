/*
 * Fusebox: the "Charging" panel of a charger page follows a start or stop without a reload.
 * While the panel says it is waiting ([data-poll-ms]), it fetches itself again from [data-url]
 * (the server renders it) and swaps itself in. Without this file, "Check again" reloads the page.
 * It also fetches itself when the page's live stream tells of a session or connector event of its
 * charger ("fusebox:live-events", dispatched by the charger page): a start, a stop or a fault
 * shows at once.
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

  function refresh(panel) {
    if (!panel.isConnected) {
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
        var next = holder.content.querySelector("[data-charging-panel]");
        if (!next) {
          throw new Error("no panel");
        }
        panel.replaceWith(next);
        schedule(next);
      })
      .catch(function () {
        schedule(panel); /* try again later: a lost answer must not freeze the panel */
      });
  }

  var FOLLOWED = /^(session|connector)\./;
  var soon = null;

  document.addEventListener("fusebox:live-events", function (event) {
    var panel = document.querySelector("[data-charging-panel]");
    if (!panel || soon !== null) {
      return;
    }
    var chargerId = Number(panel.getAttribute("data-charger-id"));
    var ours = event.detail.some(function (told) {
      return told.charger === chargerId && FOLLOWED.test(told.type);
    });
    if (ours) {
      soon = window.setTimeout(function () {
        soon = null;
        refresh(document.querySelector("[data-charging-panel]"));
      }, 250);
    }
  });

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-charging-panel]").forEach(schedule);
  });
})();
