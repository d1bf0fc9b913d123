"""The HTTP surface: health, readiness, metrics and the Twilio voice webhook."""

from __future__ import annotations

import asyncio
import threading
import xml.etree.ElementTree as ET
from typing import Any

import httpx
import msgspec
import pytest
import websockets

from gateway.engines import Engines
from gateway.scheduling import Job
from gateway.settings import Settings
from gateway.twilio import signature, stream_token
from tests.conftest import running_gateway, with_changes


async def test_health_ready_metrics_and_twiml(settings: Settings, gateway_server: Any) -> None:
    async with gateway_server(settings) as server, httpx.AsyncClient() as client:
        base = f"http://{server.host}"
        assert (await client.get(f"{base}/healthz")).json() == {"status": "ok"}
        ready = await client.get(f"{base}/readyz")
        assert ready.status_code == 200
        assert any(line.startswith("stt: whisper-base on") for line in ready.json()["models"])
        metrics = await client.get(f"{base}/metrics")
        assert metrics.status_code == 200 and "voicegw_calls_total" in metrics.text
        webhook = await client.post(
            f"{base}/twilio/voice",
            data={"CallSid": "CA1", "From": "+15550001"},
            headers={"Host": "gw.example.com"},
        )
        assert webhook.status_code == 200
        assert webhook.headers["content-type"].startswith("application/xml")
        stream = ET.fromstring(webhook.text).find("./Connect/Stream")
        assert stream is not None and stream.get("url") == "wss://gw.example.com/twilio/media"


async def test_public_url_drives_the_stream_url(settings: Settings, gateway_server: Any) -> None:
    configured = with_changes(settings, server={"public_url": "https://voice.example.org"})
    async with gateway_server(configured) as server, httpx.AsyncClient() as client:
        webhook = await client.post(f"http://{server.host}/twilio/voice")
        assert 'url="wss://voice.example.org/twilio/media"' in webhook.text


async def test_not_ready_until_models_load(settings: Settings) -> None:
    """Without engines handed in, the app loads them itself and says 503 meanwhile."""
    broken = with_changes(settings, llm={"model": "/nonexistent/model.gguf"})
    async with running_gateway(broken, engines=None) as server, httpx.AsyncClient() as client:
        ready = await client.get(f"http://{server.host}/readyz")
        assert ready.status_code == 503
        assert (await client.get(f"http://{server.host}/healthz")).status_code == 200
        async with websockets.connect(server.media_url) as socket:
            await asyncio.wait_for(socket.wait_closed(), timeout=5)
            assert socket.close_code == 1013


async def test_signatures_are_enforced_when_a_token_is_set(
    settings: Settings, gateway_server: Any, monkeypatch: Any
) -> None:
    monkeypatch.setenv("VOICEGW_TEST_AUTH_TOKEN", "12345")
    configured = with_changes(settings, twilio={"auth_token_env": "VOICEGW_TEST_AUTH_TOKEN"})
    params = {"CallSid": "CA1", "From": "+15550001"}
    async with gateway_server(configured) as server, httpx.AsyncClient() as client:
        url = f"http://{server.host}/twilio/voice"
        assert (await client.post(url, data=params)).status_code == 403
        forged = {"X-Twilio-Signature": signature.compute("wrong", url, params)}
        assert (await client.post(url, data=params, headers=forged)).status_code == 403
        signed = {"X-Twilio-Signature": signature.compute("12345", url, params)}
        assert (await client.post(url, data=params, headers=signed)).status_code == 200

        with pytest.raises(websockets.InvalidStatus) as refused:
            async with websockets.connect(server.media_url):
                pass
        assert refused.value.response.status_code == 403
        stream = f"wss://{server.host}/twilio/media"
        header = {"X-Twilio-Signature": signature.compute("12345", stream)}
        async with websockets.connect(server.media_url, additional_headers=header) as socket:
            await socket.send('{"event":"connected","protocol":"Call","version":"1.0.0"}')
        text = (await client.get(f"http://{server.host}/metrics")).text
        assert 'voicegw_bad_messages_total{problem="bad_signature"} 3.0' in text


async def test_a_non_ascii_signature_is_forbidden_not_a_server_error(
    settings: Settings, gateway_server: Any, monkeypatch: Any
) -> None:
    """``hmac.compare_digest`` raises on non-ASCII text: that was a 500 and a traceback for an
    unauthenticated request."""
    monkeypatch.setenv("VOICEGW_TEST_AUTH_TOKEN", "12345")
    configured = with_changes(settings, twilio={"auth_token_env": "VOICEGW_TEST_AUTH_TOKEN"})
    async with gateway_server(configured) as server, httpx.AsyncClient() as client:
        url = f"http://{server.host}/twilio/voice"
        odd = {"X-Twilio-Signature": "é0/KCTR6DLpKmkAf8muzZqo1nDg=".encode()}
        assert (await client.post(url, data={"CallSid": "CA1"}, headers=odd)).status_code == 403
        with pytest.raises(websockets.InvalidStatus) as refused:
            header = {"X-Twilio-Signature": "ÿ" * 28}  # sent as ISO-8859-1 bytes
            async with websockets.connect(server.media_url, additional_headers=header):
                pass
        assert refused.value.response.status_code == 403
        text = (await client.get(f"http://{server.host}/metrics")).text
        assert 'voicegw_bad_messages_total{problem="bad_signature"} 2.0' in text


async def test_a_model_step_that_hangs_makes_the_gateway_unready(
    engines: Engines, settings: Settings, gateway_server: Any
) -> None:
    configured = with_changes(settings, call={"stage_timeout_ms": 100})
    gate = engines.gates[0]
    holding, release = threading.Event(), threading.Event()

    def hung_step() -> None:
        with gate.step(Job(call_id="hung"), "llm"):
            holding.set()
            release.wait(30)

    async with gateway_server(configured) as server, httpx.AsyncClient() as client:
        url = f"http://{server.host}/readyz"
        assert (await client.get(url)).status_code == 200
        worker = threading.Thread(target=hung_step)
        worker.start()
        try:
            assert await asyncio.to_thread(holding.wait, 10)
            async with asyncio.timeout(10):  # until the step has held the device for 100 ms
                while (ready := await client.get(url)).status_code == 200:
                    pass
        finally:
            release.set()
            await asyncio.to_thread(worker.join, 10)
        assert ready.status_code == 503
        assert ready.json()["status"] == "engine_stuck"
        assert ready.json()["reason"].startswith(f"{gate.name}: one model step has held")
        assert (await client.get(url)).status_code == 200, "ready again once it lets go"


def start_frame(call_sid: str, token: str) -> str:
    start = {
        "event": "start",
        "sequenceNumber": "1",
        "streamSid": "MZ" + call_sid[2:],
        "start": {
            "accountSid": "AC" + "0" * 32,
            "streamSid": "MZ" + call_sid[2:],
            "callSid": call_sid,
            "tracks": ["inbound"],
            "customParameters": {stream_token.PARAMETER: token} if token else {},
            "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
        },
    }
    return msgspec.json.encode(start).decode()


async def test_each_media_socket_needs_its_calls_token_from_the_webhook_once(
    settings: Settings, gateway_server: Any, monkeypatch: Any
) -> None:
    """The socket signature is the same for every call: the webhook's token binds the socket to
    one call, once. A replayed token, or none, is refused (1008) and counted."""
    monkeypatch.setenv("VOICEGW_TEST_AUTH_TOKEN", "12345")
    configured = with_changes(settings, twilio={"auth_token_env": "VOICEGW_TEST_AUTH_TOKEN"})
    call_sid = "CA" + "12" * 16
    params = {"CallSid": call_sid}
    async with gateway_server(configured) as server, httpx.AsyncClient() as client:
        url = f"http://{server.host}/twilio/voice"
        signed = {"X-Twilio-Signature": signature.compute("12345", url, params)}
        twiml = ET.fromstring((await client.post(url, data=params, headers=signed)).text)
        parameter = twiml.find(f"./Connect/Stream/Parameter[@name='{stream_token.PARAMETER}']")
        assert parameter is not None
        token = parameter.get("value", "")
        stream = f"wss://{server.host}/twilio/media"
        header = {"X-Twilio-Signature": signature.compute("12345", stream)}

        async def open_stream(token: str) -> websockets.ClientConnection:
            socket = await websockets.connect(server.media_url, additional_headers=header)
            await socket.send('{"event":"connected","protocol":"Call","version":"1.0.0"}')
            await socket.send(start_frame(call_sid, token))
            return socket

        first = await open_stream(token)
        greeting = msgspec.json.decode(await asyncio.wait_for(first.recv(), timeout=30))
        assert greeting["event"] == "media", "the call with its token is served"
        for replay in (token, ""):
            socket = await open_stream(replay)
            await asyncio.wait_for(socket.wait_closed(), timeout=10)
            assert socket.close_code == 1008, replay
        await first.close()
        text = (await client.get(f"http://{server.host}/metrics")).text
        assert 'voicegw_bad_messages_total{problem="bad_token"} 2.0' in text
