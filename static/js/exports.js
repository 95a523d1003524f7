/*
 * Fusebox: an export's page follows the worker that writes it. While the page says it is
 * running ([data-poll-ms] > 0), it fetches the job's small JSON status from [data-status-url]
 * and moves the progress bar; when the file is ready it shows the download link. Without this
 * file, the page's "Refresh" link does the same by hand.
 */
(function () {
  "use strict";

  function part(panel, name) {
    return panel.querySelector('[data-export="' + name + '"]');
  }

  function show(panel, state) {
    part(panel, "status").textContent = state.status_label;
    if (state.rows_total !== null) {
      part(panel, "rows").textContent =
        state.rows_done.toLocaleString() + " of " + state.rows_total.toLocaleString() + " rows";
    }
    part(panel, "progress").value = state.percent;
    part(panel, "progress").textContent = state.percent + " %";
    var error = part(panel, "error");
    error.textContent = state.error;
    error.hidden = !state.error;
    var download = part(panel, "download");
    if (state.download_url) {
      download.href = state.download_url;
      download.hidden = false;
    }
    var refresh = part(panel, "refresh");
    if (refresh && state.finished) {
      refresh.remove();
    }
  }

  function poll(panel) {
    var delay = Number(panel.getAttribute("data-poll-ms"));
    if (!(delay > 0) || !panel.isConnected) {
      return;
    }
    window.setTimeout(function () {
      fetch(panel.getAttribute("data-status-url"), {
        credentials: "same-origin",
        headers: { Accept: "application/json" },
      })
        .then(function (response) {
          if (!response.ok) {
            throw new Error(String(response.status));
          }
          return response.json();
        })
        .then(function (state) {
          show(panel, state);
          if (!state.finished) {
            poll(panel);
          }
        })
        .catch(function () {
          poll(panel); // a hiccup: try again at the same pace
        });
    }, delay);
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-status-url]").forEach(poll);
  });
})();
