"""The built site, as a reader's browser shows it (headless system Chromium via Playwright).

Needs the site built first (`make test` runs `make book` before pytest). For every page of
_toc.yml (the API page included) it checks, on the rendered DOM:

* MathJax (the vendored copy in _mathjax/) typeset every formula: no raw ``\\(``, ``\\[`` or
  ``$$`` left in the article text, ``mjx-container`` elements present where the page has
  maths, and no MathJax error (``mjx-merror``, e.g. an undefined macro);
* every ``<img>`` loaded (``naturalWidth > 0``) and no request to this site failed;
* no JavaScript error (``pageerror``) and no console error except the known benign ones
  listed in ``BENIGN_CONSOLE``;
* every same-site link points at a file that exists, and its ``#fragment`` at an id that
  exists on the target page.

It saves a full-page screenshot of each page to _build/screenshots/<page>.png.
Without Chromium or Playwright the test is skipped locally and fails under CI=true.
"""

from __future__ import annotations

import functools
import os
import re
import threading
from html.parser import HTMLParser
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

import pytest

from conftest import REPO_ROOT, SITE_DIR, skip_or_fail, toc_files

CHROMIUM = Path(os.environ.get("FA_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOT_DIR = REPO_ROOT / "_build" / "screenshots"
PAGE_TIMEOUT_MS = 30_000

# JavaScript/console errors that are known and harmless. Each entry: (regex, why it is benign).
BENIGN_CONSOLE = [
    (
        r"Identifier 'THEBE_JS_URL' has already been declared",
        "sphinx-book-theme and sphinx-thebe both emit `const THEBE_JS_URL`; nothing uses it "
        "unless a reader clicks the Thebe launch button (not enabled here)",
    ),
    (
        r"^Got invalid theme mode: \. Resetting to auto\.",
        "pydata-sphinx-theme logs this on a first visit, when localStorage holds no light/dark "
        "choice yet (every fresh browser profile); it then uses 'auto'",
    ),
    (
        r"^Failed to load resource: .* 404 .*\[http://127\.0\.0\.1:\d+/favicon\.ico\]$",
        "Chromium asks for /favicon.ico on its own; the book has no favicon",
    ),
]

# Pages of the site to visit: every TOC entry (the API page is one of them).
PAGES = [f"{entry}.html" for entry in toc_files()]
if "book/api.html" not in PAGES:
    PAGES.append("book/api.html")


# ------------------------------------------------------------------------------ fixtures


@pytest.fixture(scope="module")
def site() -> Path:
    if not (SITE_DIR / "index.html").is_file():
        skip_or_fail(f"the site is not built ({SITE_DIR}/index.html missing): run `make book`")
    return SITE_DIR


@pytest.fixture(scope="module")
def server(site):
    """Serve _build/html on 127.0.0.1 (a free port) from a background thread."""

    class QuietHandler(SimpleHTTPRequestHandler):
        def log_message(self, *args):  # keep the test output clean
            pass

    handler = functools.partial(QuietHandler, directory=str(site))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=5)


@pytest.fixture(scope="module")
def browser_context(server, tmp_path_factory):
    """A persistent Chromium context with a fresh profile, driven by Playwright."""
    if not CHROMIUM.is_file():
        skip_or_fail(
            f"Chromium not found at {CHROMIUM} (set FA_CHROMIUM to use another path): "
            "install it with `apt-get install chromium` (Debian/Ubuntu)"
        )
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        skip_or_fail("Playwright is missing: `pip install playwright` (it is in requirements.txt)")

    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(profile),
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 900},
        )
        context.set_default_timeout(PAGE_TIMEOUT_MS)
        try:
            yield context
        finally:
            context.close()


# ------------------------------------------------------------------------------ helpers


class _IdCollector(HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        for key, value in attrs:
            if key == "id" or (tag == "a" and key == "name"):
                if value:
                    self.ids.add(value)


@functools.lru_cache(maxsize=None)
def _ids_in(path: Path) -> frozenset[str]:
    parser = _IdCollector()
    parser.feed(path.read_text(encoding="utf-8", errors="replace"))
    return frozenset(parser.ids)


def _site_file(site: Path, url_path: str) -> Path:
    rel = unquote(url_path).lstrip("/")
    target = site / rel
    if rel == "" or url_path.endswith("/"):
        target = target / "index.html"
    return target


def _is_benign(text: str) -> bool:
    return any(re.search(pattern, text) for pattern, _ in BENIGN_CONSOLE)


# JavaScript run in the page once it has loaded.
WAIT_FOR_MATHJAX = """
async () => {
  const mathNodes = document.querySelectorAll('.math, mjx-container').length;
  if (!window.MathJax || !window.MathJax.startup) {
    return {mathjax: false, mathNodes};
  }
  const timeout = new Promise((_, reject) =>
      setTimeout(() => reject(new Error('MathJax did not finish within 20 s')), 20000));
  await Promise.race([window.MathJax.startup.promise, timeout]);
  return {mathjax: true, mathNodes};
}
"""

WAIT_FOR_IMAGES = """
async () => {
  const imgs = Array.from(document.images);
  imgs.forEach(img => { img.loading = 'eager'; });
  await Promise.all(imgs.map(img => img.complete ? null : new Promise(resolve => {
      img.addEventListener('load', resolve, {once: true});
      img.addEventListener('error', resolve, {once: true});
      setTimeout(resolve, 10000);
  })));
  return imgs.filter(img => !(img.complete && img.naturalWidth > 0))
             .map(img => img.getAttribute('src'));
}
"""

# Text of the article that a reader sees as prose: code, scripts and typeset maths removed.
ARTICLE_STATE = """
() => {
  const article = document.querySelector('article') || document.querySelector('main') || document.body;
  const clone = article.cloneNode(true);
  clone.querySelectorAll('pre, code, script, style, mjx-container, mjx-assistive-mml, .highlight, textarea')
       .forEach(el => el.remove());
  return {
    text: clone.textContent,
    mjx: article.querySelectorAll('mjx-container').length,
    mathSpans: article.querySelectorAll('.math').length,
    errors: Array.from(document.querySelectorAll('mjx-merror'))
                 .map(e => e.getAttribute('data-mjx-error') || e.textContent),
  };
}
"""

LINKS = """
() => Array.from(document.querySelectorAll('a[href]')).map(a => a.getAttribute('href'))
"""

RAW_TEX = re.compile(r"\\\(|\\\)|\\\[|\\\]|\$\$")


def _wait_until_quiet(page, in_flight: dict, quiet_ms: int = 500) -> None:
    """Wait until no request has been in flight for ``quiet_ms``.

    Playwright's ``wait_for_load_state("networkidle")`` is not used: on pages whose
    resources all come from the context's cache (the second page with the same fonts and
    scripts) its lifecycle event sometimes never fires, although nothing is pending.
    """
    deadline = PAGE_TIMEOUT_MS
    quiet = 0
    while quiet < quiet_ms:
        page.wait_for_timeout(100)
        quiet = 0 if in_flight else quiet + 100
        deadline -= 100
        if deadline <= 0:
            pending = sorted(set(in_flight.values()))[:10]
            raise AssertionError(f"requests still in flight after {PAGE_TIMEOUT_MS} ms: {pending}")


# --------------------------------------------------------------------------------- test


@pytest.mark.parametrize("page_path", PAGES)
def test_page_renders(page_path, site, server, browser_context):
    assert (site / page_path).is_file(), f"{page_path} is in _toc.yml but was not built"

    page = browser_context.new_page()
    page_errors: list[str] = []
    console_errors: list[str] = []
    failed_requests: list[str] = []
    page.on("pageerror", lambda exc: page_errors.append(str(exc)))
    page.on(
        "console",
        lambda msg: console_errors.append(f"{msg.text} [{msg.location.get('url', '')}]")
        if msg.type == "error"
        else None,
    )
    page.on(
        "response",
        lambda resp: failed_requests.append(f"{resp.status} {resp.url}")
        if resp.url.startswith(server) and resp.status >= 400
        else None,
    )
    page.on(
        "requestfailed",
        lambda req: failed_requests.append(f"failed {req.url} ({req.failure})")
        if req.url.startswith(server)
        else None,
    )
    in_flight: dict = {}
    page.on("request", lambda req: in_flight.__setitem__(id(req), req.url))
    page.on("requestfinished", lambda req: in_flight.pop(id(req), None))
    page.on("requestfailed", lambda req: in_flight.pop(id(req), None))
    url = urljoin(server, page_path)
    try:
        page.goto(url, wait_until="load")
        mj = page.evaluate(WAIT_FOR_MATHJAX)
        broken_images = page.evaluate(WAIT_FOR_IMAGES)
        _wait_until_quiet(page, in_flight)
        state = page.evaluate(ARTICLE_STATE)
        hrefs = page.evaluate(LINKS)
        SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
        shot = SCREENSHOT_DIR / (page_path.removesuffix(".html").replace("/", "__") + ".png")
        page.screenshot(path=str(shot), full_page=True)
    finally:
        page.close()

    problems: list[str] = []

    # Maths.
    if state["mathSpans"] or mj["mathNodes"]:
        if not mj["mathjax"]:
            problems.append("the page has maths but MathJax did not load (check mathjax_path)")
        elif state["mjx"] == 0:
            problems.append("the page has maths but MathJax typeset nothing (no mjx-container)")
    raw = sorted(set(RAW_TEX.findall(state["text"])))
    if raw:
        i = RAW_TEX.search(state["text"]).start()
        context = " ".join(state["text"][max(0, i - 60): i + 60].split())
        problems.append(f"raw TeX delimiters {raw} left in the text, e.g. ...{context}...")
    if state["errors"]:
        problems.append(f"MathJax errors: {state['errors'][:5]}")

    # Images and requests.
    if broken_images:
        problems.append(f"images that did not load: {broken_images}")
    if failed_requests:
        problems.append(f"requests to the site failed: {sorted(set(failed_requests))[:10]}")

    # JavaScript.
    real_page_errors = [m for m in page_errors if not _is_benign(m)]
    if real_page_errors:
        problems.append(f"JavaScript errors: {real_page_errors[:5]}")
    real_console = [m for m in console_errors if not _is_benign(m)]
    if real_console:
        problems.append(f"console errors: {real_console[:5]}")

    # Links.
    bad_links = []
    for href in hrefs:
        target = urljoin(url, href)
        if not target.startswith(server):
            continue  # external (launch buttons, repository, DOIs) or mailto:/javascript:
        parts = urlsplit(target)
        target_file = _site_file(site, parts.path)
        if not target_file.is_file():
            bad_links.append(f"{href} (no file {target_file.relative_to(site)})")
            continue
        fragment = unquote(parts.fragment)
        if fragment and target_file.suffix == ".html" and fragment not in _ids_in(target_file):
            bad_links.append(f"{href} (no id {fragment!r} in {target_file.relative_to(site)})")
    if bad_links:
        problems.append(f"broken internal links: {sorted(set(bad_links))[:10]}")

    assert not problems, f"{page_path}:\n  - " + "\n  - ".join(problems)


def test_every_toc_page_is_checked():
    """The parametrisation above covers the whole TOC and the API page."""
    assert "book/intro.html" in PAGES and "book/api.html" in PAGES
    assert len(PAGES) == len(set(PAGES))

