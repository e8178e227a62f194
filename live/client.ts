/**
 * The browser side of live reload, served at `/__pws/live.js`. It listens
 * to `/__pws/events` (Server-Sent Events): `css` swaps the changed
 * stylesheets in place (the page's state survives), `reload` reloads.
 * Each stream opens with `hello` and the server's instance id: after pws
 * restarts, EventSource reconnects by itself, sees a new id and reloads
 * once, so edits made while pws was down show.
 *
 * @module
 */

/** The script's source. Plain ES2017, no imports. */
export const LIVE_CLIENT_SOURCE = `// pws live reload (pws --live)
(function () {
  "use strict";
  if (window.__pwsLive) return;
  window.__pwsLive = true;
  var instance = null;
  var source = new EventSource("/__pws/events");
  source.addEventListener("hello", function (event) {
    if (instance !== null && instance !== event.data) location.reload();
    instance = event.data;
  });
  source.addEventListener("reload", function () {
    location.reload();
  });
  source.addEventListener("css", function (event) {
    var changed = JSON.parse(event.data);
    var links = [];
    var all = document.querySelectorAll('link[rel~="stylesheet"][href]');
    for (var i = 0; i < all.length; i++) {
      var url = new URL(all[i].href, location.href);
      if (url.origin === location.origin) links.push([all[i], url]);
    }
    var named = links.filter(function (pair) {
      return changed.indexOf(pair[1].pathname) >= 0;
    });
    // A stylesheet the page does not link by name (an @import) may have
    // changed: refresh them all.
    var swap = named.length > 0 ? named : links;
    if (swap.length === 0) return location.reload();
    swap.forEach(function (pair) {
      var old = pair[0];
      var url = pair[1];
      url.searchParams.set("__pws", String(Date.now()));
      var fresh = old.cloneNode();
      fresh.href = url.href;
      // The old sheet stays until the new one applies: no unstyled flash.
      var drop = function () { old.remove(); };
      fresh.addEventListener("load", drop);
      fresh.addEventListener("error", drop);
      old.after(fresh);
    });
  });
})();
`;
