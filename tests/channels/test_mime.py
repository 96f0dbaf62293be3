"""Our MIME bytes read back with Python's email package."""

import email
from email import policy

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


def test_a_newline_in_a_subject_cannot_inject_a_header():
    message = parse(mime.build(from_name="", from_email="a@b.test", to="c@d.test", subject="Hi\r\nBcc: evil@x.test",
                               text="x", html=None, message_id="<1@b.test>"))
    assert message["Bcc"] is None and message["Subject"] == "Hi Bcc: evil@x.test"
    assert message.get_content_type() == "text/plain"


@settings(max_examples=60, deadline=None)
@given(subject=st.text(min_size=1, max_size=300).filter(lambda s: s.strip()),
       body=st.text(max_size=2000))
def test_any_subject_and_body_survive_the_round_trip(subject, body):
    message = parse(mime.build(from_name="N", from_email="a@b.test", to="c@d.test", subject=subject, text=body,
                               html="<p>" + body + "</p>", message_id="<1@b.test>"))
    assert message["Subject"] == " ".join(subject.split())
    expected = body.replace("\r\n", "\n").replace("\r", "\n")
    got = message.get_body(("plain",)).get_content()
    assert got.rstrip("\n") == expected.rstrip("\n") or got == expected + "\n"
