// Passkeys (WebAuthn): a form marked data-passkey="create" or "get" asks its
// data-options URL for the browser's options, lets the browser talk to the
// authenticator, and posts the answer to the form's action as "credential".
// Every page works without this script; it only shows passkey buttons it can serve.
(function () {
  "use strict";

  function toBytes(text) {
    var b64 = text.replace(/-/g, "+").replace(/_/g, "/");
    return Uint8Array.from(atob(b64), function (c) { return c.charCodeAt(0); });
  }

  function toText(buffer) {
    var s = "";
    new Uint8Array(buffer).forEach(function (b) { s += String.fromCharCode(b); });
    return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function withBytes(options) {
    options.challenge = toBytes(options.challenge);
    if (options.user) options.user.id = toBytes(options.user.id);
    ["excludeCredentials", "allowCredentials"].forEach(function (list) {
      (options[list] || []).forEach(function (c) { c.id = toBytes(c.id); });
    });
    return options;
  }

  function answer(credential) {
    var r = credential.response;
    var response = { clientDataJSON: toText(r.clientDataJSON) };
    if (r.attestationObject) response.attestationObject = toText(r.attestationObject);
    if (r.authenticatorData) response.authenticatorData = toText(r.authenticatorData);
    if (r.signature) response.signature = toText(r.signature);
    if (r.userHandle) response.userHandle = toText(r.userHandle);
    return JSON.stringify({
      id: credential.id, rawId: toText(credential.rawId), type: credential.type,
      response: response, clientExtensionResults: {}
    });
  }

  function post(url, form, credential) {
    var data = new FormData(form);
    if (credential) data.set("credential", credential);
    return fetch(url, { method: "POST", body: data, credentials: "same-origin" })
      .then(function (r) { return r.json(); });
  }

  function run(form, status) {
    var kind = form.getAttribute("data-passkey");
    status.textContent = "Waiting for your passkey…";
    return post(form.getAttribute("data-options"), form).then(function (options) {
      if (options.error) throw new Error(options.error);
      var publicKey = withBytes(options);
      return kind === "create"
        ? navigator.credentials.create({ publicKey: publicKey })
        : navigator.credentials.get({ publicKey: publicKey });
    }).then(function (credential) {
      return post(form.action, form, answer(credential));
    }).then(function (result) {
      if (result.error) throw new Error(result.error);
      status.textContent = "Done.";
      window.location.assign(result.next);
    });
  }

  function setup(form) {
    if (!window.PublicKeyCredential) return;
    var status = form.querySelector("[data-passkey-status]");
    form.hidden = false;
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      run(form, status).catch(function (error) {
        status.textContent = error.name === "NotAllowedError"
          ? "The passkey request was cancelled or timed out. Try again."
          : error.message;
        status.classList.add("bad");
      });
    });
  }

  document.querySelectorAll("form[data-passkey]").forEach(setup);
})();
