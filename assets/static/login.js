// st2bot login page. Served from /login/assets/login.js (the CSP forbids inline scripts).
// The session id is the last segment of the page's path; every URL here is relative to the
// page, so it also works behind a reverse proxy that mounts st2bot under a prefix.
"use strict";

(function () {
  var UNREACHABLE = "st2bot could not be reached. Check your connection and try again.";
  var $ = function (id) { return document.getElementById(id); };
  var form = $("login");
  var button = $("submit");
  var errorBox = $("error");
  var sessionId = decodeURIComponent(location.pathname.split("/").filter(Boolean).pop() || "");
  var sessionPath = encodeURIComponent(sessionId);

  /** Shows one of the page's states: checking, invalid, form or success. */
  function show(state) {
    $("checking").hidden = state !== "checking";
    $("invalid").hidden = state !== "invalid";
    form.hidden = state !== "form";
    $("success").hidden = state !== "success";
  }

  function showInvalid(text) {
    $("invalid-text").textContent = text;
    show("invalid");
  }

  function showError(text) {
    errorBox.textContent = text;
    errorBox.hidden = false;
  }

  /** The `error` of a JSON answer, else a generic sentence (a proxy's HTML error page, say). */
  function errorOf(response, body) {
    if (body && typeof body.error === "string" && body.error) return body.error;
    return response.status === 429 ? "Too many attempts; please wait a few minutes and try again." : UNREACHABLE;
  }

  function readJson(response) {
    return response.json().catch(function () { return null; });
  }

  function selectedKind() {
    var checked = form.querySelector('input[name="kind"]:checked');
    return checked ? checked.value : "password";
  }

  /** Shows the fields of the chosen kind; hidden fields are disabled so they are neither required nor sent. */
  function switchKind() {
    var kind = selectedKind();
    form.querySelectorAll(".panel").forEach(function (panel) {
      var active = panel.getAttribute("data-kind") === kind;
      panel.hidden = !active;
      panel.querySelectorAll("input").forEach(function (input) { input.disabled = !active; });
    });
    errorBox.hidden = true;
  }

  function requestBody() {
    var kind = selectedKind();
    var body = { shared_word: $("shared_word").value, kind: kind };
    if (kind === "password") {
      body.username = $("username").value.trim();
      body.password = $("password").value;
    } else if (kind === "token") {
      body.token = $("token").value.trim();
    } else {
      body.apikey = $("apikey").value.trim();
    }
    return body;
  }

  function setBusy(busy) {
    button.disabled = busy;
    button.textContent = busy ? "Logging in…" : "Log in";
    form.setAttribute("aria-busy", busy ? "true" : "false");
  }

  function succeed(body) {
    var user = body && typeof body.user === "string" && body.user ? " as " + body.user : "";
    $("success-text").textContent = "You are logged in to StackStorm" + user + ". You can close this page and go back to chat.";
    form.reset();
    show("success");
  }

  function submit(event) {
    event.preventDefault();
    if (button.disabled) return;
    var payload = JSON.stringify(requestBody());
    // The password leaves the page once, in this request, and is not kept in the form.
    $("password").value = "";
    errorBox.hidden = true;
    setBusy(true);
    fetch("authenticate/" + sessionPath, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: payload,
      credentials: "omit",
      cache: "no-store",
    }).then(function (response) {
      return readJson(response).then(function (body) {
        if (response.ok) return succeed(body);
        if (response.status === 404) return showInvalid(errorOf(response, body));
        showError(errorOf(response, body));
      });
    }, function () {
      showError(UNREACHABLE);
    }).then(function () {
      setBusy(false);
    });
  }

  function checkSession() {
    show("checking");
    fetch("session/" + sessionPath, { credentials: "omit", cache: "no-store" }).then(function (response) {
      if (response.ok) {
        show("form");
        switchKind();
        return;
      }
      return readJson(response).then(function (body) { showInvalid(errorOf(response, body)); });
    }, function () {
      showInvalid(UNREACHABLE);
    });
  }

  form.querySelectorAll('input[name="kind"]').forEach(function (radio) {
    radio.addEventListener("change", switchKind);
  });
  form.addEventListener("submit", submit);
  checkSession();
})();
