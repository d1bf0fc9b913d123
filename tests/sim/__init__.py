"""A simulated Twilio caller for end-to-end tests and latency benchmarks."""
