"""Make the published OpenAPI schema say what the API answers when things go wrong.

drf-spectacular documents the success responses a view declares. Every operation can
also answer 400 (bad input), 401 (no or bad credentials), 403 (a role too low), 404
(not found, or another workspace's) and 429 (throttled), each with DRF's error body:
one `Error` component for all of them, added where a view did not declare its own."""

from __future__ import annotations

from typing import Any

ERROR_SCHEMA: dict[str, Any] = {
    "description": (
        "DRF's error body. `detail` says what went wrong (401, 403, 404, 429, some 400s); a 400 "
        "about the input names each bad field instead, with its messages (nested for nested "
        "input: `{\"caps\": {\"0\": {\"limit\": [\"...\"]}}}`); a rule's problems come as `problems`."
    ),
    "type": "object",
    "properties": {
        "detail": {"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]},
        "problems": {"type": "array", "items": {"type": "object", "properties": {
            "path": {"type": "string"}, "message": {"type": "string"}}}},
    },
    "additionalProperties": True,
}
# DRF answers a bare list for `raise ValidationError("message")` in a view.
BAD_REQUEST_SCHEMA: dict[str, Any] = {
    "oneOf": [{"$ref": "#/components/schemas/Error"}, {"type": "array", "items": {"type": "string"}}],
}
ERROR_RESPONSES = {
    "400": ("The input is not valid: the body names each bad field and why.", BAD_REQUEST_SCHEMA),
    "401": ("No credentials, or an unknown, revoked or expired API key.", {"$ref": "#/components/schemas/Error"}),
    "403": ("The caller's role in this workspace is too low for this.", {"$ref": "#/components/schemas/Error"}),
    "404": ("No such object in this workspace (or no such workspace for the caller).",
            {"$ref": "#/components/schemas/Error"}),
    "429": ("Too many requests: try again later.", {"$ref": "#/components/schemas/Error"}),
}
METHODS = ("get", "put", "post", "patch", "delete", "head", "options", "trace")


def _widen_declared_bad_request(response: dict[str, Any] | None) -> None:
    """A view that declares its own 400 body (a rule's problems, an import report) still
    answers DRF's field errors when the input does not even parse: either one."""
    if not response:
        return
    for media in (response.get("content") or {}).values():
        declared = media.get("schema")
        if declared and declared is not BAD_REQUEST_SCHEMA:
            media["schema"] = {"anyOf": [declared, BAD_REQUEST_SCHEMA]}
    response["description"] = (response.get("description") or "").rstrip(".") + (
        " (or, for input that is not valid, the fields and why)." if response.get("description") else
        "The input is not valid: the report, or the fields and why.")


def add_error_responses(result: dict[str, Any], generator, request, public) -> dict[str, Any]:
    """drf-spectacular postprocessing hook (POSTPROCESSING_HOOKS)."""
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    for item in result.get("paths", {}).values():
        for method, operation in item.items():
            if method not in METHODS:
                continue
            responses = operation.setdefault("responses", {})
            _widen_declared_bad_request(responses.get("400"))
            for code, response in responses.items():
                # a 4xx declared with a description only (a 409) still has DRF's error body
                if code.startswith("4") and not response.get("content"):
                    response["content"] = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
            for code, (description, schema) in ERROR_RESPONSES.items():
                responses.setdefault(code, {"description": description,
                                            "content": {"application/json": {"schema": schema}}})
    return result
