"""The web chat page at ``/``, driven in headless Chromium over a real socket.

The conversation runs the real engine on the shop project (with its action server); the
rendering-safety test uses a scripted assistant that sends hostile content on purpose.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists() or not CHROMEDRIVER.exists(),
    reason="needs Debian's chromium and chromium-driver (apt-get install -y chromium chromium-driver)",
)

WAIT = 20


@pytest.fixture(scope="module")
def browser():
    os.environ["SE_OFFLINE"] = "true"  # Selenium Manager must not download anything
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="desk-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="module")
def shop_server(tmp_path_factory):
    from test_http_api import free_port, load_shop, shop_project

    from dialogue.server import ActionServerProcess, ServerThread, build_app

    project = shop_project(tmp_path_factory)
    with ActionServerProcess(project, free_port()) as actions:
        with ServerThread(build_app(load_shop(project, actions.url))) as server:
            yield server


@pytest.fixture(scope="module")
def scripted_server():
    from test_channels import ScriptedAssistant

    from dialogue.server import ServerThread, build_app

    assistant = ScriptedAssistant()
    with ServerThread(build_app(assistant)) as server:
        server.assistant = assistant
        yield server


def bot_texts(driver) -> list[str]:
    from selenium.webdriver.common.by import By

    return [el.text for el in driver.find_elements(By.CSS_SELECTOR, "#messages .msg.bot")]


def say(driver, text: str) -> None:
    from selenium.webdriver.common.by import By

    box = driver.find_element(By.ID, "text")
    box.send_keys(text)
    driver.find_element(By.ID, "send").click()


def wait_for_bot_text(driver, expected: str) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, WAIT).until(lambda d: any(expected in text for text in bot_texts(d)), f"no bot message with {expected!r}")


def open_chat(driver, url: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(url + "/")
    WebDriverWait(driver, WAIT).until(lambda d: d.find_element(By.ID, "state").text == "online")


def test_shop_conversation_with_buttons(browser, shop_server):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    open_chat(browser, shop_server.url)
    # a new visitor is greeted before typing anything (the page sends /greet, shown to no one)
    wait_for_bot_text(browser, "Welcome to Shop!")
    assert browser.find_elements(By.CSS_SELECTOR, "#messages .msg.user") == []
    say(browser, "hi")
    say(browser, "what is your refund policy")
    wait_for_bot_text(browser, "Would you like me to start a return?")
    buttons = browser.find_elements(By.CSS_SELECTOR, "#messages .choices button")
    assert [b.text for b in buttons] == ["Yes", "No"]
    buttons[0].click()
    # the payload /affirm runs the custom action on the action server
    wait_for_bot_text(browser, "I've started a return; the label is on its way by email.")
    users = [el.text for el in browser.find_elements(By.CSS_SELECTOR, "#messages .msg.user")]
    assert users == ["hi", "what is your refund policy", "Yes"]
    WebDriverWait(browser, WAIT).until(lambda d: all(not b.is_enabled() for b in buttons))
    # the conversation is kept across a reload of the page (same tab, same conversation id)
    open_chat(browser, shop_server.url)
    say(browser, "hello")
    wait_for_bot_text(browser, "Hi again! How can I help?")


def test_form_with_buttons_sends_the_payload(browser, scripted_server):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    open_chat(browser, scripted_server.url)
    say(browser, "hello")
    wait_for_bot_text(browser, "echo: hello")
    say(browser, "form")
    wait_for_bot_text(browser, "Which size?")
    buttons = browser.find_elements(By.CSS_SELECTOR, "#messages .choices button")
    assert [b.text for b in buttons] == ["Small", "Large"]
    buttons[1].click()
    wait_for_bot_text(browser, "You chose large.")
    users = [el.text for el in browser.find_elements(By.CSS_SELECTOR, "#messages .msg.user")]
    assert users == ["hello", "form", "Large"]
    WebDriverWait(browser, WAIT).until(lambda d: all(not b.is_enabled() for b in buttons))
    # the payload, not the title, reached the assistant, over the websocket channel
    message = scripted_server.assistant.received[-1]
    assert (message.text, message.input_channel) == ('/choose{"size": "large"}', "websocket")
    senders = {m.sender_id for m in scripted_server.assistant.received[-3:]}
    assert len(senders) == 1


def test_images_render_and_hostile_content_stays_text(browser, scripted_server):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    open_chat(browser, scripted_server.url)
    say(browser, "image")
    WebDriverWait(browser, WAIT).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#messages .msg.bot img"))
    images = browser.find_elements(By.CSS_SELECTOR, "#messages .msg.bot img")
    assert [img.get_attribute("src") for img in images] == ["https://example.com/cat.png"]
    say(browser, "hostile")
    wait_for_bot_text(browser, '<img src=x onerror="window.pwned=1">')
    assert browser.execute_script("return window.pwned === undefined")
    # the javascript: image was not rendered; only the https one is on the page
    assert len(browser.find_elements(By.CSS_SELECTOR, "#messages img")) == 1
