// The calls page: the newest calls from the records, each turn with its waterfall.
import { drawWaterfall } from "./waterfall.js";

const statusLine = document.getElementById("status");
const callList = document.getElementById("calls");

function element(name, className, text) {
  const made = document.createElement(name);
  if (className) made.className = className;
  if (text !== undefined) made.textContent = text;
  return made;
}

function when(unixSeconds) {
  return unixSeconds ? new Date(unixSeconds * 1000).toLocaleString() : "";
}

function ms(value) {
  return value === null || value === undefined ? "–" : `${value} ms`;
}

function renderTurn(turn) {
  const item = element("li", "turn");
  item.dataset.outcome = turn.outcome;
  const timing = `first sound ${ms(turn.voice_to_voice_ms)} · answer ${ms(turn.answer_ms)}`;
  item.append(element("div", "turn-heading", `turn ${turn.turn} · ${turn.outcome} · ${timing}`));
  if (turn.user_text) item.append(element("p", "caller", `Caller: ${turn.user_text}`));
  const filler = turn.filler ? `(${turn.filler}) ` : "";
  const said = turn.heard_text ? `${turn.heard_text} [cut off]` : turn.reply_text;
  if (said) item.append(element("p", "agent", `Agent: ${filler}${said}`));
  if (Object.values(turn.offsets_ms || {}).some((value) => value !== null)) {
    const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
    svg.classList.add("waterfall");
    item.append(svg);
    drawWaterfall(svg, turn);
  }
  return item;
}

function renderCall({ call, turns }) {
  const item = element("li", "call");
  item.dataset.callSid = call.call_sid;
  const seconds = call.ended_at ? Math.round(call.ended_at - call.started_at) : null;
  const who = [call.from_number, call.to_number].filter(Boolean).join(" → ");
  const summary = element("summary", "call-heading");
  summary.textContent = [
    when(call.started_at),
    call.call_sid,
    who,
    seconds === null ? "in progress" : `${seconds} s`,
    `${call.turns} turn${call.turns === 1 ? "" : "s"}`,
    `median first sound ${ms(call.median_voice_to_voice_ms)}`,
    call.end_reason,
  ]
    .filter(Boolean)
    .join(" · ");
  const details = element("details");
  details.open = true;
  const turnList = element("ol", "turns");
  for (const turn of turns) turnList.append(renderTurn(turn));
  details.append(summary, turnList);
  item.append(details);
  return item;
}

async function load() {
  const response = await fetch("/api/calls?limit=20");
  if (!response.ok) throw new Error(`${response.status} ${response.statusText}`);
  const page = await response.json();
  if (!page.records) {
    statusLine.textContent = "No records are kept (records.path is empty).";
    return;
  }
  statusLine.textContent = page.calls.length ? `The ${page.calls.length} newest calls.` : "No calls yet.";
  callList.replaceChildren(...page.calls.map(renderCall));
}

load().catch((error) => {
  statusLine.textContent = `Could not read the records: ${error.message}`;
});
