"""The bench report on disk: charts as PNGs, one HTML file that needs nothing else, the JSON."""

from __future__ import annotations

import io
import json
from html.parser import HTMLParser
from pathlib import Path

from matplotlib.image import imread

from gateway.lab.bench import BenchPlan, BenchRun, Configuration
from gateway.lab.charts import SweepPoint, sweep_png, waterfall_png
from gateway.lab.clip import CallerClip
from gateway.lab.output import summaries, write_report
from gateway.lab.results import UtteranceResult
from gateway.lab.sweep import SweepResult
from gateway.lab.utterances import Spoken, Utterance
from gateway.lab.whole import WholePass
from tests.unit.test_lab_report import result, row


class Links(HTMLParser):
    """Every tag and every attribute that could fetch something (src, href, srcset, ...)."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.links += [v or "" for k, v in attrs if k in {"src", "href", "srcset", "data"}]


def test_charts_are_png_images_of_a_readable_size() -> None:
    offsets = {"endpoint": 300.0, "transcript": 450.0, "first_media": 900.0}
    for png in (
        waterfall_png("shipped", offsets, {"stt": 120.0}, xmax_ms=1200),
        sweep_png(
            [
                SweepPoint("shipped", 1, 800, 900, 900, 1000),
                SweepPoint("shipped", 2, 1100, None, 1200, 1500),
            ]
        ),
    ):
        assert png.startswith(b"\x89PNG")
        height, width, _ = imread(io.BytesIO(png)).shape
        assert 300 < width < 1500 and 100 < height < 1000


def test_the_report_is_one_self_contained_html_file_and_a_json_of_the_same_numbers(
    tmp_path: Path,
) -> None:
    plan = BenchPlan([Configuration("a", None), Configuration("b", Path("b.toml"))],
                     Path("set"), tmp_path, levels=[1])  # fmt: skip
    runs: dict[str, list[UtteranceResult]] = {
        "a": [result("a", "Hello there", [row(2, 500, 700, text="hello there")])],
        "b": [result("b", "Hello there", [row(2, 1000, 1400, text="hello there")])],
    }
    level = SweepResult("a", 1, [result("a", "Hello there", [row(3, 600, 600, text="hello")])])
    spoken = [Spoken(Utterance("a.wav", "Hello there"), CallerClip("Hello there", b""))]
    whole = WholePass("whisper-base on cpu (int8)", {"a.wav": "Hello bear."})
    run = BenchRun(spoken, runs, [level], ["b: a problem worth showing"], whole)
    found = summaries(run)
    written = write_report(plan, run, found)
    assert {"html", "json", "waterfall a", "waterfall b", "sweep"} <= set(written)
    page = written["html"].read_text()
    links = Links()
    links.feed(page)
    assert links.links and all(link.startswith("data:image/png;base64,") for link in links.links)
    assert not {"script", "link", "iframe", "object"} & set(links.tags)
    assert "http://" not in page and "https://" not in page
    assert "1000 ms (x2.00)" in page, "b's first sound p50 and its ratio to a's"
    assert "a problem worth showing" in page
    assert "<td>WER vs whole pass</td><td>50.0 %</td>" in page, "'there' for the pass's 'bear'"
    assert "whisper-base on cpu (int8), WER 50.0 % over 1 utterances" in page
    raw = json.loads(written["json"].read_text())
    (a, b) = raw["configs"]
    assert a["summary"]["first_sound_p50_ms"] == 500 and b["summary"]["answer_p50_ms"] == 1400
    assert b["summary"]["ratios"]["answer p50"] == 2.0
    assert b["utterances"][0]["records"][0]["voice_to_voice_ms"] == 960, "the gateway's own"
    assert raw["sweep"][0]["first_sound_p50_ms"] == 600
    assert a["summary"]["wer"] == 0.0 and a["summary"]["wer_whole_pass"] == 0.5
    assert raw["whole_pass"] == {
        "stt": "whisper-base on cpu (int8)",
        "wer": 0.5,
        "utterances": [{"file": "a.wav", "text": "Hello there", "transcript": "Hello bear."}],
    }
