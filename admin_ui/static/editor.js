// The template editor's live preview: while the merchant types, the typed subject, HTML and
// plain text go to the preview endpoint (debounced) and the preview shows what comes back,
// or the problems with their lines. The page works without this: the server renders the
// same preview on every load and after every post.
(function () {
  "use strict";
  var form = document.getElementById("template-form");
  if (!form || typeof window.cartbridgeFetch !== "function") {
    return;
  }
  var FIELDS = ["subject", "html", "text"];
  var LABELS = { subject: "Subject", html: "HTML", text: "Plain text" };
  var DEBOUNCE_MS = 300;
  var url = form.dataset.previewUrl;
  var frame = document.getElementById("preview-frame");
  var subject = document.getElementById("preview-subject");
  var text = document.getElementById("preview-text");
  var problems = document.getElementById("preview-problems");
  var timer = null;
  var latest = 0;

  function csrfToken() {
    var input = form.querySelector("input[name=csrf_token]");
    return input ? input.value : "";
  }

  function say(heading, lines) {
    problems.textContent = "";
    if (!heading) {
      return;
    }
    var box = document.createElement("div");
    box.className = "errors";
    var title = document.createElement("p");
    var strong = document.createElement("strong");
    strong.textContent = heading;
    title.appendChild(strong);
    box.appendChild(title);
    var list = document.createElement("ul");
    lines.forEach(function (line) {
      var item = document.createElement("li");
      item.textContent = line;
      list.appendChild(item);
    });
    box.appendChild(list);
    problems.appendChild(box);
  }

  function show(data) {
    if (data.problems && data.problems.length) {
      // The last good preview stays in view while the merchant fixes the template.
      say("The template has problems:", data.problems.map(function (p) {
        var where = p.line ? ", line " + p.line : "";
        return (LABELS[p.field] || p.field) + where + ": " + p.message;
      }));
      return;
    }
    say(null);
    subject.textContent = data.subject;
    frame.srcdoc = data.html;
    text.textContent = data.text;
  }

  function refresh() {
    var mine = ++latest;
    var body = {};
    FIELDS.forEach(function (name) { body[name] = form.elements[name].value; });
    window.cartbridgeFetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrfToken() },
      body: JSON.stringify(body)
    }).then(function (response) {
      if (!response.ok) {
        throw new Error("HTTP " + response.status);
      }
      return response.json();
    }).then(function (data) {
      if (mine === latest) {  // an older, slower answer must not overwrite a newer one
        show(data);
      }
    }).catch(function () {
      if (mine === latest) {
        say("The preview could not be updated.", ["Check your connection, or save to see it."]);
      }
    });
  }

  form.addEventListener("input", function (event) {
    if (FIELDS.indexOf(event.target.name) < 0) {
      return;
    }
    window.clearTimeout(timer);
    timer = window.setTimeout(refresh, DEBOUNCE_MS);
  });
})();
