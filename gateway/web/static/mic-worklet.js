// The microphone, as the talk socket takes it: 16 kHz 16-bit PCM in 20 ms frames.
//
// Runs on the audio thread. Each output sample is the mean of the input samples in its window
// (a box filter: the gateway's own resampler to 8 kHz does the real anti-aliasing), so any
// context rate of at least 16 kHz works: 48 kHz gives windows of 3, 44.1 kHz of 2 or 3.
class Mic16k extends AudioWorkletProcessor {
  constructor(options) {
    super();
    const { targetRate, frameSamples } = options.processorOptions;
    this.step = sampleRate / targetRate;
    this.frameSamples = frameSamples;
    this.frame = new Int16Array(frameSamples);
    this.filled = 0;
    this.sum = 0;
    this.count = 0;
    this.position = 0;
  }

  process(inputs) {
    const channel = inputs[0] && inputs[0][0];
    if (!channel) return true;
    for (let i = 0; i < channel.length; i++) {
      this.sum += channel[i];
      this.count += 1;
      this.position += 1;
      if (this.position >= this.step) {
        this.position -= this.step;
        this.push(this.sum / this.count);
        this.sum = 0;
        this.count = 0;
      }
    }
    return true;
  }

  push(value) {
    const clipped = Math.max(-1, Math.min(1, value));
    this.frame[this.filled++] = clipped < 0 ? clipped * 0x8000 : clipped * 0x7fff;
    if (this.filled === this.frameSamples) {
      this.port.postMessage(this.frame.buffer, [this.frame.buffer]); // detaches this.frame
      this.frame = new Int16Array(this.frameSamples);
      this.filled = 0;
    }
  }
}

registerProcessor("mic-16k", Mic16k);
