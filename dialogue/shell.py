"""``desk shell``: talk to the assistant in the terminal, in-process, without a server.

Each line typed is one user message. Bot messages are printed as text; buttons are listed as
numbered choices, and typing a choice's number sends that button's payload. Images and
attachments are printed as their URL, custom payloads as JSON. ``/stop``, an empty line at
end of input (Ctrl-D) or Ctrl-C ends the session.
"""

from __future__ import annotations

import asyncio
import json
import sys
import threading
import uuid
from typing import Any, Callable, Iterable, Mapping, TextIO

from dialogue.channels import outputs, text_parts

STOP = "/stop"
PROMPT = "Your input -> "


def render(messages: Iterable[Mapping[str, Any]]) -> tuple[list[str], list[str]]:
    """The lines to print for a turn's bot messages, and the payloads of the numbered choices."""
    lines: list[str] = []
    payloads: list[str] = []
    for message in messages:
        for out in outputs(message):
            if out.kind == "text":
                lines.extend(text_parts(out.value))
            elif out.kind == "buttons":
                if out.text:
                    lines.append(str(out.text))
                for button in out.value:
                    button = button if isinstance(button, Mapping) else {}
                    payload = button.get("payload", button.get("title"))
                    if payload is None:
                        continue
                    payloads.append(str(payload))
                    lines.append(f"  {len(payloads)}: {button.get('title', payload)}")
            elif out.kind == "image":
                lines.append(f"Image: {out.value}")
            elif out.kind == "attachment":
                lines.append(f"Attachment: {json.dumps(out.value) if not isinstance(out.value, str) else out.value}")
            elif out.kind == "custom":
                lines.append(json.dumps(out.value, ensure_ascii=False))
            elif out.kind == "elements":
                for element in out.value:
                    element = element if isinstance(element, Mapping) else {}
                    lines.append(f"{element.get('title', '')} : {element.get('subtitle', '')}")
    return lines, payloads


async def _read(read_line: Callable[[str], str], prompt: str) -> str:
    """``read_line(prompt)`` in a daemon thread: Ctrl-C never waits for a pending read."""
    loop = asyncio.get_running_loop()
    result: asyncio.Future = loop.create_future()

    def read() -> None:
        try:
            line = read_line(prompt)
        except BaseException as e:  # EOFError, KeyboardInterrupt: handed to the waiting coroutine
            loop.call_soon_threadsafe(lambda error=e: result.done() or result.set_exception(error))
        else:
            loop.call_soon_threadsafe(lambda: result.done() or result.set_result(line))

    threading.Thread(target=read, name="shell-input", daemon=True).start()
    return await result


async def chat(
    assistant: Any,
    sender_id: str | None = None,
    read_line: Callable[[str], str] = input,
    out: TextIO = sys.stdout,
) -> None:
    """Read user messages with ``read_line`` and print the bot's replies until ``/stop`` or end of input."""
    from dialogue.server import make_user_message

    sender_id = sender_id or uuid.uuid4().hex
    choices: list[str] = []
    print(f"Chatting as conversation {sender_id}. Type a message, a choice's number, or {STOP} to end.", file=out)
    while True:
        try:
            line = await _read(read_line, PROMPT)
        except (EOFError, KeyboardInterrupt):
            print(file=out)
            return
        text = line.strip()
        if not text:
            continue
        if text == STOP:
            return
        if text.isdigit() and 1 <= int(text) <= len(choices):
            text = choices[int(text) - 1]
        message = make_user_message(text=text, sender_id=sender_id, input_channel="cmdline")
        lines, choices = render(await assistant.handle_message(message))  # numbers name the latest buttons
        for printed in lines:
            print(printed, file=out)
        out.flush()


def run(assistant: Any, sender_id: str | None = None) -> int:
    """Chat on the terminal until the user stops; closes the assistant."""

    async def session() -> None:
        try:
            await chat(assistant, sender_id)
        finally:
            await assistant.aclose()

    try:
        asyncio.run(session())
    except KeyboardInterrupt:
        print()
    return 0
