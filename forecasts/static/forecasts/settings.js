/* The settings page's copy and show buttons for the calendar address. */
(function () {
  var field = document.getElementById("calendar-url");
  var status = document.getElementById("copy-status");
  document.getElementById("copy-calendar").addEventListener("click", function () {
    var done = function () { status.textContent = "Copied."; };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(field.value).then(done, function () { status.textContent = "Copy failed: use Show and copy it."; });
    } else {
      field.type = "text"; field.select(); document.execCommand("copy"); field.type = "password"; done();
    }
  });
  document.getElementById("show-calendar").addEventListener("click", function (event) {
    var shown = field.type === "text";
    field.type = shown ? "password" : "text";
    event.target.textContent = shown ? "Show" : "Hide";
  });
})();
