"""Answer the sandbox's consent page over HTTP, as a browser would: what tests and benchmarks use
to connect an OAuth connector to the sandbox without a browser."""
from html.parser import HTMLParser
from urllib.parse import urljoin

import requests


class _ConsentForm(HTMLParser):
    def __init__(self):
        super().__init__()
        self.forms, self._current = [], None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self._current = {"action": attrs.get("action", ""), "method": (attrs.get("method") or "get").lower(),
                             "fields": {}, "buttons": []}
            self.forms.append(self._current)
        elif tag == "input" and self._current is not None and attrs.get("name"):
            self._current["fields"][attrs["name"]] = attrs.get("value", "")
        elif tag == "button" and self._current is not None:
            self._current["buttons"].append(attrs)

    def handle_endtag(self, tag):
        if tag == "form":
            self._current = None


def consent(authorize_url: str, *, approve: bool = True) -> str:
    """Open the consent page, click Authorize (or Cancel); return the callback URL it redirects to."""
    page = requests.get(authorize_url, timeout=10)
    page.raise_for_status()
    parser = _ConsentForm()
    parser.feed(page.text)
    wanted = "authorize" if approve else "deny"
    for form in parser.forms:
        for button in form["buttons"]:
            if button.get("id") == wanted:
                data = dict(form["fields"])
                if button.get("name"):
                    data[button["name"]] = button.get("value", "")
                action = urljoin(page.url, form["action"] or page.url)
                response = requests.request(form["method"].upper(), action,
                                            data=data if form["method"] == "post" else None,
                                            params=data if form["method"] == "get" else None,
                                            allow_redirects=False, timeout=10)
                assert response.status_code in (301, 302, 303), response.text[:500]
                return response.headers["Location"]
    raise AssertionError(f"no #{wanted} button on the consent page")

