// The talk page: the microphone to /talk, the agent's voice back, each turn drawn live.
import { Player } from "./player.js";
import { drawWaterfall } from "./waterfall.js";

const TARGET_RATE = 16000;
const FRAME_SAMPLES = 320; // 20 ms at 16 kHz

const startButton = document.getElementById("start");
const stopButton = document.getElementById("stop");
const statusLine = document.getElementById("status");
const turnList = document.getElementById("turns");

let call = null;
const stats = { audioFrames: 0, marksEchoed: 0, framesSent: 0 };

function show(text) {
  statusLine.textContent = text;
}

function publishStats() {
  // For whoever inspects the page (and the tests): what arrived, what was echoed.
  for (const [key, value] of Object.entries(stats)) document.body.dataset[key] = String(value);
}

class TurnCards {
  constructor(list) {
    this.list = list;
    this.cards = new Map();
    this.live = new Map();
    this.animating = false;
  }

  card(key) {
    let card = this.cards.get(key);
    if (card) return card;
    const item = document.createElement("li");
    item.className = "turn";
    item.dataset.label = key;
    const heading = document.createElement("div");
    heading.className = "turn-heading";
    const caller = document.createElement("p");
    caller.className = "caller";
    const agent = document.createElement("p");
    agent.className = "agent";
    const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
    svg.classList.add("waterfall");
    item.append(heading, caller, agent, svg);
    this.list.append(item);
    card = { item, heading, caller, agent, svg };
    this.cards.set(key, card);
    return card;
  }

  update(turn) {
    const key = turn.label || `turn${turn.turn}`;
    const card = this.card(key);
    card.item.dataset.outcome = turn.outcome;
    card.item.dataset.done = String(turn.done);
    const timing = turn.voice_to_voice_ms === null ? "" : ` · first sound ${turn.voice_to_voice_ms} ms`;
    const answer = turn.answer_ms === null ? "" : ` · answer ${turn.answer_ms} ms`;
    card.heading.textContent = `${key} · ${turn.done ? turn.outcome : "in progress"}${timing}${answer}`;
    card.caller.textContent = turn.user_text ? `You: ${turn.user_text}` : "";
    const filler = turn.filler ? `(${turn.filler}) ` : "";
    const heard = turn.heard_text ? ` [heard: ${turn.heard_text}]` : "";
    card.agent.textContent = turn.reply_text ? `Agent: ${filler}${turn.reply_text}${heard}` : "";
    const timed = turn.offsets_ms && Object.values(turn.offsets_ms).some((v) => v !== null);
    const started = turn.starts_ms && Object.values(turn.starts_ms).some((v) => v !== null);
    card.svg.style.display = timed || started ? "" : "none";
    if (!(timed || started)) return;
    if (turn.done || turn.now_ms === null) {
      this.live.delete(key);
      drawWaterfall(card.svg, turn);
    } else {
      this.live.set(key, { turn, svg: card.svg, at: performance.now() });
      this.animate();
    }
  }

  animate() {
    if (this.animating) return;
    this.animating = true;
    const frame = () => {
      for (const { turn, svg, at } of this.live.values()) {
        drawWaterfall(svg, turn, turn.now_ms + (performance.now() - at));
      }
      if (this.live.size) requestAnimationFrame(frame);
      else this.animating = false;
    };
    requestAnimationFrame(frame);
  }
}

const cards = new TurnCards(turnList);

async function start() {
  startButton.disabled = true;
  show("Starting the microphone…");
  const context = new AudioContext();
  await context.resume();
  if (context.sampleRate < TARGET_RATE) throw new Error(`audio runs at ${context.sampleRate} Hz`);
  await context.audioWorklet.addModule("/static/mic-worklet.js");
  const microphone = await navigator.mediaDevices.getUserMedia({
    audio: { channelCount: 1, echoCancellation: true, noiseSuppression: true, autoGainControl: true },
  });
  const source = context.createMediaStreamSource(microphone);
  const capture = new AudioWorkletNode(context, "mic-16k", {
    numberOfOutputs: 1,
    processorOptions: { targetRate: TARGET_RATE, frameSamples: FRAME_SAMPLES },
  });
  const mute = context.createGain();
  mute.gain.value = 0; // the node must be pulled by the graph to run; nothing is heard
  source.connect(capture).connect(mute).connect(context.destination);

  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const socket = new WebSocket(`${scheme}://${location.host}/talk`);
  socket.binaryType = "arraybuffer";
  let player = null;
  const echo = (name) => {
    if (socket.readyState !== WebSocket.OPEN) return;
    socket.send(JSON.stringify({ event: "mark", name }));
    stats.marksEchoed += 1;
    publishStats();
  };
  capture.port.onmessage = (event) => {
    if (socket.readyState !== WebSocket.OPEN) return;
    socket.send(event.data);
    stats.framesSent += 1;
    if (stats.framesSent % 50 === 0) publishStats();
  };
  socket.onmessage = (event) => {
    if (typeof event.data !== "string") {
      if (player) player.enqueue(new Int16Array(event.data));
      stats.audioFrames += 1;
      publishStats();
      return;
    }
    const message = JSON.parse(event.data);
    if (message.event === "start") {
      player = new Player(context, message.sample_rate_hz, echo);
      show(`On a call (${message.call_sid}). Speak now.`);
      document.body.dataset.callSid = message.call_sid;
    } else if (message.event === "mark") {
      player?.mark(message.name);
    } else if (message.event === "clear") {
      player?.clear();
    } else if (message.event === "turn") {
      cards.update(message);
    }
  };
  socket.onclose = (event) => {
    show(`Call ended${event.reason ? `: ${event.reason}` : ""} (${event.code}).`);
    hangUp();
  };
  call = { context, microphone, socket };
  stopButton.disabled = false;
}

function hangUp() {
  if (!call) return;
  const { context, microphone, socket } = call;
  call = null;
  if (socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ event: "stop" }));
  socket.close();
  for (const track of microphone.getTracks()) track.stop();
  context.close();
  startButton.disabled = false;
  stopButton.disabled = true;
}

startButton.addEventListener("click", () =>
  start().catch((error) => {
    show(`Could not start: ${error.message}`);
    hangUp();
    startButton.disabled = false;
  }),
);
stopButton.addEventListener("click", hangUp);
publishStats();
