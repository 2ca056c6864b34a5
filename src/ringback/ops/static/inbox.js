/* Ringback inbox (SPEC §10): the restaurant's WhatsApp conversations over
   /api/ops/v1/conversations (the session cookie signs the requests; a POST from this page carries
   the Origin the server checks). Plain JavaScript, no dependencies, works offline. New messages
   arrive by polling the list and the open thread every few seconds, paused while the tab is hidden.
   Every customer's text is attacker-controlled: the DOM is built with textContent only. */
(function () {
  "use strict";

  var body = document.body;
  var TZ = body.dataset.timezone || "UTC";
  var POLL_MS = 2500;
  var PAGE = 50;
  var BASE_TITLE = document.title;

  // ---- helpers ---------------------------------------------------------------------------------
  var api = window.Ringback.api, request = window.Ringback.request, el = window.Ringback.el;
  function $(id) { return document.getElementById(id); }
  function cap(s) { return s ? s.charAt(0).toUpperCase() + s.slice(1) : s; }
  function clip(s, n) { return s.length > n ? s.slice(0, n - 1) + "…" : s; }

  var hourFmt = new Intl.DateTimeFormat(undefined, { timeZone: TZ, hour: "2-digit", minute: "2-digit" });
  var weekdayFmt = new Intl.DateTimeFormat(undefined, { timeZone: TZ, weekday: "short" });
  var shortFmt = new Intl.DateTimeFormat(undefined, { timeZone: TZ, day: "numeric", month: "short" });
  var dayFmt = new Intl.DateTimeFormat(undefined, { timeZone: TZ, weekday: "long", day: "numeric", month: "long", year: "numeric" });
  var fullFmt = new Intl.DateTimeFormat(undefined, { timeZone: TZ, dateStyle: "medium", timeStyle: "short" });
  var keyFmt = new Intl.DateTimeFormat("en-CA", { timeZone: TZ, year: "numeric", month: "2-digit", day: "2-digit" });
  function dayKey(d) { return keyFmt.format(d); }
  function when(iso) { return iso ? fullFmt.format(new Date(iso)) : "–"; }
  // A list item's time: the hour today, the weekday this week, else the date.
  function shortWhen(iso) {
    var d = new Date(iso), now = new Date();
    if (dayKey(d) === dayKey(now)) return hourFmt.format(d);
    if (now - d < 6 * 86400e3) return weekdayFmt.format(d);
    return shortFmt.format(d);
  }
  function dayLabel(d) {
    var now = new Date();
    if (dayKey(d) === dayKey(now)) return "Today";
    if (dayKey(d) === dayKey(new Date(now - 86400e3))) return "Yesterday";
    return dayFmt.format(d);
  }
  function span(ms) {
    var m = Math.max(1, Math.round(Math.abs(ms) / 60000));
    if (m < 60) return m + " min";
    var h = Math.round(m / 60);
    return h < 48 ? h + " h" : Math.round(h / 24) + " days";
  }

  // ---- words for message types -----------------------------------------------------------------
  var TYPE_LABELS = {
    image: "Photo", video: "Video", audio: "Audio", document: "Document", sticker: "Sticker",
    location: "Location", contacts: "Contact card", reaction: "Reaction", button: "Button",
    interactive: "Choice", template: "Missed-call message", other: "Unsupported message"
  };
  function typeLabel(type, details) {
    if (type === "audio" && details && details.voice) return "Voice message";
    return TYPE_LABELS[type] || cap(type);
  }
  // One line for a message in the list or in a "reply to" marker.
  function preview(type, text) {
    if (type === "text") return text || "";
    if (type === "reaction") return text ? "Reacted " + text : "Removed a reaction";
    if (type === "template") return "Missed-call message";
    return typeLabel(type) + (text ? ": " + text : "");
  }
  function personName(c) {
    return (c.customer && c.customer.name) || c.profile_name || (c.customer && c.customer.phone_number) || "Unknown";
  }
  function initials(name) {
    var letters = name.replace(/[^\p{L}\s]/gu, "").trim().split(/\s+/).filter(Boolean);
    if (!letters.length) return "#";
    return (letters[0][0] + (letters.length > 1 ? letters[letters.length - 1][0] : "")).toUpperCase();
  }
  var STATUS_WORDS = { queued: "Queued", sending: "Sending", sent: "Sent", delivered: "Delivered", read: "Read", failed: "Failed", cancelled: "Cancelled" };

  // ---- unread count in the nav and the tab title ----------------------------------------------------
  var navBadge = $("nav-unread");
  function refreshUnreadCount() {
    return request(api("/conversations", { unread: "true", limit: "100" })).then(function (j) {
      var n = j.data.length;
      navBadge.hidden = n === 0;
      navBadge.textContent = n >= 100 ? "99+" : String(n);
      document.title = (n ? "(" + navBadge.textContent + ") " : "") + BASE_TITLE;
    }).catch(function () { /* the count is a hint; the list says what failed */ });
  }

  // ---- the conversation list ---------------------------------------------------------------------
  var list = $("conversations");
  var moreButton = $("conversations-more");
  var onlyUnread = $("only-unread");
  var phoneInput = $("inbox-phone");
  var known = {};          // id -> conversation item, every one loaded
  var nodes = {};          // id -> its <li>, with the data it shows in .dataset.sig
  var cursor = null;       // the next page after the oldest one loaded (null: none)
  var generation = 0;      // bumped when the filters change: late replies are dropped
  var openId = null;

  function filters() {
    var p = {};
    if (onlyUnread.checked) p.unread = "true";
    var phone = phoneInput.value.trim();
    if (phone) p.phone = phone;
    return p;
  }
  function newer(a, b) {  // newest activity first, as the API orders them (updated_at, then id)
    if (a.updated_at !== b.updated_at) return a.updated_at < b.updated_at ? 1 : -1;
    return Number(b.id) - Number(a.id);
  }
  function loadList(reset) {
    var mine = reset ? ++generation : generation;
    var params = filters();
    params.limit = String(PAGE);
    if (!reset && cursor) params.cursor = cursor;
    return request(api("/conversations", params)).then(function (j) {
      if (mine !== generation) return;
      if (reset) { known = {}; }
      j.data.forEach(function (c) { known[c.id] = c; });
      cursor = j.next_cursor;
      $("conversations-error").hidden = true;
      renderList();
    }).catch(function (e) { if (mine === generation) showListError(e); });
  }
  // The first page again: changed and new conversations move to the top; the older pages loaded
  // stay (a conversation with new activity is always on the first page, so none is missed). When
  // the first page shares nothing with what is shown and has more after it, there is a gap:
  // start over from it.
  function refreshList() {
    var mine = generation;
    var params = filters();
    params.limit = String(PAGE);
    return request(api("/conversations", params)).then(function (j) {
      if (mine !== generation) return;
      var overlap = j.data.some(function (c) { return known[c.id]; });
      if (!overlap && j.next_cursor && Object.keys(known).length) { known = {}; cursor = j.next_cursor; }
      if (!Object.keys(known).length) cursor = j.next_cursor;
      j.data.forEach(function (c) { known[c.id] = c; });
      $("conversations-error").hidden = true;
      renderList();
    }).catch(function (e) { if (mine === generation) showListError(e); });
  }
  function showListError(e) {
    var err = $("conversations-error");
    err.textContent = "The conversations could not be loaded: " + e.message;
    err.hidden = false;
  }
  // With "Unread only", a conversation read since it was loaded leaves the list, but for the
  // one open (it does not vanish while it is being read): it goes when another one is opened.
  function shown(c) {
    return !onlyUnread.checked || c.unread > 0 || c.id === openId;
  }
  function renderList() {
    var items = Object.keys(known).map(function (id) { return known[id]; }).filter(shown).sort(newer);
    var wanted = {};
    items.forEach(function (c, index) {
      wanted[c.id] = true;
      var sig = JSON.stringify([c, c.id === openId, shortWhen(c.updated_at)]);
      var li = nodes[c.id];
      if (!li || li.dataset.sig !== sig) {
        var fresh = conversationItem(c);
        fresh.dataset.sig = sig;
        if (li) list.replaceChild(fresh, li);
        nodes[c.id] = li = fresh;
      }
      if (list.children[index] !== li) list.insertBefore(li, list.children[index] || null);
    });
    Object.keys(nodes).forEach(function (id) {
      if (!wanted[id]) { nodes[id].remove(); delete nodes[id]; }
    });
    moreButton.hidden = !cursor;
    $("conversations-empty").hidden = items.length > 0;
    body.dataset.conversationsLoaded = String(items.length);
  }
  function conversationItem(c) {
    var name = personName(c);
    var last = c.last_message;
    var line = last ? (last.direction === "outbound" ? "You: " : "") + preview(last.type, last.text) : "No message yet";
    var tags = [];
    if (c.customer.opted_out) tags.push(el("span", { "class": "tag tag-red", text: "Opted out" }));
    else if (c.window_open_until && new Date(c.window_open_until) > new Date()) tags.push(el("span", { "class": "window-dot", title: "Reply window open until " + when(c.window_open_until) }));
    var button = el("button", { type: "button", "class": "conv", "aria-label": name + (c.unread ? ", " + c.unread + " unread" : "") }, [
      el("span", { "class": "avatar", "aria-hidden": "true", text: initials(name) }),
      el("span", { "class": "conv-main" }, [
        el("span", { "class": "conv-top" }, [
          el("span", { "class": "conv-name", text: name }),
          el("time", { "class": "conv-time", datetime: c.updated_at, title: when(c.updated_at), text: shortWhen(c.updated_at) })
        ]),
        name !== c.customer.phone_number ? el("span", { "class": "conv-phone", text: c.customer.phone_number }) : null,
        el("span", { "class": "conv-bottom" }, [
          el("span", { "class": "conv-last" + (last && last.type !== "text" ? " typed" : ""), text: clip(line, 140) }),
          el("span", { "class": "conv-tags" }, tags),
          c.unread ? el("span", { "class": "unread-badge", "aria-hidden": "true", text: c.unread > 99 ? "99+" : String(c.unread) }) : null
        ])
      ])
    ]);
    button.addEventListener("click", function () { openConversation(c.id); });
    var li = el("li", { "data-conversation-id": c.id, "class": (c.unread ? "unread" : "") + (c.id === openId ? " active" : "") }, [button]);
    if (c.id === openId) button.setAttribute("aria-current", "true");
    return li;
  }
  moreButton.addEventListener("click", function () { loadList(false); });
  onlyUnread.addEventListener("change", function () { loadList(true); });
  var debounce;
  phoneInput.addEventListener("input", function () { clearTimeout(debounce); debounce = setTimeout(function () { loadList(true); }, 300); });
  $("inbox-filter").addEventListener("submit", function (e) { e.preventDefault(); loadList(true); });

  // ---- one conversation ----------------------------------------------------------------------------
  var thread = null;       // the open conversation's detail, as last shown
  var threadSig = "";
  var messagesHost = $("messages");
  var scroller = $("thread-scroll");
  var replyForm = $("reply-form");
  var replyText = $("reply-text");
  var replySend = $("reply-send");
  var sending = false;

  function openConversation(id) {
    if (openId !== id) {
      openId = id;
      thread = null; threadSig = "";
      messagesHost.textContent = "";
      $("reply-error").hidden = true;
      replyText.value = "";
      $("thread-placeholder").hidden = true;
      document.querySelector("main.inbox").classList.add("has-thread");
      $("thread-view").hidden = false;
      $("thread-title").textContent = known[id] ? personName(known[id]) : "Conversation";
      history.replaceState(null, "", "#conversation-" + id);
      renderList();
    }
    return loadThread(true);
  }
  function loadThread(scrollDown) {
    var id = openId;
    if (id == null) return Promise.resolve();
    return request(api("/conversations/" + encodeURIComponent(id))).then(function (j) {
      if (id !== openId) return;
      $("thread-error").hidden = true;
      renderThread(j.data, scrollDown);
      if (j.data.unread > 0 && !document.hidden) markRead(id);
    }).catch(function (e) {
      if (id !== openId) return;
      var err = $("thread-error");
      err.textContent = e.status === 404 ? "This conversation does not exist (any more)." : "The conversation could not be loaded: " + e.message;
      err.hidden = false;
    });
  }
  // Opening a thread (or seeing a new message in it) reads it: its badge clears at once.
  function markRead(id) {
    return request(api("/conversations/" + encodeURIComponent(id) + "/read"), { method: "POST" }).then(function () {
      if (known[id]) { known[id] = Object.assign({}, known[id], { unread: 0 }); renderList(); }
      body.dataset.lastRead = id;
      refreshUnreadCount();
    }).catch(function () { /* the next poll tries again */ });
  }
  function renderThread(t, scrollDown) {
    thread = t;
    if (known[t.id]) {
      // the list item follows what the thread says (a poll of the list may be a moment behind)
      known[t.id] = Object.assign({}, known[t.id], {
        customer: t.customer, profile_name: t.profile_name, last_message: t.last_message,
        window_open_until: t.window_open_until, updated_at: t.updated_at, unread: known[t.id].unread
      });
    }
    applyReplyState();
    var sig = JSON.stringify([t.messages, t.calls, t.customer, t.profile_name, dayKey(new Date())]);
    if (sig === threadSig) return;
    threadSig = sig;
    var atBottom = scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 60;
    renderHead(t);
    renderMessages(t.messages);
    renderSide(t);
    if (scrollDown || atBottom) scroller.scrollTop = scroller.scrollHeight;
    body.dataset.threadLoaded = t.id;
  }
  function renderHead(t) {
    var name = personName(t);
    $("thread-title").textContent = name;
    $("thread-avatar").textContent = initials(name);
    var sub = [t.customer.phone_number];
    if (t.profile_name && t.profile_name !== name) sub.push("WhatsApp: " + t.profile_name);
    $("thread-sub").textContent = sub.join(" · ");
    var tags = $("thread-tags");
    tags.textContent = "";
    if (t.customer.opted_out) tags.appendChild(el("span", { "class": "tag tag-red", text: "Opted out" }));
    if (t.customer.bad_actor) tags.appendChild(el("span", { "class": "tag tag-red", text: "Bad actor" }));
  }
  function renderMessages(messages) {
    messagesHost.textContent = "";
    var lastDay = null;
    messages.forEach(function (m) {
      var d = new Date(m.at), key = dayKey(d);
      if (key !== lastDay) {
        messagesHost.appendChild(el("li", { "class": "day" }, [el("span", { text: dayLabel(d) })]));
        lastDay = key;
      }
      messagesHost.appendChild(messageItem(m));
    });
    if (!messages.length) messagesHost.appendChild(el("li", { "class": "day" }, [el("span", { text: "No message yet" })]));
  }
  function messageItem(m) {
    var ours = m.direction === "outbound";
    var parts = [];
    if (m.author === "template") {
      parts.push(el("div", { "class": "m-kind", text: "Missed-call message" + (m.template && m.template.name ? " · " + m.template.name : "") }));
      if (m.template && m.template.parameters.length) parts.push(el("div", { "class": "m-params", text: m.template.parameters.join(" · ") }));
    } else if (m.author === "staff") {
      parts.push(el("div", { "class": "m-kind", text: "Staff reply" }));
    }
    if (m.context) parts.push(replyMarker(m));
    if (m.type !== "text" && m.type !== "template" && m.type !== "reaction") {
      parts.push(el("div", { "class": "m-type" }, [
        el("span", { "class": "m-type-label", text: typeLabel(m.type, m.details) }),
        m.media && m.media.mime_type ? el("span", { "class": "m-mime", text: m.media.mime_type }) : null,
        m.details && m.details.filename ? el("span", { "class": "m-file", text: m.details.filename }) : null
      ]));
    }
    var extra = detailLines(m);
    if (m.type === "reaction") {
      parts.push(el("div", { "class": "m-text", text: m.text ? "Reacted " + m.text : "Removed a reaction" }));
    } else if (m.text) {
      parts.push(el("div", { "class": "m-text", text: m.text }));
    }
    extra.forEach(function (line) { parts.push(el("div", { "class": "m-detail", text: line })); });
    var meta = [el("time", { datetime: m.at, title: when(m.at), text: hourFmt.format(new Date(m.at)) })];
    if (ours && m.message) {
      var st = m.message.status;
      meta.push(el("span", { "class": "m-status pill s-" + st, text: STATUS_WORDS[st] || st }));
    }
    parts.push(el("div", { "class": "m-meta" }, meta));
    if (ours && m.message && m.message.status === "failed" && m.message.last_error) {
      parts.push(el("div", { "class": "m-error", text: m.message.last_error }));
    }
    var li = el("li", {
      "class": "msg " + (ours ? "out" : "in") + " author-" + m.author + " type-" + m.type,
      "data-author": m.author, "data-type": m.type
    }, [el("div", { "class": "bubble" }, parts)]);
    if (m.id) li.setAttribute("data-message-id", m.id);
    if (m.message) li.setAttribute("data-status", m.message.status);
    return li;
  }
  function replyMarker(m) {
    var q = m.context.quoted;
    var what;
    if (!q) what = "an earlier message";
    else if (q.author === "template") what = "your missed-call message";
    else if (q.author === "staff") what = "your reply" + (q.text ? " “" + clip(q.text, 80) + "”" : "");
    else what = "their message" + (q.text || q.type !== "text" ? " “" + clip(preview(q.type, q.text), 80) + "”" : "");
    return el("div", { "class": "m-reply-to", text: (m.type === "reaction" ? "On " : "↩ Reply to ") + what });
  }
  // What a message's details say beside its text: a place, shared contacts, an unsupported type.
  function detailLines(m) {
    var d = m.details || {}, lines = [];
    if (m.type === "location") {
      var place = [d.name, d.address].filter(Boolean).join(", ");
      if (place) lines.push(place);
      if (d.latitude != null && d.longitude != null) lines.push(d.latitude + ", " + d.longitude);
    } else if (m.type === "contacts" && Array.isArray(d.contacts)) {
      d.contacts.forEach(function (c) {
        var n = c && c.name && (c.name.formatted_name || c.name.first_name);
        var phones = (c && Array.isArray(c.phones) ? c.phones : []).map(function (p) { return p && p.phone; }).filter(Boolean);
        lines.push([n || "A contact"].concat(phones).join(" · "));
      });
    } else if (m.type === "other" && d.provider_type) {
      lines.push("WhatsApp type " + d.provider_type + " (not shown here)");
    }
    if (d.forwarded || d.frequently_forwarded) lines.push(d.frequently_forwarded ? "Forwarded many times" : "Forwarded");
    return lines.map(function (s) { return String(s); });
  }
  function renderSide(t) {
    $("thread-side").hidden = false;
    var dl = $("customer-facts");
    dl.textContent = "";
    function fact(k, v) { if (v == null || v === "") return; dl.appendChild(el("dt", { text: k })); dl.appendChild(el("dd", { text: v })); }
    fact("Number", t.customer.phone_number);
    fact("Name", t.customer.name);
    fact("WhatsApp name", t.profile_name);
    fact("Messages", t.customer.opted_out ? "Opted out (STOP)" : t.customer.bad_actor ? "Suppressed (bad actor)" : "Allowed");
    fact("Window", t.window_open_until ? "Open until " + when(t.window_open_until) : "Closed");
    var ol = $("thread-calls");
    ol.textContent = "";
    var calls = t.calls.slice().reverse();  // newest first
    calls.forEach(function (c) {
      var facts = [cap(c.disposition) + " " + c.direction + " call"];
      if (c.outcome) facts.push(c.outcome === "SENT" ? "texted" : c.outcome.replace("SKIPPED_", "skipped: ").replace(/_/g, " ").toLowerCase());
      if (c.recovered_at) facts.push("recovered");
      if (c.replied_at) facts.push("replied");
      ol.appendChild(el("li", { "data-call-id": c.id }, [
        el("time", { datetime: c.occurred_at, text: when(c.occurred_at) }),
        el("span", { "class": "muted small", text: facts.join(" · ") }),
        c.message ? el("span", { "class": "pill s-" + c.message.status, text: STATUS_WORDS[c.message.status] || c.message.status }) : null
      ]));
    });
    $("thread-calls-empty").hidden = calls.length > 0;
  }

  // ---- the reply box ---------------------------------------------------------------------------------
  // Why a reply cannot go now, in words; null when it can. The server's verdict first; the window
  // is also checked against this browser's clock, as it may close between two polls.
  function blockedReason(t) {
    var code = t.reply && !t.reply.allowed ? t.reply.code : null;
    var until = t.window_open_until ? new Date(t.window_open_until) : null;
    if (!code && (!until || until <= new Date())) code = "WINDOW_CLOSED";
    if (!code) return null;
    if (code === "OPTED_OUT") return "This customer opted out of WhatsApp messages (STOP): nothing can be sent until they write START.";
    if (code === "WINDOW_CLOSED") {
      var lastIn = null;
      t.messages.forEach(function (m) { if (m.direction === "inbound") lastIn = m.at; });
      var closed = lastIn ? new Date(new Date(lastIn).getTime() + 86400e3) : until;
      return "The 24-hour window closed" + (closed ? " " + span(new Date() - closed) + " ago (" + when(closed.toISOString()) + ")" : "") +
        "; WhatsApp only allows templates now. The customer must write again before you can reply.";
    }
    return (t.reply && t.reply.message) || "A reply cannot be sent now (" + code + ").";
  }
  function applyReplyState() {
    if (!thread) return;
    var reason = blockedReason(thread);
    var blocked = $("reply-blocked");
    blocked.hidden = !reason;
    blocked.textContent = reason || "";
    replyForm.classList.toggle("disabled", !!reason);
    replyText.disabled = !!reason;
    replySend.disabled = !!reason || sending;
    var hint = $("reply-hint");
    if (reason) hint.textContent = "";
    else hint.textContent = "Window open until " + when(thread.window_open_until) + " (" + span(new Date(thread.window_open_until) - new Date()) + " left) · Ctrl+Enter sends";
  }
  function friendlyRefusal(e) {
    if (e.code === "WINDOW_CLOSED") return "Not sent: the 24-hour window is closed; WhatsApp only allows templates now. " + e.message;
    if (e.status === 409) return "Not sent: " + e.message;
    if (e.status === 422) return "Not sent: the text must be 1 to 4096 characters and not blank.";
    return "Not sent: " + e.message;
  }
  replyForm.addEventListener("submit", function (e) {
    e.preventDefault();
    var text = replyText.value;
    var id = openId;
    if (sending || id == null || !text.trim() || replyText.disabled) return;
    sending = true;
    replySend.disabled = true;
    replySend.textContent = "Sending…";
    var err = $("reply-error");
    err.hidden = true;
    request(api("/conversations/" + encodeURIComponent(id) + "/messages"), {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ text: text })
    }).then(function (j) {
      if (id !== openId) return;
      if (replyText.value === text) replyText.value = "";
      // shown at once with its first status; the next poll brings the thread as stored
      if (thread) {
        var copy = Object.assign({}, thread, { messages: thread.messages.concat([j.data]) });
        renderThread(copy, true);
      }
      if (j.data.message && j.data.message.status === "failed") {
        err.textContent = "WhatsApp refused the message: " + (j.data.message.last_error || "no reason given");
        err.hidden = false;
      }
    }).catch(function (e2) {
      if (id !== openId) return;
      err.textContent = friendlyRefusal(e2);
      err.hidden = false;
    }).then(function () {
      sending = false;
      replySend.textContent = "Send";
      applyReplyState();
      loadThread(true);
      refreshList();
    });
  });
  replyText.addEventListener("keydown", function (e) {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) { e.preventDefault(); replyForm.requestSubmit(); }
  });

  // ---- polling ---------------------------------------------------------------------------------------
  var ticks = 0, busy = false;
  function poll() {
    if (document.hidden || busy) return;
    busy = true;
    body.dataset.poll = "busy";
    ticks += 1;
    var work = [refreshList(), loadThread(false)];
    if (ticks % 4 === 0) work.push(refreshUnreadCount());
    function done() { busy = false; body.dataset.poll = "idle"; }
    Promise.all(work).then(done, done);
  }
  setInterval(poll, POLL_MS);
  document.addEventListener("visibilitychange", function () { if (!document.hidden) poll(); });

  var wanted = /^#conversation-(\d+)$/.exec(window.location.hash);
  loadList(true).then(function () { if (wanted) openConversation(wanted[1]); });
  refreshUnreadCount();
})();
