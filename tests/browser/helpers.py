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
