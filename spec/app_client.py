"""The owner in a real browser: the admin's sign-in form (the JSON API is testkit.owner)."""

from __future__ import annotations

from playwright.sync_api import Browser, Page

from testkit.owner import Owner


def signed_in_page(browser: Browser, app_url: str, owner: Owner) -> Page:
    """A browser page signed in through the admin's login form, on the tenant list."""
    page = browser.new_page()
    page.goto(f"{app_url}/admin/login")
    page.get_by_label("Email").fill(owner.email)
    page.get_by_label("Password").fill(owner.password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{app_url}/admin")
    return page
