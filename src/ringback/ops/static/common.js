/* Ringback dashboard pages (ops.js, inbox.js): what both need of the page and the API — the API's
   URLs (the admin's restaurant_id on each), its requests (the session cookie signs them; a
   signed-out page is shown again, as its sign-in form), the DOM builder (text goes in with
   textContent only) and the admin's restaurant picker. Plain JavaScript, no dependencies. */
(function () {
  "use strict";

  var body = document.body;
  var ADMIN = body.dataset.admin === "true";
  var RESTAURANT = body.dataset.restaurantId;

  var picker = document.querySelector("[data-autosubmit]");
  if (picker) picker.addEventListener("change", function () { picker.form.submit(); });

  function api(path, params) {
    var q = new URLSearchParams(params || {});
    if (ADMIN) q.set("restaurant_id", RESTAURANT);
    var s = q.toString();
    return "/api/ops/v1" + path + (s ? "?" + s : "");
  }
  // Resolves with the reply's JSON (null for a 204); rejects with an Error carrying the HTTP
  // status and the API's error code (409 WINDOW_CLOSED…). A 401 (the session ended) loads the
  // page again: it is then the sign-in form, which returns to this page.
  function request(url, options) {
    var opts = Object.assign({ credentials: "same-origin" }, options || {});
    opts.headers = Object.assign({ Accept: "application/json" }, opts.headers || {});
    return fetch(url, opts).then(function (r) {
      if (r.status === 401) {
        window.location.assign(window.location.pathname + window.location.search);
        throw new Error("signed out");
      }
      if (r.status === 204) return null;
      return r.json().catch(function () { return {}; }).then(function (j) {
        if (!r.ok) {
          var e = new Error((j.error && j.error.message) || ("HTTP " + r.status));
          e.status = r.status;
          e.code = j.error && j.error.code;
          throw e;
        }
        return j;
      });
    });
  }
  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "text") node.textContent = attrs[k];
      else if (k === "class") node.className = attrs[k];
      else node.setAttribute(k, attrs[k]);
    });
    (children || []).forEach(function (c) { if (c != null) node.appendChild(typeof c === "string" ? document.createTextNode(c) : c); });
    return node;
  }

  window.Ringback = Object.freeze({ api: api, request: request, el: el });
})();
