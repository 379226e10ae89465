// The setup assistant's QR code carries its secret in the URL's fragment, which is
// never sent to a server (nor logged); this posts it in a form's body, once.
(function () {
  "use strict";
  var form = document.getElementById("phone-download");
  var secret = window.location.hash.slice(1);
  if (!form || !secret) return;
  document.getElementById("download-token").value = secret;
  history.replaceState(null, "", window.location.pathname);
  form.submit();
})();
