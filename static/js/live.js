/* Live parts of a page: fetched again when the figures change, without a reload.
 *
 * A live part is an element with data-live-url (the address of its partial) and
 * data-live-version (a fingerprint of what it shows). The page asks for the partial
 * with that version; the server answers 204 when nothing changed, or the new element,
 * which replaces the old one (and fires "live:updated" on it for scripts that draw).
 *
 * How the page hears of changes (data-live-mode):
 *  - "socket": the /ws/live/ websocket says "figures" when the engine finished work.
 *    The part is fetched then, and once more a moment later (the engine sends at most
 *    one message a second, so a change inside that second is caught by the second
 *    fetch). While the socket is down the page polls, and it reconnects with backoff.
 *  - "poll": without a shared channel layer (the embedded mode), every
 *    data-live-poll seconds while the page is visible.
 *
 * A live list (data-live-page) fetches its own page again, whole, at most once every
 * data-live-min-gap seconds, and takes the element with its id from it. It swaps only
 * when the fresh data-live-version differs, and never under the reader's hands: while
 * a row is ticked, a field typed into or focused, it only says that the list changed.
 */
(function () {
  "use strict";

  var FOLLOW_UP_MS = 1500;
  var SOCKET_SAFETY_POLL_MS = 60000;
  var MAX_BACKOFF_MS = 30000;

  function Live(element) {
    this.id = element.id;
    this.mode = element.getAttribute("data-live-mode") || "poll";
    this.pollMs = Math.max(250, parseFloat(element.getAttribute("data-live-poll") || "5") * 1000);
    this.socketPath = element.getAttribute("data-live-socket") || "/ws/live/";
    this.status = document.querySelector('[data-live-status="' + this.id + '"]');
    this.inFlight = false;
    this.again = false;
    this.timer = null;
    this.followUp = null;
    this.stopped = false;
    this.backoff = 1000;
    this.connected = false;
    this.wholePage = element.hasAttribute("data-live-page");
    this.minGapMs = parseFloat(element.getAttribute("data-live-min-gap") || "0") * 1000;
    if (this.wholePage) this.pollMs = Math.max(this.pollMs, this.minGapMs);
    this.lastFetch = 0;
    this.deferred = null;
  }

  // Whether the reader holds something in the element that a swap would throw away.
  function held(element) {
    var fields = element.querySelectorAll("input, textarea, select");
    for (var i = 0; i < fields.length; i++) {
      var field = fields[i];
      if (field === document.activeElement) return true;
      if (field.type === "checkbox" || field.type === "radio") {
        if (field.checked !== field.defaultChecked) return true;
      } else if (field.tagName === "SELECT" && field.multiple) {
        for (var j = 0; j < field.options.length; j++) {
          if (field.options[j].selected !== field.options[j].defaultSelected) return true;
        }
      } else if (field.tagName === "SELECT") {
        // A single select with no option marked selected shows its first one.
        var initial = 0;
        for (var k = 0; k < field.options.length; k++) {
          if (field.options[k].defaultSelected) initial = k;
        }
        if (field.selectedIndex !== initial) return true;
      } else if (field.type !== "hidden" && field.value !== field.defaultValue) {
        return true;
      }
    }
    return false;
  }

  Live.prototype.element = function () {
    return document.getElementById(this.id);
  };

  Live.prototype.say = function (text) {
    if (this.status) this.status.textContent = text;
  };

  var CLOCK = new Intl.DateTimeFormat("en-GB", { hour: "2-digit", minute: "2-digit", second: "2-digit" });

  Live.prototype.clock = function () {
    return CLOCK.format(new Date());
  };

  Live.prototype.steady = function () {
    if (this.mode === "socket" && this.connected) return "Live: updates as events arrive";
    if (this.mode === "socket") return "Reconnecting; meanwhile updates every " + this.pollMs / 1000 + " s";
    return "Updates every " + this.pollMs / 1000 + " s";
  };

  Live.prototype.refresh = function () {
    var self = this;
    var current = this.element();
    if (!current || this.stopped) return;
    if (this.inFlight) {
      this.again = true;
      return;
    }
    if (this.wholePage) {
      var wait = this.lastFetch + this.minGapMs - Date.now();
      if (wait > 0) {
        if (!this.deferred) {
          this.deferred = setTimeout(function () {
            self.deferred = null;
            self.refresh();
          }, wait);
        }
        return;
      }
      this.lastFetch = Date.now();
    }
    this.inFlight = true;
    var url = current.getAttribute("data-live-url");
    var version = current.getAttribute("data-live-version") || "";
    var headers = { "HX-Request": "true" };
    if (this.wholePage) {
      headers = {};
    } else {
      url += (url.indexOf("?") < 0 ? "?" : "&") + "v=" + encodeURIComponent(version);
    }
    fetch(url, { headers: headers, credentials: "same-origin", cache: "no-store" })
      .then(function (response) {
        if (response.status === 204) return null;
        if (!response.ok || response.redirected) throw new Error("signed-out-or-failed:" + response.status);
        return response.text();
      })
      .then(function (html) {
        if (html !== null) self.swap(html);
        if (!self.stopped) self.say(self.steady() + " · checked " + self.clock());
      })
      .catch(function (error) {
        if (String(error.message).indexOf("signed-out-or-failed:200") === 0) {
          self.stop("Signed out: reload the page to sign in again.");
        } else {
          self.say("Could not check for changes (" + self.clock() + "); trying again.");
        }
      })
      .finally(function () {
        self.inFlight = false;
        if (self.again) {
          self.again = false;
          self.refresh();
        }
      });
  };

  Live.prototype.swap = function (html) {
    var current = this.element();
    var holder = document.createElement("template");
    holder.innerHTML = html.trim();
    var fresh = holder.content.getElementById(this.id);
    if (!current || !fresh) return;
    if (this.wholePage) {
      if (fresh.getAttribute("data-live-version") === current.getAttribute("data-live-version")) return;
      if (held(current)) {
        this.stop("The list changed: reload the page to see it (your selection is kept until then).");
        return;
      }
    }
    // What the reader holds stays held: the focused link, the opened details.
    var active = document.activeElement && current.contains(document.activeElement) ? document.activeElement : null;
    var activeId = active ? active.id : "";
    var activeHref = active ? active.getAttribute("href") : null;
    var opened = [];
    current.querySelectorAll("details[id][open]").forEach(function (details) {
      opened.push(details.id);
    });
    current.dispatchEvent(new CustomEvent("live:replacing", { bubbles: true }));
    opened.forEach(function (id) {
      var details = fresh.querySelector("#" + CSS.escape(id));
      if (details) details.open = true;
    });
    current.replaceWith(fresh);
    if (window.htmx) window.htmx.process(fresh);
    var again = null;
    if (activeId) again = document.getElementById(activeId);
    else if (activeHref) again = fresh.querySelector('[href="' + CSS.escape(activeHref) + '"]');
    if (again) again.focus({ preventScroll: true });
    fresh.dispatchEvent(new CustomEvent("live:updated", { bubbles: true }));
  };

  Live.prototype.poll = function (everyMs) {
    var self = this;
    clearTimeout(this.timer);
    this.timer = setTimeout(function tick() {
      if (self.stopped) return;
      if (!document.hidden) self.refresh();
      self.timer = setTimeout(tick, everyMs());
    }, everyMs());
  };

  Live.prototype.stop = function (text) {
    this.stopped = true;
    clearTimeout(this.timer);
    clearTimeout(this.followUp);
    if (this.socket) this.socket.close();
    if (this.status) this.status.classList.add("stopped");
    this.say(text);
  };

  Live.prototype.heard = function () {
    var self = this;
    this.refresh();
    clearTimeout(this.followUp);
    this.followUp = setTimeout(function () {
      self.refresh();
    }, FOLLOW_UP_MS);
  };

  Live.prototype.connect = function () {
    var self = this;
    if (!window.WebSocket || this.stopped) return;
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    var socket;
    try {
      socket = new WebSocket(scheme + location.host + this.socketPath);
    } catch (e) {
      return;
    }
    this.socket = socket;
    socket.onopen = function () {
      self.connected = true;
      self.backoff = 1000;
      self.say(self.steady());
      self.refresh(); // whatever changed while we were away
    };
    socket.onmessage = function (event) {
      var message = {};
      try {
        message = JSON.parse(event.data);
      } catch (e) {
        return;
      }
      if (message.kind === "figures") self.heard();
    };
    socket.onclose = function (event) {
      self.connected = false;
      if (self.stopped) return;
      if (event.code === 4401) {
        self.stop("Signed out: reload the page to sign in again.");
        return;
      }
      self.say(self.steady());
      setTimeout(function () {
        self.connect();
      }, self.backoff);
      self.backoff = Math.min(self.backoff * 2, MAX_BACKOFF_MS);
    };
  };

  Live.prototype.start = function () {
    var self = this;
    if (this.mode === "socket") {
      // While the socket is up a slow poll is only a safety net; while it is down, the usual pace.
      this.poll(function () {
        return self.connected ? SOCKET_SAFETY_POLL_MS : self.pollMs;
      });
      this.connect();
    } else {
      this.poll(function () {
        return self.pollMs;
      });
    }
    document.addEventListener("visibilitychange", function () {
      if (!document.hidden) self.refresh();
    });
  };

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-live-url][id]").forEach(function (element) {
      new Live(element).start();
    });
  });
})();
