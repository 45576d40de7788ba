/* Drafts of the record form, kept in this browser (localStorage) per leader and per form.
 *
 * A leader writing a long 联系内容 on a phone may lose the page to an expired
 * single sign-on session or a dropped network at submit. Every keystroke saves
 * the form here; opening the form again brings the draft back (with a button
 * to throw it away). The page after a successful submit names the submitted
 * token, and the drafts made with it are removed; logging out removes all of
 * this leader's drafts. No inline script: the pages' CSP allows only this file.
 */
(function () {
  "use strict";
  var PREFIX = "liaison-draft:";
  var store;
  try {
    store = window.localStorage;
    store.getItem(PREFIX);
  } catch (e) {
    return; // storage disabled (private mode): the form works without drafts
  }
  var body = document.body;
  var owner = body.getAttribute("data-draft-owner");
  if (!owner) return;
  var mine = PREFIX + owner + ":";

  function read(key) {
    try {
      return JSON.parse(store.getItem(key));
    } catch (e) {
      return null;
    }
  }

  function forget(test) {
    for (var i = store.length - 1; i >= 0; i--) {
      var key = store.key(i);
      if (key && key.indexOf(mine) === 0 && test(read(key))) store.removeItem(key);
    }
  }

  var submitted = body.getAttribute("data-draft-submitted");
  if (submitted) forget(function (draft) { return !draft || draft.token === submitted; });
  if (body.hasAttribute("data-draft-forget")) forget(function () { return true; });

  var form = document.querySelector("form[data-draft-key]");
  if (!form) return;
  var key = mine + form.getAttribute("data-draft-key");
  var token = form.querySelector("input[name=token]").value;
  var fields = form.querySelectorAll("input[name]:not([type=hidden]):not([readonly]), textarea[name]");

  function values() {
    var out = {};
    for (var i = 0; i < fields.length; i++) out[fields[i].name] = fields[i].value;
    return out;
  }

  function save(submitting) {
    try {
      store.setItem(key, JSON.stringify({ token: token, saved: Date.now(), submitting: submitting, values: values() }));
    } catch (e) {
      /* storage full: the form still works */
    }
  }

  function put(from) {
    for (var i = 0; i < fields.length; i++) {
      if (Object.prototype.hasOwnProperty.call(from, fields[i].name)) fields[i].value = from[fields[i].name];
    }
  }

  function differs(from) {
    for (var i = 0; i < fields.length; i++) {
      var name = fields[i].name;
      if (Object.prototype.hasOwnProperty.call(from, name) && from[name] !== fields[i].value) return true;
    }
    return false;
  }

  /* 07:10: the wall clock of the university's zone (config.yaml's timezone), as every other time the form and
     the site show; a phone set to another zone would otherwise say 15:10 of the same moment. */
  function clock(at) {
    try {
      return new Intl.DateTimeFormat("en-GB", {
        timeZone: body.getAttribute("data-timezone") || undefined, hour: "2-digit", minute: "2-digit", hourCycle: "h23"
      }).format(at);
    } catch (e) { // an unknown zone name, or no Intl: this device's clock
      return ("0" + at.getHours()).slice(-2) + ":" + ("0" + at.getMinutes()).slice(-2);
    }
  }

  var draft = read(key);
  // A page the server gave back (field errors, an expired token) already holds what was typed.
  if (draft && draft.values && !form.hasAttribute("data-draft-kept") && differs(draft.values)) {
    var server = values();
    put(draft.values);
    save(false);
    var notice = document.getElementById("draft-notice");
    if (notice) {
      var time = clock(new Date(draft.saved));
      notice.textContent = (draft.submitting ? "上次提交没有送达，" : "") +
        "已恢复您在本机保存的草稿（" + time + "），请核对后按「提交」。";
      var discard = document.createElement("button");
      discard.type = "button";
      discard.className = "link";
      discard.textContent = "不用草稿，清空";
      discard.addEventListener("click", function () {
        put(server);
        store.removeItem(key);
        notice.hidden = true;
      });
      notice.appendChild(discard);
      notice.hidden = false;
    }
  }
  form.addEventListener("input", function () { save(false); });
  // A submit that site/form.js stopped (its list of problems is showing) was not sent.
  form.addEventListener("submit", function (event) { save(!event.defaultPrevented); });
})();
