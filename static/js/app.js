/*
 * Fusebox: small progressive enhancements. Every page works without this file.
 *  - [data-confirm] on a form or button: ask before submitting.
 *  - [data-copy="#id"] buttons: copy the text of the target element.
 *  - [data-dismiss] inside [data-dismissible]: close a flash message.
 *  - [data-dropdown] (a <details>): close on outside click and on Escape.
 *  - .tabs: on a narrow screen, scroll the active tab into view.
 */
(function () {
  "use strict";

  document.addEventListener("submit", function (event) {
    var form = event.target;
    var submitter = event.submitter;
    var message =
      (submitter && submitter.getAttribute("data-confirm")) || form.getAttribute("data-confirm");
    if (message && !window.confirm(message)) {
      event.preventDefault();
    }
  });

  document.addEventListener("click", function (event) {
    var copy = event.target.closest("[data-copy]");
    if (copy) {
      var target = document.querySelector(copy.getAttribute("data-copy"));
      if (target) {
        var text = target.value !== undefined ? target.value : target.textContent.trim();
        var done = function () {
          var label = copy.querySelector("[data-copy-label]");
          if (label) {
            var previous = label.textContent;
            label.textContent = "Copied";
            window.setTimeout(function () {
              label.textContent = previous;
            }, 1600);
          }
        };
        if (navigator.clipboard && window.isSecureContext) {
          navigator.clipboard.writeText(text).then(done);
        } else {
          var range = document.createRange();
          range.selectNodeContents(target);
          var selection = window.getSelection();
          selection.removeAllRanges();
          selection.addRange(range);
          try {
            document.execCommand("copy");
            done();
          } catch (error) {
            /* the text stays selected for a manual copy */
          }
        }
      }
    }

    var dismiss = event.target.closest("[data-dismiss]");
    if (dismiss) {
      var box = dismiss.closest("[data-dismissible]");
      if (box) {
        box.remove();
      }
    }

    document.querySelectorAll("details[data-dropdown][open]").forEach(function (menu) {
      if (!menu.contains(event.target)) {
        menu.removeAttribute("open");
      }
    });
  });

  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape") {
      document.querySelectorAll("details[data-dropdown][open]").forEach(function (menu) {
        menu.removeAttribute("open");
      });
    }
  });

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll(".tabs").forEach(function (tabs) {
      var active = tabs.querySelector("a.active");
      if (active && tabs.scrollWidth > tabs.clientWidth) {
        tabs.scrollLeft = active.offsetLeft - (tabs.clientWidth - active.offsetWidth) / 2;
      }
    });
  });
})();
