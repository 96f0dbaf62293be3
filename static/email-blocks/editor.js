/* The visual email editor: a list of blocks edited as form controls, kept as JSON in the
   template form's hidden "blocks" field. The server validates and compiles the document
   (apps/channels/blocks.py); this script only builds it. No innerHTML with tenant data:
   every value goes through textContent / value. No style attributes (the CSP refuses them). */
(function () {
  "use strict";

  var LABELS = {text: "Text", image: "Image", button: "Button", columns: "Columns", divider: "Divider", spacer: "Spacer"};
  var DEFAULTS = {
    text: function () { return {type: "text", text: ""}; },
    image: function () { return {type: "image", src: "", alt: "", width: 600}; },
    button: function () { return {type: "button", label: "Find out more", href: "https://"}; },
    columns: function () { return {type: "columns", columns: [{blocks: [{type: "text", text: ""}]}, {blocks: [{type: "text", text: ""}]}]}; },
    divider: function () { return {type: "divider"}; },
    spacer: function () { return {type: "spacer", height: 20}; }
  };

  // what the compiler uses when a colour is not set (apps/channels/blocks.py)
  var COLORS = {"text.color": "#222222", "button.color": "#2563eb", "button.text_color": "#ffffff", "divider.color": "#dddddd"};

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "text") node.textContent = attrs[k];
      else if (k === "class") node.className = attrs[k];
      else node.setAttribute(k, attrs[k]);
    });
    (children || []).forEach(function (c) { if (c) node.appendChild(c); });
    return node;
  }

  function init(root) {
    var form = document.getElementById(root.dataset.form);
    var store = form.querySelector("input[name=blocks]");
    var mode = form.querySelector("input[name=editor]");
    var list = root.querySelector(".eb-blocks");
    var fieldSelect = root.querySelector(".eb-field");
    var doc;
    try { doc = JSON.parse(store.value || root.dataset.starter); } catch (e) { doc = JSON.parse(root.dataset.starter); }
    if (!doc || !Array.isArray(doc.blocks)) doc = JSON.parse(root.dataset.starter);
    var lastText = null;  // the text control a personalization field goes into

    function save() {
      store.value = JSON.stringify(doc);
      // the form's live check listens for changes (hx-trigger="... change")
      store.dispatchEvent(new Event("change", {bubbles: true}));
    }

    function input(block, key, label, kind, extra) {
      var control;
      if (kind === "textarea") control = el("textarea", {rows: 3});
      else if (kind === "select") {
        control = el("select");
        extra.forEach(function (o) { control.appendChild(el("option", {value: o, text: o})); });
      } else control = el("input", {type: kind || "text"});
      control.name = "eb-" + key;
      control.setAttribute("aria-label", label);
      var fallback = kind === "select" ? extra[0] : kind === "color" ? COLORS[block.type + "." + key] || "#222222" : "";
      control.value = block[key] === undefined ? fallback : block[key];
      control.addEventListener("input", function () {
        var v = control.value;
        if (kind === "number") { v = parseInt(v, 10); if (isNaN(v)) { delete block[key]; save(); return; } }
        if (kind === "color" || kind === "select" || key === "href" && block.type === "image") {
          if (v === "") { delete block[key]; save(); return; }
        }
        block[key] = v; save();
      });
      if (key === "text" || key === "label") {
        control.addEventListener("focus", function () { lastText = {control: control, block: block, key: key}; });
      }
      return el("label", {class: "eb-control"}, [el("span", {text: label}), control]);
    }

    function upload(block, srcControl) {
      var url = root.dataset.upload;
      if (!url) return null;
      var file = el("input", {type: "file", accept: "image/png,image/jpeg,image/gif,image/webp", class: "eb-upload"});
      file.setAttribute("aria-label", "Upload an image");
      var status = el("small", {class: "eb-upload-status", "aria-live": "polite"});
      file.addEventListener("change", function () {
        if (!file.files.length) return;
        var body = new FormData();
        body.append("image", file.files[0]);
        status.textContent = "Uploading…";
        fetch(url, {method: "POST", body: body, credentials: "same-origin",
                    headers: {"X-CSRFToken": form.querySelector("input[name=csrfmiddlewaretoken]").value}})
          .then(function (r) { return r.json().then(function (data) { return {ok: r.ok, data: data}; }); })
          .then(function (res) {
            if (!res.ok) { status.textContent = res.data.error || "Not uploaded."; return; }
            block.src = res.data.url;
            libraryPromise = null;
            if (!block.width || block.width > res.data.width) block.width = Math.max(40, Math.min(600, res.data.width));
            srcControl.querySelector("input").value = block.src;
            status.textContent = "Uploaded (" + res.data.width + "×" + res.data.height + ").";
            save();
          })
          .catch(function () { status.textContent = "Not uploaded: the server did not answer."; });
      });
      var pick = el("select", {class: "eb-library", "aria-label": "Pick an uploaded image"},
                    [el("option", {value: "", text: "…or pick an uploaded image"})]);
      library().then(function (images) {
        images.forEach(function (img) {
          pick.appendChild(el("option", {value: img.url, text: (img.name || "image") + " (" + img.width + "×" + img.height + ")"}));
        });
      });
      pick.addEventListener("change", function () {
        if (!pick.value) return;
        block.src = pick.value;
        srcControl.querySelector("input").value = block.src;
        pick.value = "";
        save();
      });
      return el("div", {class: "eb-upload-row"}, [file, pick, status]);
    }

    var libraryPromise = null;  // the workspace's uploaded images, asked once per page
    function library() {
      if (!libraryPromise) {
        libraryPromise = fetch(root.dataset.upload, {credentials: "same-origin", headers: {"Accept": "application/json"}})
          .then(function (r) { return r.ok ? r.json() : {images: []}; })
          .then(function (data) { return data.images || []; })
          .catch(function () { return []; });
      }
      return libraryPromise;
    }

    function fields(block) {
      switch (block.type) {
        case "text":
          return [input(block, "text", "Text", "textarea"),
                  el("div", {class: "eb-row"}, [input(block, "style", "Style", "select", ["paragraph", "heading"]),
                                                input(block, "align", "Align", "select", ["left", "center", "right"]),
                                                input(block, "size", "Size (px)", "number"),
                                                input(block, "color", "Colour", "color")])];
        case "image":
          var src = input(block, "src", "Image address (https://…)", "url");
          return [src, upload(block, src), el("div", {class: "eb-row"}, [
            input(block, "alt", "Description (alt text)"), input(block, "width", "Width (px)", "number"),
            input(block, "href", "Link (optional)", "url")])];
        case "button":
          return [el("div", {class: "eb-row"}, [input(block, "label", "Label"), input(block, "href", "Link (https://…)", "url")]),
                  el("div", {class: "eb-row"}, [input(block, "align", "Align", "select", ["center", "left", "right"]),
                                                input(block, "color", "Colour", "color"),
                                                input(block, "text_color", "Text colour", "color")])];
        case "divider":
          return [el("div", {class: "eb-row"}, [input(block, "thickness", "Thickness (px)", "number"),
                                                input(block, "color", "Colour", "color")])];
        case "spacer":
          return [input(block, "height", "Height (px)", "number")];
        case "columns":
          return [el("div", {class: "eb-columns eb-columns-" + block.columns.length},
                     block.columns.map(function (column, i) {
                       var inner = el("div", {class: "eb-column"}, [el("small", {class: "eb-column-title", text: "Column " + (i + 1)})]);
                       var nested = el("ol", {class: "eb-blocks eb-nested"});
                       renderList(nested, column.blocks, false);
                       inner.appendChild(nested);
                       inner.appendChild(addBar(column.blocks, false));
                       return inner;
                     }))];
      }
      return [el("p", {text: "Unknown block: " + block.type})];
    }

    function button(label, title, onClick) {
      var b = el("button", {type: "button", class: "eb-tool outline secondary", title: title, "aria-label": title, text: label});
      b.addEventListener("click", function () { onClick(); save(); render(); });
      return b;
    }

    function renderList(container, blocks, top) {
      container.textContent = "";
      blocks.forEach(function (block, i) {
        var tools = el("span", {class: "eb-tools"}, [
          button("↑", "Move up", function () { if (i > 0) blocks.splice(i - 1, 0, blocks.splice(i, 1)[0]); }),
          button("↓", "Move down", function () { if (i < blocks.length - 1) blocks.splice(i + 1, 0, blocks.splice(i, 1)[0]); }),
          button("✕", "Remove block", function () { blocks.splice(i, 1); })]);
        var head = el("header", {class: "eb-head"}, [el("strong", {text: LABELS[block.type] || block.type}), tools]);
        container.appendChild(el("li", {class: "eb-block", "data-type": block.type}, [head].concat(fields(block))));
      });
      if (!blocks.length) container.appendChild(el("li", {class: "eb-empty muted", text: top ? "No blocks yet: add one below." : "Empty column."}));
    }

    function addBar(blocks, top) {
      var kinds = top ? Object.keys(LABELS) : Object.keys(LABELS).filter(function (k) { return k !== "columns"; });
      return el("div", {class: "eb-add"}, [el("small", {text: "Add: "})].concat(kinds.map(function (k) {
        var b = el("button", {type: "button", class: "eb-add-" + k + " small outline", text: "+ " + LABELS[k]});
        b.addEventListener("click", function () { blocks.push(DEFAULTS[k]()); save(); render(); });
        return b;
      })));
    }

    function render() {
      renderList(list, doc.blocks, true);
      var bar = root.querySelector(".eb-add-top");
      bar.textContent = "";
      bar.appendChild(addBar(doc.blocks, true));
    }

    if (fieldSelect) {
      fieldSelect.addEventListener("change", function () {
        var token = fieldSelect.value;
        fieldSelect.value = "";
        if (!token || !lastText) return;
        var c = lastText.control, at = c.selectionStart === null ? c.value.length : c.selectionStart;
        c.value = c.value.slice(0, at) + token + c.value.slice(c.selectionEnd === null ? at : c.selectionEnd);
        lastText.block[lastText.key] = c.value;
        save();
        c.focus();
      });
    }

    var switchError = root.querySelector(".eb-switch-error");
    function pressed(visual) {
      form.classList.toggle("is-visual", visual);
      root.querySelectorAll("[data-editor-mode]").forEach(function (b) {
        b.setAttribute("aria-pressed", String((b.dataset.editorMode === "visual") === visual));
      });
    }
    function setMode(visual) {
      mode.value = visual ? "visual" : "html";
      pressed(visual);
      switchError.hidden = true;
      if (visual) save();
      else store.dispatchEvent(new Event("change", {bubbles: true}));
    }
    root.querySelectorAll("[data-editor-mode]").forEach(function (b) {
      b.addEventListener("click", function () {
        if (b.dataset.editorMode === "visual") { setMode(true); return; }
        if (mode.value !== "visual" || !root.dataset.compile) { setMode(false); return; }
        // The HTML editor starts from the blocks as they are now, compiled by the server.
        var body = new FormData();
        body.append("blocks", JSON.stringify(doc));
        fetch(root.dataset.compile, {method: "POST", body: body, credentials: "same-origin",
                                     headers: {"X-CSRFToken": form.querySelector("input[name=csrfmiddlewaretoken]").value}})
          .then(function (r) { return r.json().then(function (data) { return {ok: r.ok, data: data}; }); })
          .then(function (res) {
            if (!res.ok) {
              switchError.textContent = "Fix the blocks first: " + (res.data.problems || []).map(function (p) { return p.message; }).join("; ");
              switchError.hidden = false;
              return;
            }
            form.querySelector("textarea[name=html]").value = res.data.html;
            setMode(false);
          })
          .catch(function () { switchError.textContent = "The server did not answer."; switchError.hidden = false; });
      });
    });

    pressed(mode.value === "visual");
    if (mode.value === "visual") store.value = JSON.stringify(doc);
    render();
  }

  function start() { document.querySelectorAll("[data-email-blocks]").forEach(init); }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start); else start();
}());
