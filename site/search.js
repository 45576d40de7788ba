/* liaison search: filters records in the browser, loading only the data files a search needs.
 *
 * Data arrive as scripts (data/meta.js, data/semester-<id>.js, data/leader-<id>.js) that call
 * LIAISON.meta() and LIAISON.chunk(), so the page works from file:// where fetch() is refused.
 * Record text is data: it is only ever set with textContent, never parsed as HTML.
 */
(function () {
  "use strict";

  var PAGE = 100;
  // What a folded card shows on a phone (with the heading's date, leader and 联系对象); the rest opens.
  var KEY_FIELDS = ["place", "size", "content"];
  var state = { meta: null, chunks: {}, waiting: {}, results: [], shown: 0, runs: 0, grouped: false };
  var base = "";
  var form, statusEl, choicesEl, resultsEl, moreEl, col = {};

  window.LIAISON = {
    meta: function (key, meta) {
      state.meta = meta;
      meta.fields.forEach(function (f, i) { col[f.key] = i + 1; });
      start();
    },
    chunk: function (key, rows) {
      state.chunks[key] = rows;
      (state.waiting[key] || []).forEach(function (done) { done(); });
      delete state.waiting[key];
    }
  };

  function load(key, file) {
    return new Promise(function (resolve, reject) {
      if (state.chunks[key]) { resolve(); return; }
      if (state.waiting[key]) { state.waiting[key].push(resolve); return; }
      state.waiting[key] = [resolve];
      var script = document.createElement("script");
      script.src = base + "data/" + file;
      script.onerror = function () { delete state.waiting[key]; reject(new Error(file)); };
      document.head.appendChild(script);
    });
  }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function params() {
    var data = new FormData(form), out = {};
    ["leader", "dept", "from", "to", "q", "order"].forEach(function (name) {
      out[name] = String(data.get(name) || "").trim();
    });
    return out;
  }

  /* Which leaders the leader box means: an exact choice from the list, else every name containing the text. */
  function leaderIds(text) {
    if (!text) return null;
    var leaders = state.meta.leaders;
    var exact = leaders.filter(function (l) { return l.label === text || l.id === text; });
    if (exact.length === 1) return [exact[0].id];
    var named = leaders.filter(function (l) { return l.name.indexOf(text) !== -1 || l.label === text; });
    if (!named.length) named = byPinyin(leaders, text);
    return named.map(function (l) { return l.id; });
  }

  /* zhao, zhaom, zhaomin, zm, "Zhao Min", ｚｍ (an input method in full-width mode): the start of a
     name's full pinyin or of its initials, in any of its readings (liaison/core/pinyin.py's
     typed_pinyin and matches_pinyin, the same rule). */
  function byPinyin(leaders, text) {
    var typed = text.normalize("NFKC").toLowerCase().replace(/[\s'’·]+/g, "");
    if (!/^[a-z]+$/.test(typed)) return [];
    return leaders.filter(function (l) {
      return (l.pinyin || []).some(function (reading) {
        return reading[0].indexOf(typed) === 0 || reading[1].indexOf(typed) === 0;
      });
    });
  }

  function sources(p, ids) {
    if (ids && ids.length <= 5) {
      return ids.filter(function (id) {
        return state.meta.leaders.some(function (l) { return l.id === id && l.count > 0; });
      }).map(function (id) { return ["leader:" + id, "leader-" + id + ".js"]; });
    }
    return state.meta.semesters.filter(function (s) {
      return s.count > 0 && (!p.from || s.end >= p.from) && (!p.to || s.start <= p.to);
    }).map(function (s) { return ["semester:" + s.id, "semester-" + s.id + ".js"]; });
  }

  function haystack(row) {
    if (!row.text) {
      row.text = row.slice(1).filter(function (v) { return typeof v === "string"; }).join("\n").toLowerCase();
    }
    return row.text;
  }

  function search() {
    var p = params(), run = ++state.runs;
    var ids = leaderIds(p.leader);
    syncUrl(p);
    markSemester(p);
    summarize(p);
    if (ids && ids.length === 0) {
      show([], p, "没有找到姓名中含“" + p.leader + "”的领导干部，请从下拉列表中选择。");
      return;
    }
    var wanted = sources(p, ids);
    statusEl.textContent = "正在载入……";
    Promise.all(wanted.map(function (s) { return load(s[0], s[1]); })).then(function () {
      if (run !== state.runs) return; // a newer search has started
      var terms = p.q.toLowerCase().split(/\s+/).filter(Boolean);
      state.terms = terms;
      var idSet = ids ? new Set(ids) : null, seen = new Set(), out = [];
      wanted.forEach(function (s) {
        state.chunks[s[0]].forEach(function (row) {
          if (seen.has(row[0])) return;
          var date = row[col.date];
          if (p.from && date < p.from) return;
          if (p.to && date > p.to) return;
          if (idSet && !idSet.has(row[col.leader_id])) return;
          if (p.dept && row[col.department] !== p.dept) return;
          var text = terms.length ? haystack(row) : "";
          for (var i = 0; i < terms.length; i++) if (text.indexOf(terms[i]) === -1) return;
          seen.add(row[0]);
          out.push(row);
        });
      });
      var sign = p.order === "desc" ? -1 : 1;
      // Several people for one box (zw: two 张伟, or 张伟 and 赵文): each person's records together.
      var grouped = !!(ids && ids.length > 1);
      var rank = {};
      state.meta.leaders.forEach(function (l, i) { rank[l.id] = i; });
      out.sort(function (a, b) {
        if (grouped && a[col.leader_id] !== b[col.leader_id]) return rank[a[col.leader_id]] - rank[b[col.leader_id]];
        var x = [a[col.date], a[col.leader_id], a[0]], y = [b[col.date], b[col.leader_id], b[0]];
        for (var i = 0; i < 3; i++) if (x[i] !== y[i]) return x[i] < y[i] ? -sign : sign;
        return 0;
      });
      state.grouped = grouped;
      show(out, p);
      offer(grouped ? ids : [], out, p);
    }, function (error) {
      statusEl.textContent = "数据文件载入失败（" + error.message + "），请刷新页面重试。";
    });
  }

  function describe(p) {
    var range = p.from && p.to ? p.from + " 至 " + p.to : p.from ? p.from + " 起" : p.to ? "截至 " + p.to : "全部时间";
    return range;
  }

  function show(rows, p, message) {
    state.results = rows;
    state.shown = 0;
    resultsEl.textContent = "";
    if (message) offer([], rows, p);
    statusEl.textContent = message || ("共 " + rows.length + " 条记录 · " + describe(p) +
      (p.order === "desc" ? " · 时间从晚到早" : " · 时间从早到晚"));
    statusEl.setAttribute("data-count", String(rows.length));
    statusEl.setAttribute("data-search", String(state.runs)); // which search these results answer
    more();
  }

  function more() {
    var end = Math.min(state.results.length, state.shown + PAGE);
    var fragment = document.createDocumentFragment();
    for (var i = state.shown; i < end; i++) {
      var row = state.results[i], previous = state.results[i - 1];
      if (state.grouped && (!previous || previous[col.leader_id] !== row[col.leader_id])) {
        fragment.appendChild(groupHeading(row[col.leader_id]));
      }
      fragment.appendChild(card(row));
    }
    resultsEl.appendChild(fragment);
    state.shown = end;
    moreEl.hidden = state.shown >= state.results.length;
    moreEl.textContent = "显示更多（还有 " + (state.results.length - state.shown) + " 条）";
  }

  function leaderOf(id) {
    return state.meta.leaders.filter(function (l) { return l.id === id; })[0];
  }

  /* 张伟 · 学生工作处 · 3 条: where one person's records begin when the box meant several. */
  function groupHeading(id) {
    var leader = leaderOf(id) || { name: id, department: "" };
    var count = state.results.filter(function (r) { return r[col.leader_id] === id; }).length;
    var h = el("h2", "group", [leader.name, leader.department, count + " 条"].filter(Boolean).join(" · "));
    h.setAttribute("data-leader", id);
    return h;
  }

  /* The people the leader box matched, each a button that narrows the search to that person. */
  function offer(ids, rows, p) {
    choicesEl.textContent = "";
    choicesEl.hidden = ids.length < 2;
    if (choicesEl.hidden) return;
    choicesEl.appendChild(el("span", "", "“" + p.leader + "”对应 " + ids.length + " 位领导干部，按人分开列出："));
    ids.forEach(function (id) {
      var leader = leaderOf(id);
      var count = rows.filter(function (r) { return r[col.leader_id] === id; }).length;
      var button = el("button", "choice", leader.name + "（" + leader.department + "）" + count + " 条");
      button.type = "button";
      button.setAttribute("data-leader", id);
      button.addEventListener("click", function () {
        form.elements.leader.value = leader.label;
        search();
      });
      choicesEl.appendChild(button);
    });
  }

  function card(row) {
    var id = row[0], href = base + "records/" + encodeURIComponent(id);
    var article = el("article", "record");
    article.setAttribute("data-id", id);
    var h = el("h2");
    var link = el("a", "", row[col.date] + " · " + row[col.leader] + "（" + row[col.department] + "）· " + row[col.target]);
    link.href = href + ".html";
    h.appendChild(link);
    article.appendChild(h);
    var dl = el("dl", "fields");
    state.meta.fields.forEach(function (f) {
      var value = row[col[f.key]];
      var key = KEY_FIELDS.indexOf(f.key) !== -1;
      var item = el("div", "field f-" + f.key + (f.long ? " long" : "") + (key ? " key" : " extra"));
      item.appendChild(el("dt", "", f.label));
      var dd = el("dd");
      if (value === "" || value === null || value === undefined) dd.appendChild(el("span", "empty", "（无）"));
      else highlight(dd, String(value), state.terms || []);
      item.appendChild(dd);
      dl.appendChild(item);
    });
    article.appendChild(dl);
    // On a phone the card shows the key fields (CSS folds the rest); this button opens it whole.
    var unfold = el("button", "unfold", "展开全部内容");
    unfold.type = "button";
    unfold.setAttribute("aria-expanded", "false");
    unfold.addEventListener("click", function () {
      var open = article.classList.toggle("open");
      unfold.setAttribute("aria-expanded", String(open));
      unfold.textContent = open ? "收起" : "展开全部内容";
    });
    var links = el("p", "links");
    links.appendChild(unfold);
    var pdf = el("a", "", "PDF 记录表");
    pdf.href = href + ".pdf";
    var page = el("a", "", "单独查看");
    page.href = href + ".html";
    links.appendChild(pdf);
    links.appendChild(page);
    article.appendChild(links);
    return article;
  }

  /* The text with every match of the search terms in <mark>, built as text nodes (never as HTML). */
  function highlight(node, text, terms) {
    var lower = text.toLowerCase(), at = 0;
    while (terms.length) {
      var best = -1, length = 0;
      terms.forEach(function (t) {
        var i = lower.indexOf(t, at);
        if (i !== -1 && (best === -1 || i < best)) { best = i; length = t.length; }
      });
      if (best === -1) break;
      if (best > at) node.appendChild(document.createTextNode(text.slice(at, best)));
      node.appendChild(el("mark", "", text.slice(best, best + length)));
      at = best + length;
    }
    if (at < text.length) node.appendChild(document.createTextNode(text.slice(at)));
  }

  /* On a phone the filters fold into one line that says what they are set to. */
  function summarize(p) {
    var summary = document.getElementById("filters-summary");
    if (!summary) return;
    var parts = [p.leader || "全部领导干部", p.dept || "全部部门", describe(p)];
    if (p.q) parts.push("关键词“" + p.q + "”");
    summary.textContent = parts.join(" · ");
  }

  function syncUrl(p) {
    var query = new URLSearchParams();
    Object.keys(p).forEach(function (k) { if (p[k] && !(k === "order" && p[k] === "asc")) query.set(k, p[k]); });
    try { history.replaceState(null, "", "?" + query.toString()); } catch (e) { /* some file:// set-ups refuse */ }
  }

  function markSemester(p) {
    form.querySelectorAll(".semesters button").forEach(function (b) {
      b.setAttribute("aria-pressed", String(b.dataset.from === p.from && b.dataset.to === p.to));
    });
  }

  function fill() {
    var query = new URLSearchParams(location.search);
    var current = state.meta.semesters.filter(function (s) { return s.id === state.meta.current; })[0];
    if (!query.toString() && current) { query.set("from", current.start); query.set("to", current.end); }
    var leader = query.get("leader") || "";
    var byId = state.meta.leaders.filter(function (l) { return l.id === leader; })[0];
    form.elements.leader.value = byId ? byId.label : leader;
    ["dept", "from", "to", "q"].forEach(function (name) { form.elements[name].value = query.get(name) || ""; });
    form.elements.order.value = query.get("order") === "desc" ? "desc" : "asc";
  }

  function start() {
    var meta = document.querySelector('script[src$="data/meta.js"]');
    base = meta.getAttribute("src").replace(/data\/meta\.js$/, "");
    form = document.getElementById("search");
    statusEl = document.getElementById("status");
    choicesEl = document.getElementById("choices");
    resultsEl = document.getElementById("results");
    moreEl = document.getElementById("more");
    fill();
    var filters = document.getElementById("filters");
    if (filters && window.matchMedia && window.matchMedia("(max-width: 640px)").matches) filters.open = false;
    form.addEventListener("input", search);
    form.addEventListener("change", search);
    form.addEventListener("submit", function (event) { event.preventDefault(); search(); });
    form.querySelectorAll(".semesters button").forEach(function (button) {
      button.addEventListener("click", function () {
        form.elements.from.value = button.dataset.from;
        form.elements.to.value = button.dataset.to;
        search();
      });
    });
    moreEl.addEventListener("click", more);
    search();
  }
})();
