// Comforts only: every page works without this script.
(function () {
  "use strict";

  function setupCopy(button) {
    var target = document.getElementById(button.getAttribute("data-copy"));
    if (!target || !navigator.clipboard) return;
    button.hidden = false;
    button.addEventListener("click", function () {
      navigator.clipboard.writeText(target.value).then(function () {
        var label = button.textContent;
        button.textContent = "Copied";
        setTimeout(function () { button.textContent = label; }, 1800);
      }, function () { target.select(); });
    });
  }

  function setupLength(input) {
    var min = parseInt(input.getAttribute("data-min-length"), 10);
    var help = document.querySelector('[data-length-for="' + input.id + '"]');
    if (!help) return;
    function update() {
      var n = input.value.length;
      var ok = n >= min;
      // Length is all this script knows: strength is checked by the server on saving,
      // so a long enough password is not shown as good here.
      help.textContent = ok
        ? n + " characters. An unchanged suggestion is the strongest; a password you type is checked when you save it (common or guessable ones are refused)."
        : n + " characters: at least " + min + " are needed (" + (min - n) + " more).";
      help.classList.toggle("bad", !ok);
      help.classList.remove("good");
      input.setAttribute("aria-invalid", ok ? "false" : "true");
    }
    input.addEventListener("input", update);
    update();
  }

  function setupMenu(menu) {
    var summary = menu.querySelector("summary");
    var items = function () { return Array.prototype.slice.call(menu.querySelectorAll(".menu-list a")); };
    menu.addEventListener("toggle", function () {
      if (menu.open) {
        document.querySelectorAll("details.menu[open]").forEach(function (other) {
          if (other !== menu) other.open = false;
        });
        var first = items()[0];
        if (first) first.focus();
      }
    });
    menu.addEventListener("keydown", function (event) {
      var list = items();
      var index = list.indexOf(document.activeElement);
      if (event.key === "Escape") { menu.open = false; summary.focus(); event.preventDefault(); }
      else if (event.key === "ArrowDown" && list.length) { list[(index + 1) % list.length].focus(); event.preventDefault(); }
      else if (event.key === "ArrowUp" && list.length) { list[(index - 1 + list.length) % list.length].focus(); event.preventDefault(); }
    });
  }

  document.addEventListener("click", function (event) {
    document.querySelectorAll("details.menu[open]").forEach(function (menu) {
      if (!menu.contains(event.target)) menu.open = false;
    });
  });

  // "Send a setup assistant" needs a user: hidden while "Without user" is chosen.
  function setupUserChoice(block) {
    var form = block.closest("form");
    function update() {
      var chosen = form.querySelector('input[name="user"]:checked');
      block.hidden = !chosen || chosen.value === "";
    }
    form.querySelectorAll('input[name="user"]').forEach(function (radio) {
      radio.addEventListener("change", update);
    });
    update();
  }

  document.querySelectorAll("[data-copy]").forEach(setupCopy);
  document.querySelectorAll("[data-for-users]").forEach(setupUserChoice);
  document.querySelectorAll("[data-min-length]").forEach(setupLength);
  document.querySelectorAll("details.menu").forEach(setupMenu);
})();
