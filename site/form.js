/* The record form's own checks, in the page, before anything is sent.
 *
 * The form has novalidate: a browser's bubbles ("Please fill out this field.", one at a time, in the
 * browser's language) never come first. Instead, on 提交 this script checks what the server would
 * check for each field (the rules and the server's own words come in each field's data-check, made
 * by liaison/web/formfields.py's client_check) and, if anything is wrong, shows the list of every
 * problem at the top, each linked to its field, with the same markup the server gives: the error
 * beside its field, aria-invalid, aria-describedby naming the error. The focus goes to the list.
 * The server checks again whatever this script says; without the script the server's list is shown.
 *
 * A date typed as 2025/9/5, 2025.9.5 (2025。9。5) or 2025年9月5日 is written 2025-09-05 as soon as the box is
 * left (liaison/core/dates.py's typed_date, the same pattern). Where the browser offers a calendar
 * (showPicker), a 选日期 button opens one and writes the chosen day into the box.
 */
(function () {
  "use strict";
  var TYPED_DATE = /^(\d{4})\s*[-/.。年]\s*(\d{1,2})\s*[-/.。月]\s*(\d{1,2})\s*日?$/;

  function halfWidth(text) {
    return text.replace(/[\uff10-\uff19\uff0d\uff0f\uff0e]/g, function (ch) {
      return String.fromCharCode(ch.charCodeAt(0) - 0xfee0);
    }).replace(/\u3000/g, " ");
  }

  function typedDate(text) {
    var plain = halfWidth(text).trim();
    var match = TYPED_DATE.exec(plain);
    if (!match) return text.trim();
    return match[1] + "-" + ("0" + +match[2]).slice(-2) + "-" + ("0" + +match[3]).slice(-2);
  }

  var OPENED = Date.now();

  /* Whether the page has been open past midnight where the university is (the server said how many
     seconds were left of that day): then "not after today" is the server's to say, with the new day. */
  function pastMidnight(secondsLeft) {
    return typeof secondsLeft === "number" && (Date.now() - OPENED) / 1000 >= secondsLeft;
  }

  function fill(template, values) {
    return template.replace(/\{(\w+)\}/g, function (all, name) {
      return Object.prototype.hasOwnProperty.call(values, name) ? String(values[name]) : all;
    });
  }

  function clean(field, value) {
    if (field.tagName === "TEXTAREA") return value.replace(/\r\n?/g, "\n").trim();
    return value.split(/\s+/).filter(Boolean).join(" ");
  }

  /* Why 2027-02-30 is no date, as formfields.py's _impossible says it. */
  function impossible(value, check) {
    var parts = /^(\d{4})-(\d{1,2})-(\d{1,2})$/.exec(value);
    if (!parts) return null;
    var year = +parts[1], month = +parts[2], day = +parts[3];
    if (month < 1 || month > 12) return fill(check.reasons.month, { month: month });
    var leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
    var days = year >= 1 ? [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1] : 31;
    if (day > days || day < 1) return fill(check.reasons.days, { year: year, month: month, days: days });
    if (year < 1) return fill(check.reasons.day, { month: month, day: day });
    return null;
  }

  /* The first problem of one field, in the server's words, or "". */
  function problem(check, value) {
    if (value === "") return check.required || "";
    var length = Array.from(value).length; // characters, as Python counts them (not UTF-16 units)
    if (check.maxlength && length > check.maxlength[0]) return fill(check.maxlength[1], { length: length });
    if (check.integer) {
      var digits = halfWidth(value);
      if (!/^[0-9]+$/.test(digits)) return fill(check.integer, { value: value });
      var number = parseInt(digits, 10);
      if (check.min && number < check.min[0]) return fill(check.min[1], { value: number });
      if (check.max && number > check.max[0]) return fill(check.max[1], { value: number });
    }
    if (check.date) {
      if (!/^\d{4}-\d{1,2}-\d{1,2}$/.test(value)) return fill(check.date, { value: value });
      var reason = impossible(value, check);
      if (reason) return fill(check.impossible, { value: value, reason: reason });
      var iso = value.replace(/-(\d)(?=-|$)/g, "-0$1");
      if (check.min && iso < check.min[0]) return fill(check.min[1], { value: iso });
      if (check.max && iso > check.max[0] && !pastMidnight(check.max[2])) return fill(check.max[1], { value: iso });
    }
    return "";
  }

  function setError(box, input, message) {
    var key = input.name, old = box.querySelector("p.error");
    if (old) old.parentNode.removeChild(old);
    box.classList.toggle("has-error", !!message);
    var described = (input.getAttribute("aria-describedby") || "").split(/\s+/).filter(function (id) {
      return id && id !== "e-" + key;
    });
    if (message) {
      var p = document.createElement("p");
      p.className = "error";
      p.id = "e-" + key;
      p.textContent = message;
      box.insertBefore(p, box.querySelector("p.hint"));
      described.unshift(p.id);
      input.setAttribute("aria-invalid", "true");
    } else {
      input.removeAttribute("aria-invalid");
    }
    input.setAttribute("aria-describedby", described.join(" "));
  }

  function showSummary(wrong) {
    var old = document.getElementById("error-summary");
    if (old) old.parentNode.removeChild(old);
    if (!wrong.length) return null;
    var box = document.createElement("div");
    box.className = "error-summary";
    box.id = "error-summary";
    box.setAttribute("role", "alert");
    box.setAttribute("tabindex", "-1");
    box.setAttribute("aria-labelledby", "error-summary-title");
    var h = document.createElement("h2");
    h.id = "error-summary-title";
    h.textContent = "有 " + wrong.length + " 处需要修改，已填写的内容都保留着";
    box.appendChild(h);
    var list = document.createElement("ul");
    wrong.forEach(function (item) {
      var li = document.createElement("li"), a = document.createElement("a");
      a.href = "#f-" + item.key;
      a.setAttribute("data-field", item.key);
      a.textContent = item.label + "：" + item.message;
      li.appendChild(a);
      list.appendChild(li);
    });
    box.appendChild(list);
    var draftNotice = document.getElementById("draft-notice");
    draftNotice.parentNode.insertBefore(box, draftNotice);
    wireSummary(box);
    return box;
  }

  /* A link in the list puts the cursor in its field (a plain #anchor would only scroll). */
  function wireSummary(box) {
    if (!box) return;
    box.addEventListener("click", function (event) {
      var link = event.target.closest ? event.target.closest("a[data-field]") : null;
      if (!link) return;
      var input = document.getElementById("f-" + link.getAttribute("data-field"));
      if (!input) return;
      event.preventDefault();
      input.focus();
      input.scrollIntoView({ block: "center" });
    });
  }

  function check(form) {
    var wrong = [];
    form.querySelectorAll(".form-field[data-check]").forEach(function (box) {
      var input = box.querySelector("input[name], textarea[name]");
      if (!input || input.readOnly) return;
      var rules = JSON.parse(box.getAttribute("data-check"));
      if (rules.kind === "date") input.value = typedDate(input.value);
      var message = problem(rules, clean(input, input.value));
      setError(box, input, message);
      if (message) wrong.push({ key: input.name, label: rules.label, message: message });
    });
    return wrong;
  }

  function datePicker(input) {
    if (typeof input.showPicker !== "function") return;
    var picker = document.createElement("input");
    picker.type = "date";
    picker.className = "date-picker";
    picker.tabIndex = -1;
    picker.setAttribute("aria-hidden", "true");
    var button = document.createElement("button");
    button.type = "button";
    button.className = "pick-date";
    button.textContent = "选日期";
    button.addEventListener("click", function () {
      var value = typedDate(input.value);
      if (/^\d{4}-\d{2}-\d{2}$/.test(value)) picker.value = value;
      try {
        picker.showPicker();
      } catch (e) {
        input.focus(); // no calendar here after all: type the date
      }
    });
    picker.addEventListener("change", function () {
      if (!picker.value) return;
      input.value = picker.value;
      input.dispatchEvent(new Event("input", { bubbles: true })); // the draft keeps it
      input.focus();
    });
    var row = document.createElement("div");
    row.className = "date-row";
    input.parentNode.insertBefore(row, input);
    row.appendChild(input);
    row.appendChild(button);
    row.appendChild(picker);
  }

  function install(form) {
    form.querySelectorAll(".form-field[data-check]").forEach(function (box) {
      var rules = JSON.parse(box.getAttribute("data-check"));
      var input = box.querySelector("input[name]");
      if (rules.kind !== "date" || !input || input.readOnly) return;
      input.addEventListener("change", function () { input.value = typedDate(input.value); });
      datePicker(input);
    });
    form.addEventListener("submit", function (event) {
      var wrong = check(form);
      if (!wrong.length) return;
      event.preventDefault();
      var box = showSummary(wrong);
      box.focus();
      box.scrollIntoView({ block: "start" });
    });
  }

  var form = document.querySelector("form.record-form");
  var summary = document.getElementById("error-summary");
  if (form) install(form);
  if (summary) {
    wireSummary(summary);
    summary.focus();
  }
})();
