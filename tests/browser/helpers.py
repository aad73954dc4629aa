"""What the browser tests share."""
import re

from playwright.sync_api import expect

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
    """Screenshots of the current page at desktop width and at 390 px (a phone), back at desktop after."""
    page.set_viewport_size(DESKTOP)
    screenshot(f"{name}_desktop")
    page.set_viewport_size(PHONE)
    screenshot(f"{name}_390")
    page.set_viewport_size(DESKTOP)
