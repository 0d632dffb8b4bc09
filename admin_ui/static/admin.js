// cartbridge admin: progressive enhancement only; every page works without it.
// Embedded in the Shopify admin there are no cookies: each navigation and form post
// carries a fresh App Bridge session token (window.shopify.idToken(), 1 minute life).
(function () {
  "use strict";
  var embedded = document.body && document.body.dataset.embedded === "1";

  function withToken(url, token) {
    var target = new URL(url, window.location.href);
    target.searchParams.set("id_token", token);
    return target.toString();
  }

  function freshToken() {
    if (!window.shopify || typeof window.shopify.idToken !== "function") {
      return Promise.reject(new Error("App Bridge is not loaded"));
    }
    return window.shopify.idToken();
  }

  // Other scripts (the template editor's live preview) call this for their fetches.
  window.cartbridgeFetch = function (url, options) {
    options = options || {};
    if (!embedded) {
      return fetch(url, options);
    }
    return freshToken().then(function (token) {
      options.headers = Object.assign({}, options.headers || {}, { Authorization: "Bearer " + token });
      return fetch(url, options);
    });
  };

  if (!embedded) {
    return;
  }
  document.addEventListener("click", function (event) {
    var link = event.target.closest("a[href]");
    if (!link || event.defaultPrevented || link.target || event.metaKey || event.ctrlKey) {
      return;
    }
    var url = new URL(link.href, window.location.href);
    if (url.origin !== window.location.origin || !url.pathname.startsWith("/admin/") ||
        link.hasAttribute("download")) {
      return;
    }
    event.preventDefault();
    freshToken().then(function (token) { window.location.assign(withToken(url, token)); },
                      function () { window.location.assign(url.toString()); });
  });
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.dataset.tokenAdded === "1") {
      return;
    }
    event.preventDefault();
    // form.submit() below drops the clicked button: carry its name/value and formaction over.
    var button = event.submitter;
    if (button && button.name) {
      var pressed = document.createElement("input");
      pressed.type = "hidden";
      pressed.name = button.name;
      pressed.value = button.value;
      form.appendChild(pressed);
    }
    if (button && button.hasAttribute("formaction")) {
      form.setAttribute("action", button.getAttribute("formaction"));
    }
    freshToken().then(function (token) {
      if ((form.method || "get").toLowerCase() === "get") {
        // A GET form replaces the action's query with its fields: the token goes in a field.
        var field = form.querySelector("input[name=id_token]") || document.createElement("input");
        field.type = "hidden";
        field.name = "id_token";
        field.value = token;
        form.appendChild(field);
      } else {
        form.action = withToken(form.getAttribute("action") || window.location.href, token);
      }
      form.dataset.tokenAdded = "1";
      form.submit();
    }, function () { form.dataset.tokenAdded = "1"; form.submit(); });
  });
})();
