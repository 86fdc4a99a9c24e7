// The meshrtc timeline page. The data is JSON in #data; every string from
// it reaches the page through textContent, never as markup.
"use strict";
const D = JSON.parse(document.getElementById("data").textContent);
const NS = "http://www.w3.org/2000/svg";
const KINDS = [["stun", "STUN"], ["dtls", "DTLS"], ["rtp", "RTP"], ["rtcp", "RTCP"], ["note", "notes"], ["other", "other"]];
const state = { rowH: 22, show: {}, open: new Set(), selected: null };
KINDS.forEach(([k]) => { state.show[k] = true; });

function el(name, attrs, text) {
  const e = document.createElementNS(NS, name);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

function ms(t) { return "+" + (t * 1000).toFixed(3) + " ms"; }

function show(text, g) {
  document.getElementById("detail").textContent = text;
  if (state.selected) state.selected.classList.remove("selected");
  state.selected = g;
  if (g) g.classList.add("selected");
}

function controls() {
  const c = document.getElementById("controls");
  for (const [k, name] of KINDS) {
    const l = document.createElement("label");
    const box = document.createElement("input");
    box.type = "checkbox"; box.checked = true; box.id = "show-" + k;
    box.addEventListener("change", () => { state.show[k] = box.checked; draw(); });
    l.append(box, " " + name);
    c.append(l);
  }
  const z = document.createElement("label");
  const r = document.createElement("input");
  r.type = "range"; r.min = "10"; r.max = "48"; r.value = String(state.rowH); r.id = "zoom";
  r.addEventListener("input", () => { state.rowH = Number(r.value); draw(); });
  z.append("zoom ", r);
  c.append(z);
  const counts = {};
  for (const row of D.rows) counts[row.kind] = (counts[row.kind] || 0) + (row.type === "run" ? row.packets.length : 1);
  document.getElementById("summary").textContent =
    D.packets + " packets (" + D.merged + " merged with another capture's copy), " + D.lanes.length + " lanes; " +
    KINDS.map(([k, n]) => n + " " + (counts[k] || 0)).join(", ") + ". Media runs (one stream, one second) open on a click.";
}

function draw() {
  const laneW = 340, left = 110, top = 40, h = state.rowH;
  const x = i => left + laneW / 2 + i * laneW;
  const width = left + laneW * D.lanes.length + 20;
  const svg = el("svg", { id: "svg", width: width });
  svg.append(el("defs"));
  const marker = el("marker", { id: "head", viewBox: "0 0 10 10", refX: "10", refY: "5", markerWidth: "8", markerHeight: "8", markerUnits: "userSpaceOnUse", orient: "auto-start-reverse" });
  marker.append(el("path", { d: "M0,0 L10,5 L0,10 z", fill: "context-stroke" }));
  svg.firstChild.append(marker);
  D.lanes.forEach((name, i) => svg.append(el("text", { x: x(i), y: 16, "text-anchor": "middle", class: "lane-name" }, name)));
  let y = top, phase = null;
  const body = el("g");
  const arrow = (a, kind, cls, extra) => {
    const g = el("g", { class: cls + " k-" + kind, "data-x": a.x });
    const y0 = y + h * 0.6;
    if (a.from === a.to) {
      g.append(el("line", { x1: x(a.from), y1: y0, x2: x(a.from) + 30, y2: y0, "marker-end": "url(#head)" }));
    } else {
      g.append(el("line", { x1: x(a.from), y1: y0, x2: x(a.to), y2: y0, "marker-end": "url(#head)" }));
    }
    g.append(el("text", { x: (x(a.from) + x(a.to)) / 2, y: y0 - 3, "text-anchor": "middle" }, a.label + (extra || "")));
    body.append(el("text", { x: 4, y: y0 + 3, class: "time" }, ms(a.t)));
    body.append(g);
    y += h;
    return g;
  };
  D.rows.forEach((row, i) => {
    if (!state.show[row.kind]) return;
    if (row.phase && row.phase !== phase && row.type !== "note") {
      phase = row.phase;
      body.append(el("rect", { x: 0, y: y, width: width, height: h, class: "phase-band" }));
      body.append(el("text", { x: 4, y: y + h * 0.7, class: "phase-name" }, phase));
      y += h;
    }
    if (row.type === "arrow") {
      const g = arrow(row, row.kind, "arrow");
      g.addEventListener("click", () => show(D.explain[row.x], g));
    } else if (row.type === "run") {
      const open = state.open.has(i);
      const g = arrow(row, "rtp", "run", open ? " ▾" : " ▸");
      g.addEventListener("click", () => { if (open) state.open.delete(i); else state.open.add(i); draw(); });
      if (open) for (const p of row.packets) {
        const s = arrow(p, "rtp", "arrow sub");
        s.addEventListener("click", ev => { ev.stopPropagation(); show(D.explain[p.x], s); });
      }
    } else {
      const g = el("g", { class: "note k-note" });
      const tx = x(row.lane) - laneW / 2 + 6;
      g.append(el("rect", { x: tx - 3, y: y + 2, width: laneW - 6, height: h - 4, rx: 3 }));
      g.append(el("text", { x: tx, y: y + h * 0.68 }, row.label.length > 38 ? row.label.slice(0, 37) + "…" : row.label));
      g.addEventListener("click", () => show(ms(row.t) + "\n" + row.detail, g));
      body.append(el("text", { x: 4, y: y + h * 0.68, class: "time" }, ms(row.t)));
      body.append(g);
      y += h;
    }
  });
  D.lanes.forEach((_, i) => svg.append(el("line", { x1: x(i), y1: 24, x2: x(i), y2: y + 10, class: "lane-line" })));
  svg.append(body);
  svg.setAttribute("height", y + 20);
  const ladder = document.getElementById("ladder");
  ladder.textContent = "";
  ladder.append(svg);
}

controls();
draw();
// `#x=N` opens packet N's explanation (0-based, file order after merging),
// so a page can link to one packet.
const m = /^#x=(\d+)$/.exec(location.hash);
if (m && D.explain[Number(m[1])] !== undefined) {
  const g = document.querySelector('g[data-x="' + Number(m[1]) + '"]');
  show(D.explain[Number(m[1])], g);
  if (g) g.scrollIntoView({ block: "nearest" });
}
