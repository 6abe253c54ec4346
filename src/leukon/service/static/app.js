// leukon web page: sends the form to the JSON API (POST /assess, POST /follow) and shows the answer.
// Text from the answer is inserted with textContent; the only HTML inserted is the explanation fragment,
// which the server escapes (leukon.outputs.explanation_html). The chart is shown as an <img>, so an SVG
// can never run script here.
"use strict";

const $ = (sel) => document.querySelector(sel);

function el(tag, text, cls) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (cls) node.className = cls;
  return node;
}

function headers() {
  const h = { "Content-Type": "application/json", Accept: "application/json" };
  const token = $("#token").value.trim();
  if (token) h.Authorization = "Bearer " + token;
  return h;
}

function numberOrText(text) {
  const n = Number(text);
  return text !== "" && Number.isFinite(n) ? n : text;
}

function lines(text) {
  return text.split("\n").map((s) => s.trim()).filter(Boolean);
}

// The request body: the same JSON object `leukon assess --json -` reads, plus the explanation options.
function cbcBody() {
  const body = {};
  for (const input of document.querySelectorAll("input[data-analyte]")) {
    const id = input.dataset.analyte;
    const value = input.value.trim();
    if (!value) continue;
    const item = { value: value, unit: $("#u-" + id).value };
    const lln = $("#lln-" + id).value.trim();
    const uln = $("#uln-" + id).value.trim();
    if (lln) item.lln = numberOrText(lln);
    if (uln) item.uln = numberOrText(uln);
    body[id] = item;
  }
  const temp = $("#temperature").value.trim();
  if (temp) body.temperature = { value: temp, unit: $("#u-temperature").value };
  const age = $("#age_years").value.trim();
  if (age) body.age_years = numberOrText(age);
  if ($("#sex").value) body.sex = $("#sex").value;
  if ($("#duffy_null").checked) body.ancestry = "duffy-null";
  if ($("#fever_sustained").checked) body.fever_sustained = true;
  body.profile = $("#profile").value;
  body.explanation = {
    audience: document.querySelector("input[name=audience]:checked").value,
    medicines: lines($("#medicines").value),
    conditions: lines($("#conditions").value),
    html: true,
  };
  return body;
}

// The input a problem's `field` points at: "wbc" -> #v-wbc, "wbc.lln" -> #lln-wbc, "age_years" -> #age_years.
function inputFor(field) {
  if (!field) return null;
  if (field === "patient_id" || field === "patient") return $("#series-patient");
  if (field === "csv" || field === "series") return $("#series");
  const [name, part] = field.split(".");
  if (part === "lln" || part === "uln") return document.getElementById(part + "-" + name);
  if (name === "ancestry") return $("#duffy_null");
  if (name === "explanation") return document.getElementById(part || "medicines");
  return document.getElementById("v-" + name) || document.getElementById(name);
}

function clearErrors(form) {
  for (const node of form.querySelectorAll("[aria-invalid]")) node.removeAttribute("aria-invalid");
}

function showProblem(box, problem, form) {
  box.textContent = problem.detail || problem.title || "The request failed.";
  box.hidden = false;
  let input = inputFor(problem.field);
  if (!input || !form.contains(input)) input = form.querySelector("textarea, input"); // the form's first field
  if (input) {
    input.setAttribute("aria-invalid", "true");
    const details = input.closest("details");
    if (details) details.open = true;
    input.focus();
  }
}

async function post(path, body) {
  const response = await fetch(path, { method: "POST", headers: headers(), body: JSON.stringify(body) });
  let doc;
  try {
    doc = await response.json();
  } catch (e) {
    doc = { detail: "The service answered " + response.status + " without JSON." };
  }
  return { ok: response.ok, doc: doc };
}

function fmt(x) {
  return x === null || x === undefined ? "" : String(x);
}

function renderAssessment(doc) {
  const scheme = $("#scheme").value;
  $("#urgent").hidden = !doc.emergency;
  const findings = $("#findings");
  findings.replaceChildren();
  if (!doc.findings.length) findings.append(el("li", "No white-cell finding: the values given are within the ranges used."));
  for (const f of doc.findings) {
    const li = el("li", null, f.certainty);
    li.append(el("strong", f.label));
    const reading = [f.value, f.unit, f.comparator, f.threshold].filter((x) => x !== null && x !== "").join(" ");
    const parts = [reading, f.severity ? `(${f.severity})` : "", f.basis || ""].filter(Boolean);
    li.append(document.createTextNode(parts.length ? ": " + parts.join("; ") : ""));
    findings.append(li);
  }
  $("#scheme-name").textContent = scheme;
  const grades = $("#grades tbody");
  grades.replaceChildren();
  const mine = doc.grades.filter((g) => g.scheme === scheme);
  if (!mine.length) {
    const tr = el("tr");
    const td = el("td", "No term of this scheme applies to the values given.");
    td.colSpan = 4;
    tr.append(td);
    grades.append(tr);
  }
  for (const g of mine) {
    const tr = el("tr");
    const grade = g.grade === null ? "not gradable" : `${g.grade}${g.label ? " (" + g.label + ")" : ""}`;
    tr.append(el("td", g.term), el("td", fmt(g.value)), el("td", grade), el("td", fmt(g.reason || g.action)));
    grades.append(tr);
  }
  const values = $("#values tbody");
  values.replaceChildren();
  for (const v of Object.values(doc.values)) {
    const tr = el("tr");
    const range = v.lln === null && v.uln === null ? "none" : `${fmt(v.lln)}–${fmt(v.uln)} ${v.unit} (${fmt(v.range_origin)})`;
    tr.append(el("th", v.analyte), el("td", `${v.value} ${v.unit}`), el("td", v.method), el("td", range),
      el("td", fmt(v.range_source)));
    tr.firstChild.scope = "row";
    values.append(tr);
  }
  const notes = $("#notes");
  notes.replaceChildren();
  for (const [title, list] of [["Warnings", doc.warnings], ["Not assessed", doc.not_assessed]]) {
    if (!list.length) continue;
    notes.append(el("h3", title));
    const ul = el("ul");
    for (const n of list) ul.append(el("li", n.message));
    notes.append(ul);
  }
  $("#explanation").innerHTML = doc.explanation_html || "";
  reveal("#result");
}

// Show a result region and move the focus there, so keyboard and screen-reader users land on the answer.
function reveal(sel) {
  const region = $(sel);
  region.hidden = false;
  region.focus();
}

// Send a form's request: a problem is shown by the form (and its field marked), an answer is rendered.
async function submit(event, errorSel, path, body, render) {
  event.preventDefault();
  const form = event.target;
  const box = $(errorSel);
  box.hidden = true;
  clearErrors(form);
  const { ok, doc } = await post(path, await body());
  if (ok) render(doc);
  else showProblem(box, doc, form);
}

function renderCourse(doc) {
  const img = $("#chart");
  const patient = doc.patients[0];
  if (doc.chart_svg) {
    const bytes = new TextEncoder().encode(doc.chart_svg);
    let binary = "";
    for (const b of bytes) binary += String.fromCharCode(b);
    img.src = "data:image/svg+xml;base64," + btoa(binary);
    img.alt = `Chart of neutrophil (ANC) and white-cell (WBC) counts over time for patient ${patient.patient_id}; ` +
      "the course and episodes are listed below.";
  }
  const courses = $("#courses");
  courses.replaceChildren();
  for (const c of Object.values(patient.courses)) courses.append(el("li", `${c.line}: ${c.label}. ${c.reason}`));
  courses.append(el("li", `cyclic: ${patient.cyclic.verdict}. ${patient.cyclic.reason}`));
  const episodes = $("#episodes");
  episodes.replaceChildren();
  if (!patient.episodes.length) episodes.append(el("li", "No episode of low counts."));
  for (const e of patient.episodes) {
    const end = e.end ? e.end.slice(0, 10) : e.ongoing ? "ongoing" : "unknown";
    episodes.append(el("li", `${e.line} #${e.episode}: ${e.start.slice(0, 10)} to ${end}, nadir ${e.nadir} on ` +
      `${e.nadir_at.slice(0, 10)}, worst grade ${e.worst_grade === null ? "-" : e.worst_grade}`));
  }
  reveal("#trend-result");
}

async function seriesBody() {
  const file = $("#series-file").files[0];
  const csv = file ? await file.text() : $("#series").value;
  const body = { csv: csv, scheme: $("#scheme").value, chart: true };
  const patient = $("#series-patient").value.trim();
  if (patient) body.patient_id = patient;
  return body;
}

function fillExample() {
  $("#v-wbc").value = "2.1";
  $("#v-anc").value = "0.4";
  $("#age_years").value = "56";
  $("#temperature").value = "38.6";
}

function fillSeriesExample() {
  const rows = ["patient_id,taken_at,anc,wbc"];
  const anc = [3.1, 2.4, 0.9, 0.3, 0.2, 0.6, 1.4, 2.2, 2.9, 3.3];
  anc.forEach((a, i) => {
    const day = new Date(Date.UTC(2024, 0, 1 + 4 * i)).toISOString().slice(0, 10);
    rows.push(`P1,${day},${a},${(a * 1.6 + 1.2).toFixed(1)}`);
  });
  $("#series").value = rows.join("\n") + "\n";
}

document.addEventListener("DOMContentLoaded", () => {
  $("#cbc-form").addEventListener("submit", (e) => submit(e, "#form-error", "/assess", cbcBody, renderAssessment));
  $("#series-form").addEventListener("submit", (e) => submit(e, "#series-error", "/follow", seriesBody, renderCourse));
  $("#example").addEventListener("click", fillExample);
  $("#series-example").addEventListener("click", fillSeriesExample);
  $("#print").addEventListener("click", () => window.print());
});
