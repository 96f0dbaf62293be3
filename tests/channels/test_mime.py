"""Our MIME bytes read back with Python's email package."""

import email
from email import policy

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from apps.channels.providers import mime


def parse(data: bytes):
    """As a mailbox stores it: SMTP's CRLF line ends become LF."""
    return email.message_from_bytes(data.replace(b"\r\n", b"\n"), policy=policy.default)


def test_a_multipart_email_reads_back_with_every_header_and_both_parts():
    data = mime.build(from_name="Zoë & Søren, Reisen", from_email="news@travel.test", to="anna@example.test",
                      subject="Ihre Reise nach Zürich — 20 % Rabatt 🏔", text="Hallo Anna,\nbis bald.",
                      html="<p>Hallo <b>Anna</b>, é ü 🏔</p>", message_id="<1.2.abc@travel.test>",
                      reply_to="help@travel.test", headers={"List-Unsubscribe": "<https://t.test/u/1>"})
    message = parse(data)
    assert message["Subject"] == "Ihre Reise nach Zürich — 20 % Rabatt 🏔"
    assert message["From"].addresses[0].display_name == "Zoë & Søren, Reisen"
    assert message["From"].addresses[0].addr_spec == "news@travel.test"
    assert (message["To"], message["Message-ID"], message["Reply-To"]) == (
        "anna@example.test", "<1.2.abc@travel.test>", "help@travel.test")
    assert message["List-Unsubscribe"] == "<https://t.test/u/1>"
    assert message["Date"] is not None and message.get_content_type() == "multipart/alternative"
    assert message.get_body(("plain",)).get_content().rstrip("\n") == "Hallo Anna,\nbis bald."
    assert message.get_body(("html",)).get_content().strip() == "<p>Hallo <b>Anna</b>, é ü 🏔</p>"
    assert all(len(line) <= 998 for line in data.split(b"\r\n"))


BASE = {"from_name": "N", "from_email": "a@b.test", "to": "c@d.test", "subject": "Hi", "text": "x", "html": None,
        "message_id": "<1@b.test>", "reply_to": "r@b.test"}


@pytest.mark.parametrize("field,value,header", [
    ("subject", "Hi\r\nBcc: evil@x.test", "Subject"),
    ("subject", "Hi\nBcc: evil@x.test", "Subject"),
    ("subject", "Hi\rBcc: evil@x.test", "Subject"),
    ("subject", "Hi\x00there", "Subject"),
    ("from_name", "News\r\nBcc: evil@x.test", "X-From-Name"),
    ("from_email", "a@b.test\r\nBcc: evil@x.test", "From"),
    ("reply_to", "r@b.test\r\n\r\n<p>new body</p>", "Reply-To"),
    ("to", "c@d.test\nBcc: evil@x.test", "To"),
    ("message_id", "<1@b.test>\nBcc: evil@x.test", "Message-ID"),
])
def test_a_line_break_in_any_header_value_is_refused_at_build_time(field, value, header):
    with pytest.raises(mime.HeaderInjection) as caught:
        mime.build(**{**BASE, field: value})
    assert str(caught.value) == f"the {header!r} header value contains a line break or NUL: refused"


@pytest.mark.parametrize("headers", [
    {"List-Unsubscribe": "<https://x.test/u/1>\r\nBcc: evil@x.test"},
    {"List-Unsubscribe": "<https://x.test/u/1>\x00"},
    {"X-Evil\r\nBcc": "evil@x.test"},
    {"Bad Name": "x"},
    {"Bad:Name": "x"},
])
def test_extra_headers_with_line_breaks_or_bad_names_are_refused(headers):
    with pytest.raises(mime.HeaderInjection):
        mime.build(**BASE, headers=headers)


def test_other_whitespace_in_a_subject_is_folded_to_one_space():
    message = parse(mime.build(**{**BASE, "subject": "Hi\tthere  you"}))
    assert message["Subject"] == "Hi there you"
    assert message["Reply-To"] == "r@b.test"


@settings(max_examples=60, deadline=None)
@given(subject=st.text(min_size=1, max_size=300).filter(lambda s: s.strip() and not mime.LINE_BREAKING.search(s)),
       body=st.text(max_size=2000))
def test_any_subject_and_body_survive_the_round_trip(subject, body):
    message = parse(mime.build(from_name="N", from_email="a@b.test", to="c@d.test", subject=subject, text=body,
                               html="<p>" + body + "</p>", message_id="<1@b.test>"))
    assert message["Subject"] == " ".join(subject.split())
    expected = body.replace("\r\n", "\n").replace("\r", "\n")
    got = message.get_body(("plain",)).get_content()
    assert got.rstrip("\n") == expected.rstrip("\n") or got == expected + "\n"
