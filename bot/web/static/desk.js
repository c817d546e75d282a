/* The desk's live updates: on a server-sent "changed" event, fetch this page again and swap
   its live regions ([data-live] with an id) in place. No reload, no framework, no CDN. */
(function () {
  "use strict";
  if (!window.EventSource || !window.fetch || !window.DOMParser) return;
  var timer = null;
  var busy = false;

  function refresh() {
    if (busy) { schedule(); return; }
    busy = true;
    fetch(window.location.href, { credentials: "same-origin", headers: { "X-Desk-Live": "1" } })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        if (!html) return;
        var doc = new DOMParser().parseFromString(html, "text/html");
        var ticked = {};
        document.querySelectorAll("input[name=case]:checked").forEach(function (box) {
          ticked[box.value] = true;
        });
        document.querySelectorAll("[data-live][id]").forEach(function (el) {
          var fresh = doc.getElementById(el.id);
          if (fresh) el.innerHTML = fresh.innerHTML;
        });
        document.querySelectorAll("input[name=case]").forEach(function (box) {
          if (ticked[box.value]) box.checked = true;
        });
        // forms keep what is typed, but act on the case as it is now
        var versions = doc.querySelectorAll("input[name=version]");
        document.querySelectorAll("input[name=version]").forEach(function (el, i) {
          if (versions[i]) el.value = versions[i].value;
        });
        document.documentElement.setAttribute("data-live-refreshed", String(Date.now()));
      })
      .catch(function () {})
      .then(function () { busy = false; });
  }

  function schedule() {
    if (timer) clearTimeout(timer);
    timer = setTimeout(refresh, 250);
  }

  var source = new EventSource("/desk/events");
  source.addEventListener("changed", schedule);
  source.addEventListener("ready", function () {
    document.documentElement.setAttribute("data-live", "on");
  });
  source.addEventListener("signed_out", function () {
    source.close();
    window.location.reload();
  });
})();

/* Reply templates: picking one fills its text box at once (without a script, the "Fill in"
   button asks the server for the page with the box filled). */
(function () {
  "use strict";
  document.querySelectorAll("select[data-fill]").forEach(function (select) {
    select.addEventListener("change", function () {
      var box = document.getElementById(select.getAttribute("data-fill"));
      var option = select.options[select.selectedIndex];
      var text = option ? option.getAttribute("data-text") : null;
      if (box && text !== null) box.value = text;
    });
  });
})();
