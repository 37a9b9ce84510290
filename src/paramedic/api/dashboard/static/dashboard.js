// paramedic dashboard: live updates through the agent's event stream, and the token for writes.
// Plain JS, vendored, no build step. Pages read fine without it.
(function () {
  "use strict";
  var main = document.querySelector("main");
  var live = document.getElementById("live");
  var pending = null;
  var settle = null;

  function refresh() {
    pending = null;
    fetch(window.location.href, { headers: { "Accept": "text/html" } })
      .then(function (r) { return r.text(); })
      .then(function (html) {
        var doc = new DOMParser().parseFromString(html, "text/html");
        var fresh = doc.querySelector("main");
        if (fresh && main) { main.innerHTML = fresh.innerHTML; bindButtons(); }
      })
      .catch(function () { /* the next event tries again */ });
  }

  function follow() {
    if (!window.EventSource) { return; }
    var source = new EventSource("/api/v1/events");
    source.addEventListener("open", function () { if (live) { live.textContent = "● live"; live.className = "live on"; } });
    source.addEventListener("error", function () { if (live) { live.textContent = "○ reconnecting"; live.className = "live off"; } });
    source.addEventListener("decision", function (event) {
      var record = JSON.parse(event.data);
      var scope = document.body.getAttribute("data-component");
      if (scope && record.component !== scope && record.component !== "-") { return; }
      if (!pending) { pending = setTimeout(refresh, 250); }
      // the agent writes health states to the store once a second: read again once it has
      if (settle) { clearTimeout(settle); }
      settle = setTimeout(function () { settle = null; refresh(); }, 1500);
    });
  }

  function token() {
    var field = document.getElementById("token");
    var value = field && field.value ? field.value : sessionStorage.getItem("paramedic-token");
    if (field && field.value) { sessionStorage.setItem("paramedic-token", field.value); }
    return value || "";
  }

  function bindButtons() {
    var buttons = document.querySelectorAll("button[data-post]");
    Array.prototype.forEach.call(buttons, function (button) {
      button.onclick = function () {
        var out = document.getElementById("answer");
        fetch(button.getAttribute("data-post"), {
          method: "POST",
          headers: { "Authorization": "Bearer " + token(), "Content-Type": "application/json" },
          body: "{}"
        }).then(function (r) {
          return r.json().then(function (body) {
            if (out) { out.textContent = (r.ok ? "✔ " + body.message : "✘ " + body.error); out.className = r.ok ? "answer ok" : "answer bad"; }
            if (r.ok) { setTimeout(refresh, 300); }
          });
        });
      };
    });
  }

  bindButtons();
  follow();
})();
