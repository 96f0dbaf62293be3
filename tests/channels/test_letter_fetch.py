"""A letter loads nothing but data: URIs and the project's own static files: no file://
path, no http:// address, no attachment, whatever its markup and CSS name."""

import base64
import http.server
import io
import threading
import types

import pdfplumber
import pytest

from apps.channels.providers import Outgoing
from apps.channels.providers.directmail import MAX_PAGES_PER_LETTER, DirectMailProvider
from apps.channels.providers.letterfetch import STATIC_BASE, LetterFetcher, Refused

SVG = ('<svg xmlns="http://www.w3.org/2000/svg" width="300" height="40"><text x="5" y="30" '
       'font-size="20">{}</text></svg>')


class Recorder(http.server.BaseHTTPRequestHandler):
    """Serves a stylesheet and an image that would print a marker; remembers every request."""

    def do_GET(self):  # the http.server API
        self.server.paths.append(self.path)
        body = (SVG.format("HTTPMARKER") if self.path.endswith(".svg")
                else '.dm-body::before { content: "HTTPMARKER" }').encode()
        self.send_response(200)
        self.send_header("Content-Type", "image/svg+xml" if self.path.endswith(".svg") else "text/css")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def http_server():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    server.paths = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def secrets_dir(tmp_path):
    """Files a letter must never read: a stylesheet and an image that print a marker, a text file."""
    (tmp_path / "evil.css").write_text('.dm-body::after { content: "FILEMARKER" }')
    (tmp_path / "evil.svg").write_text(SVG.format("FILEMARKER"))
    (tmp_path / "secret.txt").write_text("FILEMARKER")
    return tmp_path


@pytest.fixture
def own_static(settings, tmp_path):
    """A static asset of the project (its STATICFILES_DIRS): a letterhead image."""
    folder = tmp_path / "static"
    (folder / "img").mkdir(parents=True)
    (folder / "img" / "letterhead.svg").write_text(SVG.format("STATICHEAD"))
    settings.STATICFILES_DIRS = [folder]
    return folder


def render(workspace, html: str, css: str = "") -> bytes:
    delivery = types.SimpleNamespace(workspace_id=workspace.pk, pk=1, content={"css": css})
    provider = DirectMailProvider(delivery, None)
    pdf, _ranges = provider.render([Outgoing(id=1, address="", message_id="m1", fields={"html": html},
                                             context={"profile": {}})])
    return pdf


def text_of(pdf: bytes) -> str:
    with pdfplumber.open(io.BytesIO(pdf)) as document:
        return " ".join(page.extract_text() or "" for page in document.pages)


def test_a_letter_reads_no_file_and_calls_no_server(workspace, secrets_dir, http_server):
    # given a letter whose CSS and markup name local files and a server on loopback
    base = f"http://127.0.0.1:{http_server.server_port}"
    files = secrets_dir.as_uri()
    css = (f'@import url("{files}/evil.css");\n@import url("{base}/evil.css");\n'
           f'.dm-body {{ background: url("{files}/evil.svg"); }}\n'
           f'.dm-recipient {{ background-image: url("{base}/bg.svg"); }}')
    html = (f'<p>Hello</p><img src="{files}/evil.svg"><img src="{base}/img.svg">'
            f'<img src="file:///proc/self/environ"><a rel="attachment" href="{files}/secret.txt">file</a>'
            f'<a rel="attachment" href="{base}/attach.txt">http</a>'
            f'<link rel="attachment" href="{files}/secret.txt">'
            '<a rel="attachment" href="data:text/plain,DATAATTACHMENT">inline</a>'
            f'<p style="background: url(/media/x.csv)">media</p>')

    # when it is laid out
    pdf = render(workspace, html, css)

    # then the PDF has the letter's own text and nothing it named
    text = text_of(pdf)
    assert "Hello" in text
    assert "FILEMARKER" not in text
    assert "HTTPMARKER" not in text
    assert b"FILEMARKER" not in pdf
    assert b"/EmbeddedFile" not in pdf
    assert b"/FileAttachment" not in pdf
    with pdfplumber.open(io.BytesIO(pdf)) as document:
        assert [len(page.images) for page in document.pages] == [0]
    # and the server never heard from the renderer
    assert http_server.paths == []


def test_data_uris_and_the_projects_static_files_still_load(workspace, own_static):
    data_svg = "data:image/svg+xml;base64," + base64.b64encode(SVG.format("DATAIMAGE").encode()).decode()
    css = '.dm-body::before { content: "CSS-" } '
    html = f'<img src="{data_svg}"><img src="/static/img/letterhead.svg"><p>Body</p>'

    text = text_of(render(workspace, html, css))

    assert "DATAIMAGE" in text
    assert "STATICHEAD" in text
    assert "CSS-" in text


def test_the_fetcher_refuses_everything_else(own_static, secrets_dir):
    fetch = LetterFetcher()
    assert fetch(STATIC_BASE + "static/img/letterhead.svg").read() == SVG.format("STATICHEAD").encode()
    assert fetch("data:text/plain,hi%20there").read() == b"hi there"
    for url in (secrets_dir.as_uri() + "/secret.txt", "http://127.0.0.1:1/x.css", "ftp://127.0.0.1/x",
                STATIC_BASE + "static/..%2f..%2fsecret.txt", STATIC_BASE + "static/%2e%2e/secret.txt",
                STATIC_BASE + "media/x.csv", "https://example.com/static/img/letterhead.svg",
                STATIC_BASE + "static/img/missing.svg"):
        with pytest.raises(Refused):
            fetch(url)


def test_a_letter_of_too_many_pages_is_refused(workspace):
    html = "<p style='break-after: page'>x</p>" * (MAX_PAGES_PER_LETTER + 1)
    with pytest.raises(ValueError, match=f"{MAX_PAGES_PER_LETTER + 1} pages for 1 letter"):
        render(workspace, html)
