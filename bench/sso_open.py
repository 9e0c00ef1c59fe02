"""How long "Open" takes, from the click in the admin to the tenant's signed-in page. Never passes or fails.

    .venv/bin/python bench/sso_open.py [--rounds 5]

Brings up a compose stack of its own (Postgres, App, router) with one tenant, then, in headless
Chromium signed in to the admin: click Open on the tenant page and wait for "signed in as" on the
tenant's `/` (App mints + 303, router, edge, Core back verifies + sets the session + 303, router,
edge, platform front). Beside it, the same browser reloading the signed-in page (router, edge,
session lookup, platform front), so the ratio says what the handoff adds over one page view.
Prints the median and the spread of each and their ratio.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "platform"), str(ROOT / "proxy"), str(ROOT / "tenant_image")]

from playwright.sync_api import sync_playwright  # noqa: E402

from spec.app_client import signed_in_page  # noqa: E402
from spec.conftest import CHROMIUM, CHROMIUM_ARGS  # noqa: E402
from spec.containers import ComposeStack  # noqa: E402
from testkit.owner import Owner, signed_in  # noqa: E402
from testkit.polling import eventually  # noqa: E402
from testkit.ports import released_port  # noqa: E402

OWNER = Owner("Bea Bench", "bench-sso@example.com")
SLUG = "bench"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    rounds = parser.parse_args().rounds
    port = released_port()
    overrides = {
        "CIAL_ROUTER_PORT": str(port),
        "CIAL_TENANT_URL_TEMPLATE": f"http://{{slug}}.localhost:{port}",
    }
    with ComposeStack(project=f"bench-sso-{port}", overrides=overrides) as stack:
        # already open (signed in): closed, not re-entered
        api = signed_in(stack.app_url, OWNER, setup_token=stack.setup_token)
        try:
            assert api.post("/api/admin/tenants", json={"slug": SLUG, "name": "Bench"}).status_code == 201
            eventually(
                lambda: api.get(f"/api/admin/tenants/{SLUG}").json()["state"] == "running",
                timeout=120,
                what="the tenant running",
            )
        finally:
            api.close()
        tenant_home = f"http://{SLUG}.localhost:{port}/"
        signed_text = f"signed in as {OWNER.email}"
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            try:
                page = signed_in_page(browser, stack.app_url, OWNER)
                opens: list[float] = []
                reloads: list[float] = []
                for _ in range(rounds + 1):  # the first round warms both paths and is not counted
                    page.context.clear_cookies()
                    page.goto(f"{stack.app_url}/admin/login")
                    page.get_by_label("Email").fill(OWNER.email)
                    page.get_by_label("Password").fill(OWNER.password)
                    page.get_by_role("button", name="Sign in").click()
                    page.wait_for_url(f"{stack.app_url}/admin")
                    page.goto(f"{stack.app_url}/admin/tenants/{SLUG}")
                    started = time.perf_counter()
                    page.get_by_role("link", name="Open").click()
                    page.get_by_text(signed_text).wait_for()
                    opens.append(time.perf_counter() - started)
                    assert page.url == tenant_home, page.url
                    started = time.perf_counter()
                    page.reload()
                    page.get_by_text(signed_text).wait_for()
                    reloads.append(time.perf_counter() - started)
                opens, reloads = opens[1:], reloads[1:]
            finally:
                browser.close()
        print(f"Open -> signed-in page, median of {rounds}: {statistics.median(opens) * 1000:.0f} ms "
              f"(min {min(opens) * 1000:.0f}, max {max(opens) * 1000:.0f})")  # fmt: skip
        print(f"reload of the signed-in page, median of {rounds}: {statistics.median(reloads) * 1000:.0f} ms "
              f"(min {min(reloads) * 1000:.0f}, max {max(reloads) * 1000:.0f})")  # fmt: skip
        print(f"ratio Open / reload: {statistics.median(opens) / statistics.median(reloads):.1f}x")


if __name__ == "__main__":
    main()
