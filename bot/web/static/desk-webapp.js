/* The Mini App: Telegram puts the signed launch data in the URL fragment (tgWebAppData);
   post it to the server, which checks its HMAC and opens a desk session. */
(function () {
  "use strict";
  var data = "";
  if (window.Telegram && window.Telegram.WebApp && window.Telegram.WebApp.initData) {
    data = window.Telegram.WebApp.initData;
  } else {
    var hash = new URLSearchParams(window.location.hash.replace(/^#/, ""));
    data = hash.get("tgWebAppData") || "";
  }
  if (!data) return;
  document.getElementById("init-data").value = data;
  document.getElementById("webapp-form").submit();
})();
