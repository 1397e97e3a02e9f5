"""Helpers of the knowledge tests: a small help centre, a counting encoder, a scripted LLM server."""

from __future__ import annotations

import asyncio
import textwrap
import threading
from pathlib import Path

POLICY = """\
refund_window_days: 30
refund_approval_threshold: 200.00
cancellation_fee: 0.00
return_shipping_fee: 0.00
refund_processing_business_days: 5
verification:
  code_ttl_minutes: 5
"""


def write_doc(folder: Path, name: str, body: str, *, id: str | None = None, title: str = "A document",
              status: str = "approved", version: str = "1.0", owner: str = "care", tags: str = "[]",
              effective: str = "2026-01-01", review_by: str = "2099-01-01", extra: str = "") -> Path:
    front = (f"---\nid: {id or Path(name).stem}\ntitle: {title}\nowner: {owner}\nversion: \"{version}\"\n"
             f"effective: {effective}\nreview_by: {review_by}\nstatus: {status}\ntags: {tags}\n{extra}---\n")
    path = folder / name
    path.write_text(front + textwrap.dedent(body).lstrip("\n"), encoding="utf-8")
    return path


HELP_CENTRE = {
    "refunds.md": dict(title="Refund policy", version="1.2", tags="[refunds]", body="""
        # Refund policy

        ## Return window

        You can return items within {{ policy.refund_window_days }} days of delivery. Items must be unworn, with the tags on.

        ## Refund times

        We refund you within {{ policy.refund_processing_business_days }} business days of your return reaching our warehouse. Refunds go back to the original payment method.
        """),
    "delivery.md": dict(title="Delivery options", version="2.0", owner="logistics", tags="[delivery]", body="""
        # Delivery options

        ## Standard delivery

        Standard delivery in the US takes 3-5 business days and costs $6.95.

        ## Express delivery

        Express delivery in the US takes 1-2 business days and costs $19.95.
        """),
    "cancel.md": dict(title="Cancelling an order", version="1.0", tags="[orders]", body="""
        # Cancelling an order

        ## Cancellation fee

        You can cancel an order until it ships. The cancellation fee is ${{ policy.cancellation_fee }}.
        """),
    "cookies.html": dict(title="Cookies", version="1.1", owner="legal", tags="[privacy]", body="""
        <html><head><title>Cookies</title><script>var x = "ignored";</script></head>
        <body>
        <h1>Cookies</h1>
        <h2>Cookie choices</h2>
        <p>Select <b>Cookie settings</b> at the bottom of any page to change your choices.
           We remember your cookie choice for 12 months.</p>
        </body></html>
        """),
    "contact.txt": dict(title="Contact", version="1.0", tags="[contact]", body="""
        Phone
        =====

        Call us on +1 503 555 0142, Monday to Friday 8:00-18:00.
        """),
    "store-credit-draft.md": dict(title="Store credit (proposal)", version="0.1", status="draft", tags="[refunds]", body="""
        # Store credit (proposal)

        ## Zebrawood store credit

        Refunds for zebrawood gear are paid as store credit within 60 days. You can return items within 90 days of delivery.
        """),
}


class CountingEncoder:
    """The real encoder, counting the texts it embeds."""

    def __init__(self, encoder):
        self.inner, self.name, self.dimension = encoder, encoder.name, encoder.dimension
        self.texts: list[str] = []

    def encode(self, texts, batch_size: int = 32, progress=None):
        self.texts.extend(texts)
        return self.inner.encode(texts, batch_size, progress)


# A scripted OpenAI-compatible server ------------------------------------------------------


class FakeLLM:
    """``POST /v1/chat/completions`` on 127.0.0.1: each request gets the next scripted reply
    (text, or ``(seconds, text)`` to answer late) and is kept in ``requests``."""

    def __init__(self):
        self.replies: list = []
        self.requests: list[dict] = []
        self.url = ""
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self):
        from aiohttp import web

        async def completions(request):
            body = await request.json()
            self.requests.append(body)
            reply = self.replies.pop(0) if self.replies else "I don't know."
            if isinstance(reply, tuple):
                await asyncio.sleep(reply[0])
                reply = reply[1]
            return web.json_response({
                "id": "chatcmpl-test", "object": "chat.completion", "created": 0, "model": body.get("model", ""),
                "choices": [{"index": 0, "message": {"role": "assistant", "content": reply}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
            })

        async def start():
            app = web.Application()
            app.router.add_post("/v1/chat/completions", completions)
            self._runner = web.AppRunner(app)
            await self._runner.setup()
            site = web.TCPSite(self._runner, "127.0.0.1", 0)
            await site.start()
            port = site._server.sockets[0].getsockname()[1]
            self.url = f"http://127.0.0.1:{port}/v1"
            self._ready.set()

        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(start())
        self._loop.run_forever()

    def start(self) -> "FakeLLM":
        self._thread.start()
        assert self._ready.wait(10), "the fake LLM server did not start"
        return self

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()
