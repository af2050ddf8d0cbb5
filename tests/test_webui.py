"""The application's own page at its YARN tracking URL (issue 27), reached as a
viewer reaches it: through the ResourceManager's web proxy, in headless
Chromium on the plain cluster and over SPNEGO + HTTPS on the Kerberized one.

One application per cluster serves every assertion; the fixtures kill it.
"""
import glob
import os
import shutil
from pathlib import Path

import pytest
import requests

from conftest import knit_maker
from helpers import poll
from knit import Knit
from knit.exceptions import KnitTypeError, KnitValueError
from knit.webui import LINK_PREFIX, check_url, link_key

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SECRET = "hunter2-never-shown"

needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is not installed (Debian: apt-get install -y chromium)")


@pytest.mark.unit
def test_link_names_and_urls_are_checked():
    assert link_key("Dask dashboard") == LINK_PREFIX + "Dask dashboard"
    assert check_url(" http://node1:8787/status ") == "http://node1:8787/status"
    assert check_url("tcp://10.0.0.5:40123") == "tcp://10.0.0.5:40123"
    with pytest.raises(KnitValueError, match=r"k.add_link\('Dashboard'"):
        link_key(" ")
    with pytest.raises(KnitValueError, match="no newlines"):
        link_key("two\nlines")
    with pytest.raises(KnitTypeError, match="is a str"):
        link_key(3)
    for bad in ("node1:8787", "/status", "http://", "http://a b/"):
        with pytest.raises(KnitValueError, match="scheme and a host"):
            check_url(bad)


@pytest.fixture(scope="module")
def web_app(minicluster):
    """A running application with one container, a secret key and two links."""
    maker = knit_maker()
    k = next(maker)()
    k.start("sleep 600", num_containers=1, memory=128, env=False, app_name="webui-demo")
    k.kv["db.password"] = SECRET
    k.add_link("Docs", "http://docs.example.invalid/knit")
    k.add_link("Controller", "tcp://10.0.0.5:40123")
    poll(lambda: len(running(k)) == 1, timeout=60)
    yield k
    next(maker, None)       # kills it


def running(k):
    return [c for c in k._am().containers()["containers"] if c["state"] == "RUNNING"]


def test_the_tracking_url_serves_the_page_read_only(web_app):
    k = web_app
    url = k.status()["trackingUrl"]
    assert url.endswith(f"/proxy/{k.app_id}/")
    assert k.links() == {"Docs": "http://docs.example.invalid/knit",
                         "Controller": "tcp://10.0.0.5:40123"}
    page = requests.get(url, timeout=30)
    assert page.status_code == 200 and "<title>knit application</title>" in page.text
    assert page.headers["Content-Security-Policy"].startswith("default-src 'none'")
    st = requests.get(url + "status.json", timeout=30).json()
    assert st["app"]["id"] == k.app_id and st["app"]["name"] == "webui-demo"
    assert [key["key"] for key in st["keys"]] == ["db.password"]
    assert SECRET not in requests.get(url + "status.json", timeout=30).text
    # Nothing of the control API through the proxy: no route, no method but GET.
    for path in ("containers", "kv/keys", "kv/value?key=db.password", "shutdown"):
        assert requests.get(url + path, timeout=30).status_code == 404, path
    assert requests.put(url + "containers/add", data="n=5", timeout=30).status_code == 405
    assert len(k._am().containers()["containers"]) == 1


@needs_chromium
def test_the_page_in_chromium_lists_containers_and_keys_and_updates_live(web_app):
    from cdp import Browser

    k = web_app
    ARTIFACTS.mkdir(exist_ok=True)
    with Browser(k.status()["trackingUrl"]) as b:
        def rows(table):
            return b.evaluate(f"Array.from(document.querySelectorAll('#{table} tr'))"
                              ".map(r => Array.from(r.cells).map(c => c.textContent))")

        first = running(k)[0]["id"]
        poll(lambda: any(r[0] == first for r in rows("containers")), timeout=30)
        assert b.evaluate("document.getElementById('app-id').textContent") == k.app_id
        assert b.evaluate("document.getElementById('title').textContent") == "webui-demo"
        [service] = rows("services")
        assert service[:3] == ["main", "1", "1"]
        assert rows("keys") == [["db.password", "the application"]]
        assert SECRET not in b.evaluate("document.body.innerText")
        links = b.evaluate("Array.from(document.querySelectorAll('#links li'))"
                           ".map(li => [li.textContent, li.querySelector('a') && li.querySelector('a').href])")
        assert sorted(links) == [["Controller: tcp://10.0.0.5:40123", None],
                                 ["Docs: http://docs.example.invalid/knit", "http://docs.example.invalid/knit"]]
        log = b.evaluate("document.querySelector('#containers a').href")
        assert log.endswith(f"/node/containerlogs/{first}/{k.status()['user']}")

        b.evaluate("window.notReloaded = true")
        k.add_containers(1)
        poll(lambda: sum(r[3] == "RUNNING" for r in rows("containers")) == 2, timeout=60)
        assert b.evaluate("window.notReloaded") is True
        assert rows("services")[0][:3] == ["main", "2", "2"]
        assert b.screenshot(ARTIFACTS / "webui.png") > 10_000

        # A phone: nothing wider than the screen but the tables' own scroll boxes.
        b.screen(375, 800, mobile=True)
        poll(lambda: b.evaluate("window.innerWidth") == 375, timeout=10)
        assert b.evaluate("document.documentElement.scrollWidth") <= 375
        assert b.evaluate("getComputedStyle(document.querySelector('th.wide')).display") == "none"
        b.screenshot(ARTIFACTS / "webui-narrow.png")


def test_an_ended_application_leads_to_its_resourcemanager_page(web_app):
    k = web_app
    url = k.status()["trackingUrl"]
    k.kill()
    poll(lambda: k.runtime_status() in ("KILLED", "FINISHED", "FAILED"), timeout=60)
    r = requests.get(url, allow_redirects=False, timeout=30)
    assert r.status_code in (302, 307), r.status_code
    assert r.headers["Location"].endswith(f"/cluster/app/{k.app_id}")


def test_the_page_through_the_kerberized_https_proxy(secure_knits, secure_env):
    from requests_gssapi import OPTIONAL, HTTPSPNEGOAuth

    k = secure_knits()
    k.start("sleep 600", num_containers=1, memory=128, env=False)
    k.kv["token"] = SECRET
    url = k.status()["trackingUrl"]
    assert url.startswith("https://") and url.endswith(f"/proxy/{k.app_id}/")
    # Not through requests' session: REQUESTS_CA_BUNDLE would win over its verify.
    get = dict(verify=str(secure_env.ca_file), timeout=30)
    assert requests.get(url, **get).status_code == 401      # no ticket, no page
    spnego = HTTPSPNEGOAuth(mutual_authentication=OPTIONAL)
    page = requests.get(url, auth=spnego, **get)
    assert page.status_code == 200 and "<title>knit application</title>" in page.text

    def status():
        return requests.get(url + "status.json", auth=spnego, **get).json()
    poll(lambda: len(status()["yarn"]["containers"]) == 1, timeout=60)
    st = status()
    assert st["app"]["user"] == k.status()["user"] and st["app"]["http_scheme"] == "https://"
    assert [key["key"] for key in st["keys"]] == ["token"] and SECRET not in str(st)
    assert requests.get(url + "containers", auth=spnego, **get).status_code == 404
    k.add_containers(1)
    poll(lambda: len(status()["yarn"]["containers"]) == 2, timeout=60)
