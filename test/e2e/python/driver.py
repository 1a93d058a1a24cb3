"""Drives the official Python `anthropic` SDK for the end-to-end tests.

A test fixture, never product code. test/support/python-sdk.ts starts one of
these per test file and sends it commands, one JSON object per line on stdin:

    {"id": 1, "op": "create", "client": {"api_key": "..."}, "args": {...}}

and reads one JSON line per command on stdout:

    {"id": 1, "ok": true, "result": ..., "sent": [...]}
    {"id": 1, "ok": false, "error": {"class": "NotFoundError", ...}, "sent": [...]}

`sent` lists every HTTP request the SDK made for the command (method, URL,
SHA-256 of the exact body bytes, credential headers present), recorded by an
httpx event hook, so a test can prove the upstream received those bytes.
Only the SDK's public API is used: what a user's program would do.
"""

import hashlib
import json
import os
import sys
import traceback

import anthropic

BASE_URL = os.environ["GATEWAY_BASE_URL"]


def make_client(options, sent):
    def record(request):
        body = request.read()
        sent.append(
            {
                "method": request.method,
                "url": str(request.url),
                "sha256": hashlib.sha256(body).hexdigest(),
                "length": len(body),
                "x_api_key": "x-api-key" in request.headers,
                "authorization": request.headers.get("authorization", "").split(" ")[0] or None,
                "anthropic_version": request.headers.get("anthropic-version"),
                "anthropic_beta": request.headers.get("anthropic-beta"),
            }
        )

    http_client = anthropic.DefaultHttpxClient(event_hooks={"request": [record]})
    kwargs = {"base_url": BASE_URL, "max_retries": 0, "http_client": http_client}
    if "auth_token" in options:
        kwargs["auth_token"] = options["auth_token"]
        kwargs["api_key"] = None
    else:
        kwargs["api_key"] = options["api_key"]
    return anthropic.Anthropic(**kwargs)


def dump(model):
    return model.model_dump(mode="json", exclude_unset=True)


def op_create(client, args):
    return dump(client.messages.create(**args))


def op_beta_create(client, args):
    """client.beta.messages.create: `betas` become the anthropic-beta header."""
    return dump(client.beta.messages.create(**args))


def op_create_stream(client, args):
    """messages.create(stream=True): the raw server-sent events, in order."""
    with client.messages.create(**args, stream=True) as stream:
        return [dump(event) for event in stream]


def op_stream_text(client, args):
    """messages.stream with its helpers: the text stream, then the final message."""
    with client.messages.stream(**args) as stream:
        texts = list(stream.text_stream)
        final = stream.get_final_message()
    return {"texts": texts, "final": dump(final)}


def op_stream_events(client, args):
    """messages.stream's accumulated events (text, thinking, signature, …) and the final message."""
    with client.messages.stream(**args) as stream:
        events = []
        for event in stream:
            entry = {"type": event.type}
            if event.type in ("text", "thinking"):
                entry["delta"] = getattr(event, event.type)
            elif event.type == "signature":
                entry["signature"] = event.signature
            events.append(entry)
        final = stream.get_final_message()
    return {"events": events, "final": dump(final)}


def op_count_tokens(client, args):
    return dump(client.messages.count_tokens(**args))


def op_models_list(client, args):
    """models.list: the first page as returned, then every id through auto-pagination."""
    page = client.models.list(**args)
    first = {
        "data": [dump(model) for model in page.data],
        "has_more": page.has_more,
        "first_id": page.first_id,
        "last_id": page.last_id,
    }
    return {"first_page": first, "all_ids": [model.id for model in page]}


def op_models_retrieve(client, args):
    return dump(client.models.retrieve(args["model_id"]))


def op_batches_list(client, args):
    return [dump(batch) for batch in client.messages.batches.list(**args)]


def op_version(client, args):
    return {"anthropic": anthropic.__version__, "python": sys.version.split()[0]}


OPS = {
    "create": op_create,
    "beta_create": op_beta_create,
    "create_stream": op_create_stream,
    "stream_text": op_stream_text,
    "stream_events": op_stream_events,
    "count_tokens": op_count_tokens,
    "models_list": op_models_list,
    "models_retrieve": op_models_retrieve,
    "batches_list": op_batches_list,
    "version": op_version,
}


def describe_error(error):
    described = {"class": type(error).__name__, "message": str(error)}
    if isinstance(error, anthropic.APIStatusError):
        described.update(
            {
                "status_code": error.status_code,
                "request_id": error.request_id,
                "type": error.type,
                "api_message": error.api_message,
                "body": error.body,
            }
        )
    return described


def run(command):
    sent = []
    client = make_client(command.get("client", {}), sent)
    try:
        result = OPS[command["op"]](client, command.get("args", {}))
        return {"id": command["id"], "ok": True, "result": result, "sent": sent}
    except anthropic.AnthropicError as error:
        return {"id": command["id"], "ok": False, "error": describe_error(error), "sent": sent}
    finally:
        client.close()


def main():
    for line in sys.stdin:
        command = json.loads(line)
        try:
            reply = run(command)
        except Exception:  # a bug in this driver or the test: report it, keep serving
            reply = {"id": command.get("id"), "ok": False, "crash": traceback.format_exc()}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
