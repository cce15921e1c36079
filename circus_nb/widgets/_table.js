// The browser half of circus_nb's ResultsTable: one HTML table, drawn from the model.
//
// The kernel owns the state (rows, row_keys, selected, sort); this side draws it and reports
// clicks as messages: {type: "click", key, toggle} for a row (toggle: Ctrl, Cmd or Shift
// held) and {type: "header", column} for a header. The kernel decides what a click
// does and sends the new state back, which redraws the table.
// Keys on a focused row or header: Enter or Space click it; ArrowUp/ArrowDown move.

const ARROWS = { ascending: " \u25B2", descending: " \u25BC" };

function render({ model, el }) {
  el.classList.add("cnb-table");
  // Lumino looks for this attribute from the event's target up: with it, JupyterLab's
  // command-mode keys (M, B, J, K, Space...) stay out of the table.
  el.setAttribute("data-lm-suppress-shortcuts", "true");
  const caption = document.createElement("div");
  caption.className = "cnb-table-caption";
  const scroll = document.createElement("div");
  scroll.className = "cnb-table-scroll";
  el.append(caption, scroll);

  // the direction of the sort on ``key``: "ascending", "descending" or null
  function direction(key) {
    const first = model.get("sort")[0];
    if (!key || first === undefined) return null;
    if (first === key) return "ascending";
    return first === `-${key}` ? "descending" : null;
  }

  function cell(tag, text) {
    const node = document.createElement(tag);
    node.textContent = text;
    node.title = text; // the whole text, when the cell shows it cut
    return node;
  }

  function header() {
    const row = document.createElement("tr");
    const keys = model.get("sort_keys");
    model.get("columns").forEach((label, column) => {
      const key = keys[column] || "", order = direction(key);
      const th = cell("th", label + (order ? ARROWS[order] : ""));
      th.scope = "col";
      th.title = key ? `${label}: click to sort` : label;
      if (key) {
        th.classList.add("cnb-sortable");
        th.tabIndex = 0;
        th.dataset.sortKey = key;
        th.setAttribute("aria-sort", order || "none");
        th.addEventListener("click", () => model.send({ type: "header", column }));
        th.addEventListener("keydown", (event) => {
          if (event.key === "Enter" || event.key === " ") {
            event.preventDefault();
            model.send({ type: "header", column });
          }
        });
      }
      row.append(th);
    });
    const head = document.createElement("thead");
    head.append(row);
    return head;
  }

  function body() {
    const tbody = document.createElement("tbody");
    const keys = model.get("row_keys"), selected = new Set(model.get("selected"));
    model.get("rows").forEach((cells, i) => {
      const key = keys[i];
      if (key === undefined) return; // rows and row_keys arrive together: not expected
      const tr = document.createElement("tr");
      tr.tabIndex = 0;
      tr.dataset.key = key;
      tr.setAttribute("aria-selected", selected.has(key) ? "true" : "false");
      if (selected.has(key)) tr.classList.add("cnb-selected");
      for (const text of cells) tr.append(cell("td", text));
      tbody.append(tr);
    });
    return tbody;
  }

  function click(tr, event) {
    const toggle = event.ctrlKey || event.metaKey || event.shiftKey;
    model.send({ type: "click", key: tr.dataset.key, toggle });
  }

  function draw() {
    const text = model.get("caption");
    caption.textContent = text;
    caption.style.display = text ? "" : "none";
    scroll.replaceChildren();
    if (!model.get("rows").length) {
      const empty = document.createElement("div");
      empty.className = "cnb-table-empty";
      empty.textContent = model.get("empty_text");
      scroll.append(empty);
      return;
    }
    const table = document.createElement("table");
    table.setAttribute("aria-multiselectable", model.get("multiple") ? "true" : "false");
    table.append(header(), body());
    scroll.append(table);
  }

  scroll.addEventListener("mousedown", (event) => {
    // Shift + click would select the text between two clicks: not what it means here
    if (event.shiftKey && event.target.closest("tbody tr")) event.preventDefault();
  });
  scroll.addEventListener("click", (event) => {
    const tr = event.target.closest("tbody tr");
    if (tr) click(tr, event);
  });
  scroll.addEventListener("keydown", (event) => {
    const tr = event.target.closest("tbody tr");
    if (!tr) return;
    if (event.key === "Enter" || event.key === " ") {
      event.preventDefault();
      click(tr, event);
    } else if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      const next = event.key === "ArrowDown" ? tr.nextElementSibling : tr.previousElementSibling;
      if (next) next.focus();
    }
  });

  const names = ["columns", "sort_keys", "rows", "row_keys", "selected", "multiple", "sort",
                 "caption", "empty_text"];
  const focusKey = () => document.activeElement?.closest?.("tbody tr")?.dataset.key;
  function redraw() {
    const focused = el.contains(document.activeElement) ? focusKey() : undefined;
    draw();
    if (focused !== undefined) {
      // the row that had the focus keeps it across the redraw (keys are CSS-escaped)
      scroll.querySelector(`tbody tr[data-key="${CSS.escape(focused)}"]`)?.focus();
    }
  }
  for (const name of names) model.on(`change:${name}`, redraw);
  draw();
  return () => {
    for (const name of names) model.off(`change:${name}`, redraw);
  };
}

export default { render };
