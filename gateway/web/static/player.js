// The agent's voice, played as Twilio plays it to a phone: frames in order, each mark echoed
// once the audio sent before it has played, and `clear` dropping what is queued (the marks
// still pending are echoed at once, as Twilio does), because barge-in and "what the caller
// heard" are measured by those echoes.

const JITTER_S = 0.06; // a reply's first frame waits this long, so the next arrives in time

export class Player {
  constructor(context, sampleRate, echo) {
    this.context = context;
    this.sampleRate = sampleRate;
    this.echo = echo;
    this.playingUntil = 0;
    this.sources = new Set();
    this.marks = [];
    this.timer = null;
  }

  enqueue(samples) {
    const buffer = this.context.createBuffer(1, samples.length, this.sampleRate);
    const channel = buffer.getChannelData(0);
    for (let i = 0; i < samples.length; i++) channel[i] = samples[i] / 32768;
    const source = this.context.createBufferSource();
    source.buffer = buffer;
    source.connect(this.context.destination);
    const now = this.context.currentTime;
    const at = this.playingUntil > now ? this.playingUntil : now + JITTER_S;
    source.start(at);
    this.playingUntil = at + buffer.duration;
    this.sources.add(source);
    source.onended = () => this.sources.delete(source);
  }

  mark(name) {
    this.marks.push({ name, at: Math.max(this.playingUntil, this.context.currentTime) });
    this.schedule();
  }

  clear() {
    for (const source of this.sources) source.stop();
    this.sources.clear();
    this.playingUntil = this.context.currentTime;
    const pending = this.marks;
    this.marks = [];
    for (const mark of pending) this.echo(mark.name);
  }

  schedule() {
    if (this.timer !== null || this.marks.length === 0) return;
    const wait = Math.max(0, this.marks[0].at - this.context.currentTime);
    this.timer = setTimeout(() => {
      this.timer = null;
      const now = this.context.currentTime;
      while (this.marks.length && this.marks[0].at <= now + 0.005) this.echo(this.marks.shift().name);
      this.schedule();
    }, wait * 1000);
  }
}
