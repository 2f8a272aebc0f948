// The chat page: starts rasa-webchat, passes country and locale to Rasa as customData,
// makes the widget usable by keyboard and screen reader, and offers a quick exit.
(function () {
  "use strict";

  var config = JSON.parse(document.getElementById("page-config").textContent);
  var COUNTRY_KEY = "trust.country";
  var ESCAPE_WINDOW_MS = 1500;

  function storedCountry() {
    try { return sessionStorage.getItem(COUNTRY_KEY) || ""; } catch (e) { return ""; }
  }

  // Sent with every message. The widget keeps this very object, so changing its fields
  // changes what the next message carries.
  var customData = { locale: navigator.language || "", language: (navigator.language || "").split("-")[0] };
  function applyCountry(code) {
    if (code) { customData.country = code; } else { delete customData.country; }
  }
  applyCountry(storedCountry());

  var select = document.getElementById("country");
  config.countries.forEach(function (country) {
    var option = document.createElement("option");
    option.value = country.code;
    option.textContent = country.name;
    select.appendChild(option);
  });
  select.value = storedCountry();
  select.addEventListener("change", function () {
    try { sessionStorage.setItem(COUNTRY_KEY, select.value); } catch (e) { /* private mode */ }
    applyCountry(select.value);
  });

  // Quick exit: forget everything this page stored, then replace it (no Back to return to).
  function quickExit() {
    try {
      Storage.prototype.setItem = function () {};  // the widget must not write it back
      sessionStorage.clear();
      localStorage.clear();
    } catch (e) { /* storage unavailable: nothing stored */ }
    document.title = "";
    document.body.innerHTML = "";
    window.location.replace(config.exitUrl);
  }
  document.getElementById("quick-exit").addEventListener("click", quickExit);
  var lastEscape = 0;
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") { return; }
    var now = Date.now();
    if (now - lastEscape < ESCAPE_WINDOW_MS) { quickExit(); }
    lastEscape = now;
  }, true);

  // Labels and keyboard access the widget does not give itself.
  function improveAccessibility(root) {
    root.querySelectorAll("textarea.rw-new-message:not([aria-label])").forEach(function (box) {
      box.setAttribute("aria-label", "Type your message");
    });
    root.querySelectorAll("button.rw-send:not([aria-label])").forEach(function (button) {
      button.setAttribute("aria-label", "Send");
    });
    root.querySelectorAll(".rw-messages-container:not([role])").forEach(function (log) {
      log.setAttribute("role", "log");
      log.setAttribute("aria-live", "polite");
      log.setAttribute("aria-label", "Conversation");
    });
    root.querySelectorAll("div.rw-reply:not([tabindex])").forEach(function (reply) {
      reply.setAttribute("role", "button");
      reply.setAttribute("tabindex", "0");
    });
  }
  document.addEventListener("keydown", function (event) {
    var target = event.target;
    if ((event.key === "Enter" || event.key === " ") && target.classList && target.classList.contains("rw-reply")) {
      event.preventDefault();
      target.click();
    }
  });

  var chat = document.getElementById("chat");
  new MutationObserver(function () { improveAccessibility(chat); }).observe(chat, { childList: true, subtree: true });

  var socketUrl = config.rasaUrl || (location.protocol + "//" + location.hostname + ":" + config.rasaPort);
  window.WebChat.default({
    embedded: true,
    initPayload: "/greet",
    socketUrl: socketUrl,
    socketPath: "/socket.io/",
    customData: customData,
    title: "Talking about trust",
    subtitle: "An automated assistant",
    inputTextFieldHint: "Type a message, or tap an option",
    connectingText: "Connecting...",
    showCloseButton: false,
    showFullScreenButton: false,
    hideWhenNotConnected: false,
    withRules: false,
    params: { storage: "session" },
    customMessageDelay: function () { return 150; }
  }, chat);
})();
