"""What the browser tests share."""
import re

from playwright.sync_api import expect

from tests.browser.conftest import SCREENSHOTS
from tests.factories import PASSWORD


def sign_in(page, user):
    """Sign in through the console's form; it lands on the Connections page."""
    page.goto("/login")
    page.get_by_label("E-mail").fill(user.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/connections$"))


DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


def at_both_widths(page, screenshot, name):
    """Screenshots of the current page at desktop width and at 390 px (a phone): the whole page,
    and at 390 px also the first screenful (a long page shrinks too much to judge when viewed
    whole). Back at desktop width after."""
    page.set_viewport_size(DESKTOP)
    screenshot(f"{name}_desktop")
    page.set_viewport_size(PHONE)
    screenshot(f"{name}_390")
    page.screenshot(path=str(SCREENSHOTS / f"{name}_390_screen.png"))
    page.set_viewport_size(DESKTOP)
