/* One leader's PDFs for a date range, as one zip made in the browser (the leader page's 打包下载).
 *
 * Why in the browser: the site is static, and zips made at build time would hold a second copy of
 * every PDF (one per leader and semester; at 10,000 records that doubles public/) and be made again
 * whenever one record of the semester changes, and they would offer semesters only, not any range.
 * Here the PDFs the site already has are fetched and packed as they are (stored, not compressed:
 * PDFs are compressed already), named as the export names them (liaison/core/filenames.py, written
 * into the page at build time), entries sorted by name and dated by the contact date, as
 * liaison/outputs/archive.py writes its zips. From file:// a browser refuses fetch(): the page says
 * so, and each PDF keeps its own link.
 */
(function () {
  "use strict";
  var form = document.getElementById("pdf-zip");
  if (!form) return;
  var status = form.querySelector(".zip-status");

  var CRC_TABLE = (function () {
    var table = new Uint32Array(256);
    for (var n = 0; n < 256; n++) {
      var c = n;
      for (var k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      table[n] = c >>> 0;
    }
    return table;
  })();

  function crc32(bytes) {
    var crc = 0xffffffff;
    for (var i = 0; i < bytes.length; i++) crc = CRC_TABLE[(crc ^ bytes[i]) & 0xff] ^ (crc >>> 8);
    return (crc ^ 0xffffffff) >>> 0;
  }

  /* A zip of [{name, date: "YYYY-MM-DD", data: Uint8Array}], entries stored, names UTF-8 (flag bit 11). */
  function zip(entries) {
    var encoder = new TextEncoder(), parts = [], central = [], offset = 0;
    entries.slice().sort(function (a, b) { return a.name < b.name ? -1 : a.name > b.name ? 1 : 0; })
      .forEach(function (entry) {
        var name = encoder.encode(entry.name), data = entry.data, crc = crc32(data);
        var day = entry.date.split("-").map(Number);
        var dosDate = ((Math.max(day[0], 1980) - 1980) << 9) | (day[1] << 5) | day[2];
        var local = new DataView(new ArrayBuffer(30));
        local.setUint32(0, 0x04034b50, true);
        local.setUint16(4, 20, true);
        local.setUint16(6, 0x0800, true);
        local.setUint16(8, 0, true); // stored
        local.setUint16(10, 0, true); // 00:00
        local.setUint16(12, dosDate, true);
        local.setUint32(14, crc, true);
        local.setUint32(18, data.length, true);
        local.setUint32(22, data.length, true);
        local.setUint16(26, name.length, true);
        local.setUint16(28, 0, true);
        var head = new DataView(new ArrayBuffer(46));
        head.setUint32(0, 0x02014b50, true);
        head.setUint16(4, (3 << 8) | 20, true); // made on Unix: the mode below means what it says
        head.setUint16(6, 20, true);
        head.setUint16(8, 0x0800, true);
        head.setUint16(10, 0, true);
        head.setUint16(12, 0, true);
        head.setUint16(14, dosDate, true);
        head.setUint32(16, crc, true);
        head.setUint32(20, data.length, true);
        head.setUint32(24, data.length, true);
        head.setUint16(28, name.length, true);
        head.setUint32(38, (0o100644 << 16) >>> 0, true);
        head.setUint32(42, offset, true);
        parts.push(local, name, data);
        central.push(head, name);
        offset += 30 + name.length + data.length;
      });
    var size = central.reduce(function (sum, part) { return sum + (part.byteLength || part.length); }, 0);
    var end = new DataView(new ArrayBuffer(22));
    end.setUint32(0, 0x06054b50, true);
    end.setUint16(8, entries.length, true);
    end.setUint16(10, entries.length, true);
    end.setUint32(12, size, true);
    end.setUint32(16, offset, true);
    return new Blob(parts.concat(central, [end]), { type: "application/zip" });
  }

  function chosen(from, to) {
    return Array.prototype.filter.call(document.querySelectorAll("li[data-pdf-name]"), function (li) {
      var day = li.getAttribute("data-date");
      return (!from || day >= from) && (!to || day <= to);
    });
  }

  function save(blob, name) {
    var link = document.createElement("a");
    link.href = URL.createObjectURL(blob);
    link.download = name;
    document.body.appendChild(link);
    link.click();
    setTimeout(function () { URL.revokeObjectURL(link.href); link.remove(); }, 1000);
  }

  function pack(from, to) {
    var items = chosen(from, to), root = form.getAttribute("data-root"), done = 0;
    if (!items.length) {
      status.textContent = "这段时间没有记录。";
      return;
    }
    status.textContent = "正在打包 0/" + items.length + " 份 PDF……";
    Promise.all(items.map(function (li) {
      return fetch(root + "records/" + encodeURIComponent(li.getAttribute("data-id")) + ".pdf")
        .then(function (response) {
          if (!response.ok) throw new Error(li.getAttribute("data-id") + "（" + response.status + "）");
          return response.arrayBuffer();
        })
        .then(function (buffer) {
          done += 1;
          status.textContent = "正在打包 " + done + "/" + items.length + " 份 PDF……";
          return { name: li.getAttribute("data-pdf-name"), date: li.getAttribute("data-date"), data: new Uint8Array(buffer) };
        });
    })).then(function (entries) {
      var range = (from || "最早") + "至" + (to || "最近");
      save(zip(entries), form.getAttribute("data-folder") + "-" + range + ".zip");
      status.textContent = "已打包 " + entries.length + " 份 PDF（" + range + "）。";
    }, function (error) {
      status.textContent = location.protocol === "file:"
        ? "从本机文件打开的页面不能打包下载（浏览器不允许读取文件），请逐个点“PDF”下载，或用 build.py export 导出。"
        : "有 PDF 下载失败：" + error.message + "。请稍后重试，或逐个下载。";
    });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    pack(form.elements.from.value, form.elements.to.value);
  });
  document.querySelectorAll("button.zip-semester").forEach(function (button) {
    button.addEventListener("click", function () {
      form.elements.from.value = button.getAttribute("data-from");
      form.elements.to.value = button.getAttribute("data-to");
      pack(button.dataset.from, button.dataset.to);
    });
  });
})();
