"""The browser pages the gateway serves: talk to the agent from a microphone, read the calls."""
