/*
 * The Load tab, live: polls GET /api/v1/installations/{id}/load/ (session auth) and updates the
 * fuse bars, the charger rows, the totals and the decision list in place. The page is complete
 * without this file (it shows the state at render time). Polling pauses while the tab is hidden.
 * With data-live-url, it listens to the installation's server-sent events (portal/live_views.py):
 * each "change" fetches at once (debounced) and the poll slows to a fallback every minute; after
 * repeated EventSource failures it closes the stream and polls as before.
 * Text is set with textContent only: nothing from the server is parsed as HTML.
 */
(function () {
  "use strict";

  var root = document.querySelector("[data-load]");
  if (!root || !window.fetch) {
    return;
  }
  var url = root.getAttribute("data-url");
  var interval = parseInt(root.getAttribute("data-interval"), 10) || 5000;
  var failsafe = root.getAttribute("data-failsafe");
  var timeZone = root.getAttribute("data-time-zone") || undefined;
  var status = root.querySelector("[data-load-status]");
  var live = root.querySelector("[data-load-live]");
  var timer = null;
  var busy = false;
  var failures = 0;
  var liveUrl = root.getAttribute("data-live-url");
  var SLOW_INTERVAL = 60000; // the fallback poll while the event stream is open
  var DEBOUNCE_MS = 250; // a burst of changes costs one fetch
  var STREAM_GIVE_UP = 3; // EventSource errors in a row without an open stream between them
  var streaming = false;
  var streamErrors = 0;
  var debounce = null;
  var LEVEL_TEXT = { ok: "", high: "Near limit", full: "At limit", over: "Over limit" };
  var NOTES_SHOWN = 12;

  function one(value) {
    return Number(value).toFixed(1);
  }

  function short(value) {
    // Like Django's floatformat:"-1": 63 stays 63, 63.5 stays 63.5.
    var number = Number(value);
    return Number.isInteger(number) ? String(number) : number.toFixed(1);
  }

  function clock(iso) {
    // In the installation's time zone, like the server-rendered times.
    var date = new Date(iso);
    if (isNaN(date)) {
      return "";
    }
    try {
      return date.toLocaleTimeString("en-GB", { hour12: false, timeZone: timeZone });
    } catch (error) {
      return date.toLocaleTimeString("en-GB", { hour12: false });
    }
  }

  function setText(element, text) {
    if (element && element.textContent !== text) {
      element.textContent = text;
    }
  }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) {
      node.className = className;
    }
    if (text !== undefined) {
      node.textContent = text;
    }
    return node;
  }

  function updateFuse(fuse) {
    var box = root.querySelector('[data-fuse="' + fuse.id + '"]');
    if (!box) {
      return false;
    }
    var badge = box.querySelector("[data-fuse-level]");
    if (badge) {
      badge.className = "badge level-badge level-" + fuse.level;
      badge.hidden = fuse.level === "ok";
      setText(badge, LEVEL_TEXT[fuse.level] || "");
    }
    fuse.phases.forEach(function (phase) {
      var row = box.querySelector('[data-phase="' + phase.phase + '"]');
      if (!row) {
        return;
      }
      row.className = "phase-bar lvl-" + phase.level;
      row.querySelector(".bar-load").style.width = phase.percent + "%";
      row.querySelector(".bar-allowed").style.width = phase.allowed_percent + "%";
      var bar = row.querySelector(".bar");
      bar.setAttribute("aria-valuenow", one(phase.load_a));
      bar.setAttribute("aria-valuemax", short(phase.limit_a));
      bar.setAttribute("aria-valuetext", one(phase.load_a) + " of " + short(phase.limit_a) + " A");
      setText(row.querySelector('[data-value="load"]'), one(phase.load_a));
      setText(row.querySelector('[data-value="limit"]'), short(phase.limit_a));
    });
    return true;
  }

  function allowedText(charger) {
    if (charger.state === "offline_failsafe") {
      return failsafe + " A failsafe";
    }
    if (charger.allocated_a === null) {
      return "—";
    }
    var text = short(charger.allocated_a) + " A";
    if (charger.allocated_phases === 1 && charger.phases === 3) {
      text += " · 1 phase";
    }
    return text;
  }

  function updateCharger(charger) {
    var row = root.querySelector('[data-charger="' + charger.id + '"]');
    if (!row) {
      return false;
    }
    var badge = row.querySelector('[data-value="state"]');
    badge.className = "badge state-badge state-" + charger.state;
    setText(badge, charger.state_label);
    var reason = row.querySelector('[data-value="reason"]');
    setText(reason, charger.reason);
    reason.hidden = !charger.reason;
    setText(row.querySelector('[data-value="allowed"]'), allowedText(charger));
    var draw = row.querySelector('[data-value="draw"]');
    draw.textContent = "";
    if (charger.online) {
      charger.draw.forEach(function (phase) {
        var part = el("span", "draw-phase");
        part.appendChild(el("span", "faint", phase.phase));
        part.appendChild(document.createTextNode(" " + one(phase.current_a)));
        draw.appendChild(part);
      });
      draw.appendChild(document.createTextNode(" A"));
    } else {
      draw.appendChild(el("span", "faint", "—"));
    }
    row.querySelector(".mini-bar > span").style.width = charger.draw_percent + "%";
    setText(row.querySelector('[data-value="power"]'), one(charger.power_kw) + " kW");
    setText(
      row.querySelector('[data-value="energy"]'),
      charger.car_connected && charger.session_energy_wh ? one(charger.session_energy_kwh) + " kWh this session" : ""
    );
    return true;
  }

  function renderDecisions(decisions) {
    var list = root.querySelector("[data-decisions]");
    if (!list) {
      return;
    }
    var items = decisions.map(function (decision) {
      var item = el("li", "decision");
      var head = el("div", "decision-head");
      var time = el("time", "", clock(decision.created_at));
      time.setAttribute("datetime", decision.created_at);
      head.appendChild(time);
      head.appendChild(el("span", "badge badge-neutral", decision.trigger_label));
      if (decision.commands_sent) {
        var sent = decision.commands_sent + " limit" + (decision.commands_sent === 1 ? "" : "s");
        head.appendChild(el("span", "badge badge-primary", sent + " sent"));
      } else {
        head.appendChild(el("span", "faint text-sm", "No change"));
      }
      head.appendChild(el("span", "faint text-xs decision-ms", one(decision.solve_ms) + " ms"));
      item.appendChild(head);
      if (decision.reason) {
        item.appendChild(el("p", "decision-reason", decision.reason));
      }
      if (decision.notes.length) {
        var notes = el("ul", "notes");
        decision.notes.slice(0, NOTES_SHOWN).forEach(function (note) {
          notes.appendChild(el("li", "note note-" + note.kind, note.text));
        });
        if (decision.notes.length > NOTES_SHOWN) {
          notes.appendChild(el("li", "note faint", "and " + (decision.notes.length - NOTES_SHOWN) + " more"));
        }
        item.appendChild(notes);
      }
      return item;
    });
    if (!items.length) {
      items = [el("li", "decision decision-empty muted", "No decisions yet: balancing starts when a charger is online.")];
    }
    list.replaceChildren.apply(list, items);
  }

  function update(data) {
    var known = true;
    data.fuses.forEach(function (fuse) {
      known = updateFuse(fuse) && known;
    });
    data.chargers.forEach(function (charger) {
      known = updateCharger(charger) && known;
    });
    var shown = root.querySelectorAll("[data-fuse]").length + root.querySelectorAll("[data-charger]").length;
    if (shown !== data.fuses.length + data.chargers.length) {
      known = false;
    }
    root.querySelector("[data-load-stale]").hidden = known;
    setText(root.querySelector('[data-total="power_kw"]'), one(data.totals.power_kw));
    setText(root.querySelector('[data-total="charging"]'), String(data.totals.charging));
    setText(root.querySelector('[data-total="cars"]'), String(data.totals.cars));
    setText(root.querySelector('[data-total="paused"]'), String(data.totals.paused));
    var main = data.fuses.filter(function (fuse) {
      return fuse.parent_id === null;
    })[0];
    var mainValue = root.querySelector("[data-main-level]");
    if (main && mainValue && main.phases.length) {
      // The phase closest to (or furthest above) its limit, as the server renders it.
      var busiest = main.phases.reduce(function (worst, phase) {
        var ratio = phase.limit_a ? phase.load_a / phase.limit_a : 0;
        var worstRatio = worst.limit_a ? worst.load_a / worst.limit_a : 0;
        return ratio > worstRatio ? phase : worst;
      });
      mainValue.className = "stat-value lvl-text-" + busiest.level;
      setText(root.querySelector('[data-total="main_load"]'), one(busiest.load_a));
      setText(
        root.querySelector('[data-total="main_limit"]'),
        "of " + short(busiest.limit_a) + " A on " + busiest.phase
      );
    }
    renderDecisions(data.decisions);
  }

  function setStatus(ok, text) {
    live.classList.toggle("is-live", ok);
    live.classList.toggle("is-lost", !ok);
    setText(status, text);
  }

  function poll() {
    timer = null;
    busy = true;
    fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) {
          throw new Error("HTTP " + response.status);
        }
        return response.json();
      })
      .then(function (data) {
        failures = 0;
        update(data);
        setStatus(true, "Live · updated " + clock(data.generated_at));
      })
      .catch(function () {
        failures += 1;
        setStatus(false, "Cannot reach Fusebox; retrying…");
      })
      .then(function () {
        busy = false;
        schedule();
      });
  }

  function schedule() {
    if (timer === null && !busy && !document.hidden) {
      // Back off gently after failures (up to a minute), so a dead server is not hammered.
      var every = streaming ? SLOW_INTERVAL : interval;
      timer = window.setTimeout(poll, Math.min(every * Math.pow(2, failures), 60000));
    }
  }

  function pollSoon() {
    // A change was signalled: fetch now (once for a burst), unless a fetch is on its way.
    if (debounce !== null) {
      return;
    }
    debounce = window.setTimeout(function () {
      debounce = null;
      if (busy || document.hidden) {
        return;
      }
      if (timer !== null) {
        window.clearTimeout(timer);
      }
      poll();
    }, DEBOUNCE_MS);
  }

  function listen() {
    if (!liveUrl || !window.EventSource) {
      return;
    }
    var source = new EventSource(liveUrl);
    source.addEventListener("open", function () {
      streaming = true;
      streamErrors = 0;
      root.setAttribute("data-load-streaming", "");
    });
    source.addEventListener("change", pollSoon);
    source.addEventListener("error", function () {
      // EventSource reconnects by itself (the server ends each stream after a few minutes).
      streaming = false;
      root.removeAttribute("data-load-streaming");
      streamErrors += 1;
      if (streamErrors >= STREAM_GIVE_UP) {
        source.close(); // back to polling every few seconds
      }
      if (timer !== null) {
        window.clearTimeout(timer);
        timer = null;
      }
      schedule();
    });
  }

  document.addEventListener("visibilitychange", function () {
    if (document.hidden) {
      if (timer !== null) {
        window.clearTimeout(timer);
        timer = null;
      }
    } else if (timer === null && !busy) {
      poll();
    }
  });

  setStatus(true, "Live · refreshed every " + Math.round(interval / 1000) + " s");
  schedule();
  listen();
})();
