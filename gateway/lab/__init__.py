"""The lab: a person's view of latency without a phone.

``voicegw call`` plays the part of Twilio against a running gateway (:mod:`gateway.lab.call`);
``voicegw bench`` runs a set of recorded utterances through one or more configurations and
writes a report with charts (:mod:`gateway.lab.bench`). The tests and the developer benches use
the same Twilio client (:mod:`gateway.lab.caller`), so what they measure is what a user runs.
"""
