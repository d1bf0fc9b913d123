"""voicegw: a self-hosted real-time voice gateway for Twilio Media Streams."""

__version__ = "0.1.0"
