"""Images uploaded for emails: sniffed, bounded, re-encoded, stored per workspace, served
publicly from an unguessable address through the workspace's own address if set; and the
visual editor's views (save, check, preview, test send to oneself)."""

import io
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from apps.channels import media
from apps.channels.models import ContentTemplate, Delivery, MediaImage

HX = {"HTTP_HX_REQUEST": "true"}
QUERIES = 8  # session, user, workspace and role, the images: not one per image


def url(name, workspace, **kwargs):
    return reverse(name, kwargs={"workspace_slug": workspace.slug, **kwargs})


def image_file(fmt="PNG", size=(40, 30), name="pic.png", **save):
    out = io.BytesIO()
    Image.new("RGB", size, "red").save(out, format=fmt, **save)
    return SimpleUploadedFile(name, out.getvalue(), content_type="image/png")


def test_an_upload_is_re_encoded_stored_and_served_publicly(workspace, mallory, client_for, client):
    # given a PNG with a payload appended after its end
    raw = image_file().read() + b"<script>alert(1)</script>"
    response = client_for(mallory).post(url("media-images", workspace),
                                        {"image": SimpleUploadedFile("x.png", raw, content_type="image/png")})
    assert response.status_code == 201, response.content
    body = response.json()
    image = MediaImage.objects.get(workspace=workspace)
    assert (body["width"], body["height"], body["content_type"]) == (40, 30, "image/png")
    assert body["url"] == f"http://127.0.0.1:8000/m/{image.token}.png" and len(image.token) == 32
    # served without a login, re-encoded: the payload did not survive
    served = client.get(f"/m/{image.token}.png")
    data = b"".join(served.streaming_content)
    assert served.status_code == 200 and served["Content-Type"] == "image/png"
    assert served["X-Content-Type-Options"] == "nosniff" and b"<script>" not in data
    assert Image.open(io.BytesIO(data)).size == (40, 30)
    assert client.get(f"/m/{image.token}.jpg").status_code == 404
    assert client.get("/m/" + "0" * 32 + ".png").status_code == 404


def test_the_public_address_goes_through_the_workspace_address(workspace, mallory):
    workspace.public_url = "https://links.client.test"
    workspace.save()
    image = media.media_upload(workspace=workspace, actor=mallory, upload=image_file("JPEG", (2000, 1000),
                                                                                         name="big.jpg"))
    assert media.public_url(image) == f"https://links.client.test/m/{image.token}.jpg"
    # photos stay JPEG, scaled to twice the email's width
    assert (image.content_type, image.width, image.height) == ("image/jpeg", 1200, 600)


@pytest.mark.parametrize(("upload", "status", "error"), [
    (SimpleUploadedFile("evil.png", b"<svg onload=alert(1)></svg>", content_type="image/png"), 400,
     "The file cannot be read as an image (PNG, JPEG, GIF or WebP)."),
    (SimpleUploadedFile("a.png", b"GIF89a" + b"\0" * 10, content_type="image/png"), 400,
     "The file cannot be read as an image (PNG, JPEG, GIF or WebP)."),
    (SimpleUploadedFile("huge.png", b"\0" * (5 * 1024 * 1024 + 1), content_type="image/png"), 413,
     "The image is 5120 KB: at most 5 MB."),
])
def test_bad_uploads_are_refused_with_the_reason(workspace, mallory, client_for, upload, status, error):
    response = client_for(mallory).post(url("media-images", workspace), {"image": upload})
    assert (response.status_code, response.json()) == (status, {"error": error})
    assert not MediaImage.objects.exists()


def test_other_formats_and_oversized_dimensions_are_refused(workspace, mallory, client_for):
    client = client_for(mallory)
    bmp = client.post(url("media-images", workspace), {"image": image_file("BMP", name="a.bmp")})
    assert (bmp.status_code, bmp.json()) == (400, {"error": "An image is a PNG, JPEG, GIF or WebP file, not BMP."})
    wide = client.post(url("media-images", workspace), {"image": image_file("PNG", (9000, 10))})
    assert wide.status_code == 400 and wide.json() == {
        "error": "The image is 9000x10 pixels: at most 8000 on a side and 25 million pixels."}
    missing = client.post(url("media-images", workspace), {})
    assert missing.status_code == 400
    assert not MediaImage.objects.exists()


def test_a_viewer_and_an_outsider_cannot_upload(workspace, bob, charlie, client_for):
    assert client_for(bob).post(url("media-images", workspace), {"image": image_file()}).status_code == 403
    assert client_for(charlie).post(url("media-images", workspace), {"image": image_file()}).status_code == 404
    assert not MediaImage.objects.exists()


DOC = {"version": 1, "blocks": [{"type": "text", "text": "Hi {{ profile.first_name }}"},
                                {"type": "button", "label": "Book", "href": "https://example.com/book"}]}


def visual_post(doc=DOC, **fields):
    return {"name": "Visual", "channel": "email", "entity_key": "", "page_size": "A4", "subject": "Hello",
            "editor": "visual", "blocks": json.dumps(doc), "html": "<p>not used</p>", **fields}


def test_the_editor_saves_a_visual_template_and_shows_it_back(workspace, travel, mallory, client_for):
    client = client_for(mallory)
    page = client.get(url("tpl-new", workspace)).content.decode()
    assert 'id="email-blocks"' in page and 'name="editor" value="visual"' in page
    assert '<option value="{{ profile.first_name }}">first_name</option>' in page  # the field menu
    assert '<optgroup label="Written for booking"><option value="{{ target.' in page
    response = client.post(url("tpl-new", workspace), visual_post())
    assert response.status_code == 302
    template = ContentTemplate.objects.get(workspace=workspace)
    assert template.content["blocks"] == DOC and "not used" not in template.content["html"]
    assert "Hi {{ profile.first_name }}</p>" in template.content["html"]
    page = client.get(response["Location"]).content.decode()
    assert 'name="editor" value="visual"' in page and "https://example.com/book" in page


def test_a_bad_block_is_refused_with_its_place_and_nothing_is_saved(workspace, travel, mallory, client_for):
    bad = {"blocks": [{"type": "button", "label": "x", "href": "javascript:alert(1)"}]}
    client = client_for(mallory)
    check = client.post(url("tpl-check", workspace), visual_post(bad), **HX).content.decode()
    assert "blocks[0].href: must be an http:// or https:// address, not &#x27;javascript:alert(1)&#x27;" in check
    response = client.post(url("tpl-new", workspace), visual_post(bad))
    assert response.status_code == 422 and "blocks[0].href" in response.content.decode()
    assert not ContentTemplate.objects.exists()


def test_the_preview_renders_the_blocks_for_a_chosen_record(workspace, travel, mallory, client_for):
    response = client_for(mallory).post(url("tpl-preview", workspace), {**visual_post(), "preview-key": "1"},
                                        **HX)
    page = response.content.decode()
    assert response.status_code == 200 and 'id="preview-mobile"' in page
    assert "Hi Anna" in page and 'sandbox=""' in page


def test_a_test_send_goes_to_the_signed_in_person(workspace, travel, mallory, client_for, sink, email_config):
    from apps.channels.models import SenderDomain

    SenderDomain.objects.create(workspace=workspace, domain="example.test", status="verified")
    response = client_for(mallory).post(url("tpl-proof", workspace), {
        **visual_post(from_email="news@example.test"), "proof-self": "1", "proof-addresses": ""}, **HX)
    assert response.status_code == 202, response.content.decode()[:500]
    delivery = Delivery.objects.get(workspace=workspace, proof=True)
    assert list(delivery.messages.values_list("address", flat=True)) == [mallory.email]
    assert "Hi {{ profile.first_name }}</p>" in delivery.content["html"] and "blocks" not in delivery.content


def test_the_switch_to_html_gets_the_blocks_compiled(workspace, mallory, bob, client_for):
    client = client_for(mallory)
    good = client.post(url("tpl-blocks-html", workspace), {"blocks": json.dumps(DOC)})
    assert good.status_code == 200 and "Hi {{ profile.first_name }}</p>" in good.json()["html"]
    bad = client.post(url("tpl-blocks-html", workspace), {"blocks": '{"blocks": [{"type": "image", "src": "x"}]}'})
    assert (bad.status_code, bad.json()) == (400, {"problems": [{
        "field": "blocks", "line": None, "message": "blocks[0].src: must be an http:// or https:// address, not 'x'"}]})
    assert client.post(url("tpl-blocks-html", workspace), {"blocks": "{"}).json() == {"problems": [{
        "field": "blocks", "line": None, "message": "is not a JSON document"}]}
    assert client_for(bob).post(url("tpl-blocks-html", workspace), {"blocks": json.dumps(DOC)}).status_code == 403


def test_the_library_lists_the_workspace_images_only(workspace, other_workspace, mallory, client_for,
                                                     django_assert_num_queries):
    ours = [media.media_upload(workspace=workspace, actor=mallory, upload=image_file(name=f"p{i}.png"))
            for i in range(3)]
    media.media_upload(workspace=other_workspace, actor=None, upload=image_file(name="theirs.png"))
    client = client_for(mallory)
    with django_assert_num_queries(QUERIES):
        listed = client.get(url("media-images", workspace)).json()["images"]
    assert [i["name"] for i in listed] == ["p2.png", "p1.png", "p0.png"]
    assert listed[0]["url"] == f"http://127.0.0.1:8000/m/{ours[2].token}.png"


def test_deleting_images_deletes_their_files(workspace, mallory, client):
    from django.core.files.storage import default_storage

    kept, gone = (media.media_upload(workspace=workspace, actor=mallory, upload=image_file()) for _ in range(2))
    assert media.media_delete(images=MediaImage.objects.filter(pk=gone.pk)) == 1
    assert not default_storage.exists(gone.path) and default_storage.exists(kept.path)
    assert client.get(f"/m/{gone.token}.png").status_code == 404
    assert client.get(f"/m/{kept.token}.png").status_code == 200


def test_deleting_the_workspace_deletes_its_images(workspace, other_workspace, mallory,
                                                   django_capture_on_commit_callbacks):
    from django.core.files.storage import default_storage

    from apps.tenants.lifecycle import workspace_delete

    mine = media.media_upload(workspace=workspace, actor=mallory, upload=image_file())
    theirs = media.media_upload(workspace=other_workspace, actor=None, upload=image_file())
    with django_capture_on_commit_callbacks(execute=True):
        counts = workspace_delete(workspace=workspace)
    assert counts["channels.MediaImage"] == 1 and counts["files"] == 1
    assert not default_storage.exists(mine.path) and default_storage.exists(theirs.path)


def _valid(fmt):
    out = io.BytesIO()
    Image.new("RGB", (16, 16), "blue").save(out, format=fmt)
    return out.getvalue()


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(fmt=st.sampled_from(["PNG", "JPEG", "GIF", "WEBP"]), cut=st.integers(0, 400),
       noise=st.binary(min_size=1, max_size=64), at=st.integers(0, 400))
def test_a_damaged_image_is_refused_with_a_reason_never_a_crash(workspace, mallory, fmt, cut, noise, at):
    from django.core.exceptions import ValidationError

    data = bytearray(_valid(fmt))
    data[at:at + len(noise)] = noise  # overwrite some bytes, possibly the header
    data = bytes(data[:len(data) - cut])
    try:
        image = media.media_upload(workspace=workspace, actor=mallory,
                                   upload=SimpleUploadedFile("x", data, content_type="image/png"))
    except ValidationError as exc:
        assert exc.messages[0].startswith(("The file cannot be read", "An image is a PNG", "The image is"))
    else:
        assert 0 < image.width <= 16 and image.content_type in ("image/png", "image/jpeg")
