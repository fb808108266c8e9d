// The one box: as a forecast is typed, ask the server what it understood (GET /api/forecast-input/)
// and show the answer beside the box. The server's parser is the only one: nothing is read here.
(function () {
  "use strict";
  function preview(input) {
    var target = document.getElementById(input.dataset.previewTarget || input.id + "-preview");
    if (!target) {
      target = document.createElement("output");
      target.id = input.id + "-preview";
      target.className = "forecast-preview";
      target.setAttribute("aria-live", "polite");
      input.insertAdjacentElement("afterend", target);
    }
    var timer = null;
    var asked = 0;
    input.addEventListener("input", function () {
      window.clearTimeout(timer);
      var text = input.value.trim();
      if (!text) {
        target.textContent = "";
        target.className = "forecast-preview";
        return;
      }
      timer = window.setTimeout(function () {
        var mine = ++asked;
        var url = input.dataset.previewUrl + "?" + new URLSearchParams({ forecast: text });
        fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
          .then(function (response) {
            return response.json().then(function (body) { return { ok: response.ok, body: body }; });
          })
          .then(function (answer) {
            if (mine !== asked) return; // a later keystroke has asked again
            if (answer.ok) {
              target.textContent = "= " + answer.body.description;
              target.className = "forecast-preview understood";
            } else {
              target.textContent = (answer.body.forecast || ["Could not read that."])[0];
              target.className = "forecast-preview refused";
            }
          })
          .catch(function () { /* offline: the server still checks on saving */ });
      }, 200);
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("input[data-preview-url]").forEach(preview);
  });
})();
