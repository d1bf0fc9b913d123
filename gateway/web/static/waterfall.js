// A turn's waterfall: one bar per stage, in ms after the caller stopped speaking.
//
// Offsets say when each stage delivered, starts when the stages that take time began (see
// gateway/web/turns.py). A stage still running in a live turn is drawn to "now", so the bars
// grow while the page watches. Everything is SVG built node by node: text goes in as text.

const SVG = "http://www.w3.org/2000/svg";
const ROW_PX = 22;
const LABEL_PX = 150;
const VALUE_PX = 70;
const WIDTH_PX = 720;
const TOP_PX = 18;

// The rows and names of `voicegw calls show`: a bar from a stage's start to its delivery; the
// two media rows are marks, at the first frame sent and the answer's first frame.
export const ROWS = [
  { stage: "endpoint", label: "endpoint", end: "endpoint", start: () => 0 },
  { stage: "stt", label: "stt", end: "transcript", start: (o, s) => s.stt },
  { stage: "llm", label: "llm first token", end: "first_token", start: (o, s) => s.llm },
  { stage: "clause", label: "llm first clause", end: "first_sentence", start: (o, s) => s.llm },
  { stage: "tts", label: "tts first audio", end: "first_audio", start: (o, s) => s.tts },
  { stage: "first_media", label: "first media", end: "first_media", mark: true },
  { stage: "answer", label: "answer media", end: "first_answer_media", mark: true },
];

function node(name, attributes, text) {
  const element = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) element.setAttribute(key, value);
  if (text !== undefined) element.textContent = text;
  return element;
}

// [{stage, label, start, end, running}] for the stages known so far.
export function spans(turn, nowMs) {
  const offsets = turn.offsets_ms || {};
  const starts = turn.starts_ms || {};
  const result = [];
  for (const row of ROWS) {
    const end = offsets[row.end];
    let start = row.mark ? end : row.start(offsets, starts);
    if (start === null || start === undefined) start = end;
    if (end !== null && end !== undefined) {
      result.push({ ...row, start: Math.min(start, end), end, running: false });
    } else if (!turn.done && nowMs !== null && start !== null && start !== undefined) {
      result.push({ ...row, start, end: Math.max(start, nowMs), running: true });
    } else {
      result.push({ ...row, start: null, end: null, running: false });
    }
  }
  return result;
}

export function drawWaterfall(svg, turn, nowMs = null) {
  const rows = spans(turn, nowMs);
  const known = rows.filter((row) => row.end !== null);
  const lowest = Math.min(0, ...known.map((row) => row.start));
  const highest = Math.max(500, ...known.map((row) => row.end));
  const step = highest - lowest > 2000 ? 500 : 250;
  const from = Math.floor(lowest / step) * step;
  const to = Math.ceil(highest / step) * step;
  const plot = WIDTH_PX - LABEL_PX - VALUE_PX;
  const x = (ms) => LABEL_PX + ((ms - from) / (to - from)) * plot;
  const height = TOP_PX + ROWS.length * ROW_PX + 4;

  svg.replaceChildren();
  svg.setAttribute("viewBox", `0 0 ${WIDTH_PX} ${height}`);
  svg.setAttribute("width", WIDTH_PX);
  svg.setAttribute("height", height);
  for (let ms = from; ms <= to; ms += step) {
    svg.append(node("line", { class: "grid", x1: x(ms), x2: x(ms), y1: TOP_PX - 4, y2: height }));
    svg.append(node("text", { class: "tick", x: x(ms), y: TOP_PX - 7 }, `${ms}`));
  }
  rows.forEach((row, index) => {
    const y = TOP_PX + index * ROW_PX;
    svg.append(node("text", { class: "label", x: LABEL_PX - 8, y: y + 15 }, row.label));
    if (row.end === null) return;
    if (row.mark) {
      // How far from the caller's last word: the voice-to-voice latency, to the mark.
      svg.append(node("line", { class: "reach", x1: x(0), x2: x(row.end), y1: y + 11, y2: y + 11 }));
    }
    const width = row.mark ? 5 : Math.max(2, x(row.end) - x(row.start));
    const bar = node("rect", {
      class: `bar ${row.stage}${row.running ? " running" : ""}`,
      "data-stage": row.stage,
      x: row.mark ? x(row.end) - 2.5 : x(row.start),
      y: y + 3,
      width,
      height: ROW_PX - 6,
      rx: row.mark ? 1 : 3,
    });
    const span = row.mark ? `at ${row.end} ms` : `${row.start} to ${row.end} ms`;
    bar.append(node("title", {}, `${row.label}: ${span}`));
    svg.append(bar);
    const value = row.running ? "…" : row.mark ? `+${row.end} ms` : `${row.end - row.start} ms`;
    svg.append(node("text", { class: "value", x: x(row.end) + 6, y: y + 15 }, value));
  });
  svg.dataset.bars = String(known.length);
}
