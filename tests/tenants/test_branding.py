"""A client's branding: logo, colour and its own address for links; the agency's logo."""

import io
import re
from urllib.parse import urlsplit

import pdfplumber
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from apps.consent import links
from apps.tenants.models import Workspace
from tests.channels.delivery_rows import make_delivery


def _png(size=(800, 400), color=(15, 118, 110), fmt="PNG") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, format=fmt)
    return out.getvalue()


def _settings(client, workspace, **extra):
    data = {"name": workspace.name, "time_zone": workspace.time_zone, "default_language": "en", "sender_name": "",
            "sender_email": "", "reply_to_email": "", "brand_color": "#0f766e",
            "public_url": "https://links.northwind.test", **extra}
    return client.post(f"/w/{workspace.slug}/settings/", data)


def test_an_admin_sets_colour_address_and_a_logo_served_as_our_own_png(client_for, alice, workspace):
    client = client_for(alice)
    response = _settings(client, workspace, brand_logo_upload=SimpleUploadedFile("logo.jpg", _png(fmt="JPEG")))
    assert response.status_code == 302
    workspace.refresh_from_db()
    assert (workspace.brand_color, workspace.public_url) == ("#0f766e", "https://links.northwind.test")
    logo = client.get(f"/brand/w/{workspace.slug}.png")
    assert logo.status_code == 200 and logo["Content-Type"] == "image/png"
    with Image.open(io.BytesIO(b"".join(logo.streaming_content))) as image:
        assert image.format == "PNG" and image.size == (400, 200)  # redrawn to fit 600x200
    assert client.get("/brand/w/nobody.png").status_code == 404
    # and removed again
    _settings(client, workspace, brand_logo_clear="on")
    workspace.refresh_from_db()
    assert not workspace.brand_logo


def test_hostile_uploads_and_values_are_refused_naming_the_field(client_for, alice, workspace):
    client = client_for(alice)
    for name, payload in [("logo.svg", b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'),
                          ("logo.png", b"\x89PNG\r\n\x1a\nnot really"),
                          ("big.png", _png(size=(5000, 4000)))]:
        response = _settings(client, workspace, brand_logo_upload=SimpleUploadedFile(name, payload))
        html = response.content.decode()
        assert response.status_code == 200 and 'id="id_brand_logo_upload_error"' in html, name
    for field, value in [("brand_color", "red;}body{display:none"), ("public_url", "javascript:alert(1)"),
                         ("public_url", "https://links.test/path?x=1"), ("public_url", "https://a.test\r\nX: y")]:
        response = _settings(client, workspace, **{field: value})
        assert response.status_code == 200 and f'id="id_{field}_error"' in response.content.decode(), (field, value)
    workspace.refresh_from_db()
    assert (workspace.brand_color, workspace.public_url, bool(workspace.brand_logo)) == ("", "", False)


def test_links_use_the_clients_own_address_and_its_pages_show_the_brand(client_for, alice, workspace):
    Workspace.objects.filter(pk=workspace.pk).update(public_url="https://links.northwind.test", brand_color="#0f766e")
    workspace.refresh_from_db()
    delivery = make_delivery(workspace, statuses={"queued": 1})
    made = links.link_hook(delivery, {"profile_key": "42"})
    assert made["unsubscribe"].startswith("https://links.northwind.test/u/")
    page = client_for(alice).get(urlsplit(made["unsubscribe"]).path).content.decode()
    assert 'fill="#0f766e"' in page and "Northwind" in page
    from apps.channels import tracking
    assert tracking.tracking_base(delivery) == "https://links.northwind.test"


def test_the_agency_logo_and_the_clients_are_on_the_pdf_report(client_for, alice, workspace):
    from apps.campaigns.models import Campaign

    client = client_for(alice)
    org = workspace.organization
    response = client.post(f"/agency/{org.slug}/logo/", {"logo": SimpleUploadedFile("a.png", _png((300, 100)))})
    assert response.status_code == 302
    org.refresh_from_db()
    assert org.brand_logo and client.get(f"/brand/o/{org.slug}.png").status_code == 200
    _settings(client, workspace, brand_logo_upload=SimpleUploadedFile("w.png", _png((200, 200), (200, 0, 0))))
    campaign = Campaign.objects.create(workspace=workspace, name="Spring")
    pdf = client.get(f"/w/{workspace.slug}/reports/campaigns/{campaign.pk}/report.pdf")
    with pdfplumber.open(io.BytesIO(pdf.content)) as document:
        assert len(document.pages[0].images) == 2
    assert re.search(rb"%PDF", pdf.content)
