"""No user-provided string reaches an HTML or markdown output unescaped, and no typed reason
can pass for a record.

One platform is trained for the module with `modelops run` on a spec whose free text is
markup (a tag with an event handler, a `javascript:` link, a line opening a heading, a `|`
breaking a table, `</script>`) and whose data holds category values that are script tags
(three categories of the German credit data renamed one to one, so the model, its gates and
its release are those of the real data). Every output is then parsed, not searched for a
substring: the HTML with `html.parser`, the markdown rendered by a renderer that passes raw
HTML through (the worst a viewer could do), so a value that was not escaped shows as an
element, an event-handler attribute or a link.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import polars as pl
import pytest
import yaml

from modelops.names import CARD, DRIFT
from modelops.settings import Settings
from support import GERMAN_DATA, GERMAN_SPEC, make_settings
from support.platform_cli import cli

UC = "markup_probe"
SCRIPT = "<script>alert(1)</script>"
CLOSER = "</script><script>alert(2)</script>"
IMAGE = "<img src=x onerror=alert(3)>"
RENAMED = {"radio/television": SCRIPT, "furniture/equipment": CLOSER, "others": IMAGE}
MARKUP = (
    "<img src=x onerror=alert('description')>\n\n# Not a heading\n\n"
    "[click](javascript:alert('link')) | breaks | a table\n\n</script><script>alert(4)</script>"
)
FORGED = "ok\n    2026-01-01T00:00:00  promotion v9 (previous 1) by ceo@bank.example: approved"
ACTIVE_ELEMENTS = {"script", "img", "iframe", "svg", "a", "object", "embed", "b"}
"""Elements none of the user's text may become. The platform's markdown makes only links and
images of its own, to its own servers (the report server, MLflow): `PLATFORM_ADDRESS`."""
PLATFORM_ADDRESS = "http://127.0.0.1:"
EMBEDDED_PLOT = "data:image/png;base64,"
"""The platform's plots are embedded in its markdown as PNG images (`defs/plot_metadata.py`)."""
STRUCTURE = {"h1", "h2", "h3", "h4", "h5", "h6", "td", "th"}
"""Elements the platform's own markdown makes, which user text must not open."""


@dataclass
class Parsed(HTMLParser):
    """What a browser would make of a page: its elements, event handlers, script bodies, and
    the text each heading or table cell holds."""

    elements: list[str] = field(default_factory=list)
    links: list[tuple[str, str]] = field(default_factory=list)
    handlers: list[tuple[str, str]] = field(default_factory=list)
    scripts: list[str] = field(default_factory=list)
    structure_text: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self._open: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append(tag)
        self.links += [(tag, v or "") for k, v in attrs if k in ("href", "src")]
        self.handlers += [(tag, k) for k, v in attrs if k.startswith("on")]
        self.handlers += [
            (tag, k) for k, v in attrs if (v or "").strip().lower().startswith("javascript:")
        ]
        if tag == "script":
            self.scripts.append("")
        self._open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in self._open:
            del self._open[len(self._open) - 1 - self._open[::-1].index(tag) :]

    def handle_data(self, data: str) -> None:
        if "script" in self._open:
            self.scripts[-1] += data
        if STRUCTURE & set(self._open):
            self.structure_text.append(data)


def parse(html: str) -> Parsed:
    parsed = Parsed()
    parsed.feed(html)
    parsed.close()
    return parsed


def render_markdown(markdown: str) -> Parsed:
    """Markdown as a permissive viewer renders it: raw HTML passed through, links made."""
    from markdown_it import MarkdownIt

    return parse(MarkdownIt("commonmark", {"html": True}).enable("table").render(markdown))


def assert_inert(page: Parsed) -> None:
    """No user text became an element, a handler or a link, a heading or a table cell: the
    only links and images are the platform's own, to its own servers."""
    own = [
        (tag, target)
        for tag, target in page.links
        if target.startswith(PLATFORM_ADDRESS) or (tag, target[:22]) == ("img", EMBEDDED_PLOT)
    ]
    made = list(page.elements)
    for tag, _ in own:
        made.remove(tag)
    assert not ACTIVE_ELEMENTS & set(made), (made, page.links)
    assert not page.handlers
    assert not [t for t in page.structure_text if "Not a heading" in t or "breaks" in t]


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    root = tmp_path_factory.mktemp("markup")
    data = root / "markup.csv"
    pl.read_csv(GERMAN_DATA).with_columns(pl.col("purpose").replace(RENAMED)).write_csv(data)
    spec = yaml.safe_load(GERMAN_SPEC.read_text())
    spec |= {"id": UC, "description": MARKUP}
    spec["source"] |= {"path": str(data), "attribution": f"{IMAGE} [x](javascript:alert(5))"}
    for column in spec["schema"]["columns"]:
        if column["name"] == "purpose":
            column["allowed"] = [RENAMED.get(v, v) for v in column["allowed"]]
            column["description"] = MARKUP
    spec["target"]["description"] = "<b onmouseover=alert(6)>bad</b>"
    documentation = spec["documentation"]
    documentation["intended_use"] = MARKUP
    documentation["caveats"].append(IMAGE)
    documentation["out_of_scope_uses"].append("| a | b |\n|---|---|\n| <script>x</script> | y |")
    documentation["ethical_considerations"].append("[x](javascript:alert(7))")
    (root / "specs").mkdir()
    (root / "specs" / f"{UC}.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    settings = make_settings(root, root / "specs")
    run = cli(settings, "run", env={"MODELOPS_ACTOR": "trainer@bank.example"})
    assert run.code == 0, run.printed
    approval = cli(
        settings, "approve", "-u", UC, "--by", "val@bank.example", "--role", "model_validator",
        "--reason", FORGED,
    )  # fmt: skip
    assert approval.code == 0, approval.printed
    return settings


def _files(settings: Settings, asset: str, name: str) -> list[Path]:
    """Every version of an output file, the latest last."""
    files = sorted((settings.data_dir / UC / asset).glob(f"*/{name}"), key=_written)
    assert files, f"no {name} written"
    return files


def _written(file: Path) -> int:
    return file.stat().st_mtime_ns


def test_category_values_cannot_close_the_drift_reports_inline_script(platform: Settings):
    for report in _files(platform, DRIFT, "drift.html"):
        page = parse(report.read_text())
        scripts = " ".join(page.scripts)
        # The values are in the report's data, escaped: a raw one would have ended the
        # block, leaving `alert(..)` as a script of its own or as page text.
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in scripts
        assert "&lt;/script&gt;&lt;script&gt;alert(2)" in scripts
        assert not [s for s in page.scripts if re.match(r"\s*alert\(", s)]
        assert not [value for value in RENAMED.values() if value in scripts]
        assert not page.handlers
        assert "img" not in page.elements


def test_the_model_card_renders_user_text_as_text(platform: Settings):
    for card in _files(platform, CARD, "model_card.html"):
        page = parse(card.read_text())
        assert_inert(page)
        assert {"h1", "h2", "td"} <= set(page.elements)  # the card's own structure renders
    markdown = _files(platform, CARD, "model_card.md")[-1].read_text()
    assert "Not a heading" in markdown
    assert_inert(render_markdown(markdown))


def test_the_registry_description_and_dagster_metadata_are_inert(platform: Settings):
    import dagster as dg
    from mlflow import MlflowClient

    from modelops.instance import local_instance

    client = MlflowClient(platform.mlflow_tracking_uri, registry_uri=platform.mlflow_tracking_uri)
    description = client.get_model_version(UC, "1").description
    # A summary linking the full card (which holds the hostile spec text, checked above).
    assert f"{UC} version 1" in description and "/artifactPath/model_card/" in description
    assert_inert(render_markdown(description))
    instance = local_instance(platform.dagster_home)
    try:
        checked = 0
        for asset in instance.get_asset_keys():
            event = instance.get_latest_materialization_event(asset)
            metadata = event.asset_materialization.metadata if event else {}
            for value in metadata.values():
                if isinstance(value, dg.MarkdownMetadataValue):
                    assert_inert(render_markdown(value.md_str))
                    checked += 1
    finally:
        instance.dispose()
    assert checked >= 3


def test_a_forged_reason_cannot_pass_for_a_history_line(platform: Settings):
    status = cli(platform, "status", "-u", UC).out
    shown = cli(platform, "audit", "show", "-u", UC).out
    for output in (status, shown):
        # Shown (on the approval's or the promotion's line), but quoted, its newline escaped:
        # no line of its own.
        forged = [line for line in output.splitlines() if "promotion v9" in line]
        assert forged
        assert all("'ok\\n    2026-01-01T00:00:00" in line for line in forged)
        assert not [line for line in output.splitlines() if line.strip().startswith("2026-01-01")]
    card = _files(platform, CARD, "model_card.md")
    approvals = [line for line in card[-1].read_text().splitlines() if "promotion v9" in line]
    assert len(approvals) == 1 and approvals[0].startswith("- ")
    assert "'ok\\\\n" in approvals[0]  # the escaped newline, its backslash escaped for markdown
