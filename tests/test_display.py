"""The Jupyter view of a knit application, rendered by a real browser.

The page is rendered with headless Chromium (Debian's ``chromium``
package); assertions are on the DOM Chromium built, and the screenshot is
kept in ``test-artifacts/`` at the repository root.
"""
import shutil
import subprocess
import tempfile
from pathlib import Path

import lxml.html
import pytest

from knit import Knit
from knit.display import app_html, cluster_html

from helpers import poll

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# What the page would show if escaping failed somewhere.
NASTY = 'x<b id="injected">bold</b>&"'




def chromium(page_file, *args):
    """Run headless Chromium on a local page; return its stdout."""
    with tempfile.TemporaryDirectory(prefix="knit-chromium-") as profile:
        proc = subprocess.run(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
             "--no-first-run", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", f"--user-data-dir={profile}",
             *args, page_file.as_uri()],
            capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def render(fragment, name):
    """Write ``fragment`` as a page; screenshot it; return Chromium's DOM."""
    ARTIFACTS.mkdir(exist_ok=True)
    page = ARTIFACTS / f"{name}.html"
    page.write_text("<!doctype html><html><head><meta charset='utf-8'><title>knit</title>"
                    f"</head><body>{fragment}</body></html>", encoding="utf-8")
    shot = ARTIFACTS / f"{name}.png"
    shot.unlink(missing_ok=True)
    chromium(page, f"--screenshot={shot}", "--window-size=1200,900")
    assert shot.exists() and shot.stat().st_size > 1000
    return lxml.html.fromstring(chromium(page, "--dump-dom"))


def shown_text(dom):
    """The page's text, cells and words separated by single spaces."""
    return " ".join(" ".join(dom.itertext()).split())




needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is not installed (Debian: apt-get install -y chromium)")


@needs_chromium
def test_running_application_in_a_browser(k):
    app_id = k.start("sleep 300", num_containers=2, app_name=NASTY)
    running = poll(lambda: (lambda s: s if list(s.values()).count("RUNNING") == 3 else None)(
        k.get_container_statuses() if k.runtime_status() == "RUNNING" else {}), timeout=90)

    dom = render(k._repr_html_(), "knit-app-running")
    text = shown_text(dom)
    assert f"Knit application {app_id} RUNNING" in text
    assert "2 / 2 containers running" in text
    assert "Final status UNDEFINED" in text
    assert NASTY in text                                  # shown as text ...
    assert not dom.xpath('//*[@id="injected"]')           # ... not as markup
    rows = dom.xpath('//table[@class="knit-containers"]//tr[td]')
    shown = {r.xpath("td")[0].text_content(): [td.text_content() for td in r.xpath("td")]
             for r in rows}
    workers = set(running) - {k.am_container_id()}          # the table shows workers
    assert set(shown) == workers and len(workers) == 2
    for cid, (_, state, node, exit_status, logs) in shown.items():
        assert (state, exit_status, logs) == ("RUNNING", "", "logs")
        assert node.startswith("localhost:")
    hrefs = dom.xpath("//a/@href")
    assert f"{k.yarn_api.rm_url}/cluster/app/{app_id}" in hrefs
    for cid in workers:
        assert any(h.endswith(f"/node/containerlogs/{cid}/{k.conf.user}") for h in hrefs)
    assert any("containerlogs" in h and h.endswith("_000001/" + k.conf.user)
               for h in hrefs)                            # the AM's logs

    assert badge_colour(dom) == "#1565c0"                  # blue: still running

    k.kill()
    dom = render(k._repr_html_(), "knit-app-killed")
    text = shown_text(dom)
    assert f"Knit application {app_id} KILLED" in text
    assert f"knit logs {app_id}" in text
    assert not dom.xpath('//table[@class="knit-containers"]')
    assert badge_colour(dom) == "#616161"                  # grey: killed


def badge_colour(dom):
    [badge] = dom.xpath("//h4/span[@class='knit-state']")
    style = dict(p.split(":", 1) for p in badge.get("style").split(";") if p)
    return style["background"]


@needs_chromium
@pytest.mark.parametrize("cmd, badge, colour", [
    ("exit 3", "FAILED", "#c62828"), ("true", "SUCCEEDED", "#2e7d32")])
def test_ended_application_shows_its_outcome(k, cmd, badge, colour):
    app_id = k.start(cmd)
    assert k.wait_for_completion(120)
    dom = render(k._repr_html_(), f"knit-app-{badge.lower()}")
    text = shown_text(dom)
    assert f"Knit application {app_id} {badge}" in text      # the badge: the outcome
    assert "State FINISHED" in text and f"Final status {badge}" in text
    [shown] = dom.xpath("//h4/span[@class='knit-state']")
    assert shown.text_content() == badge and f"background:{colour}" in shown.get("style")
    assert "FINISHED" not in shown.text_content()
    assert any("containerlogs" in h for h in dom.xpath("//a/@href"))   # the AM's logs


def test_no_application_yet(minicluster):
    k = Knit()
    page = app_html(k)
    assert "NOT STARTED" in page and "No application yet" in page and f'href="{k.yarn_api.rm_url}/cluster"' in page


def test_unknown_application_shows_the_error(minicluster):
    k = Knit()
    k.app_id = "application_1000000000000_9999"
    page = app_html(k)
    assert "UNKNOWN" in page and "does not know application" in page


def test_cluster_html_escapes_and_refuses_odd_links():
    page = cluster_html(
        "<script>alert(1)</script>", state="<i>RUNNING</i>",
        rows=[("a<b", "c&d"), ("link", ("<t>", "javascript:alert(1)"))],
        containers=[{"id": "c<1>", "state": "RUNNING", "node": "n&1", "exit_status": None,
                     "log_url": 'http://n1:8042/x"onmouseover="alert(1)'}],
        links=[("RM", "http://rm:8088/cluster"), ("bad", "file:///etc/passwd")],
        progress=(1, 3), note="<note>")
    for raw in ("<script>", "<i>", "<t>", "<note>", "c<1>", "n&1", "a<b",
                '"onmouseover', "javascript:", "file:///"):
        assert raw not in page
    for shown in ("&lt;script&gt;", "&lt;i&gt;RUNNING", "&lt;note&gt;", "a&lt;b", "c&amp;d"):
        assert shown in page
    assert 'href="http://rm:8088/cluster"' in page
    assert "1 / 3 containers running" in page


@needs_chromium
def test_cluster_html_layout_for_other_integrations():
    # What a DaskYARNCluster passes; rendered to check the page holds together.
    dom = render(cluster_html(
        "DaskYARNCluster", state="RUNNING",
        rows=[("Scheduler", "tcp://10.0.0.1:8786"),
              ("Dashboard", ("http://10.0.0.1:8787/status", "http://10.0.0.1:8787/status"))],
        containers=[{"id": "container_1_0001_01_000002", "state": "RUNNING",
                     "node": "n1:8041", "exit_status": None, "tag": "worker-0",
                     "log_url": "http://n1:8042/node/containerlogs/container_1_0001_01_000002/u"},
                    {"id": None, "state": "REQUESTED", "node": None, "exit_status": None,
                     "tag": "worker-1"}],
        links=[("ResourceManager UI", "http://rm:8088/cluster/app/application_1_0001")],
        progress=(1, 2), progress_label="workers"), "cluster-html")
    text = shown_text(dom)
    assert "DaskYARNCluster RUNNING" in text and "1 / 2 workers" in text
    assert "(requested) REQUESTED" in text
    assert "Logs Tag" in text and "logs worker-0" in text and "worker-1" in text
    assert "http://10.0.0.1:8787/status" in dom.xpath("//a/@href")


def test_docstring_examples():
    import doctest

    import knit.display
    import knit.progress
    for module in (knit.display, knit.progress):
        result = doctest.testmod(module)
        assert result.failed == 0 and result.attempted > 0, module.__name__


@needs_chromium
def test_dask_and_ipyparallel_views_look_like_knits(minicluster):
    pytest.importorskip("distributed")
    pytest.importorskip("ipyparallel")
    from distributed import Client

    from knit.dask_yarn import DaskYARNCluster
    from knit.ipyparallel import IPyParallelCluster

    with DaskYARNCluster(n_workers=1, worker_memory="512 MiB", app_name=NASTY) as cluster:
        with Client(cluster) as client:
            client.wait_for_workers(1, timeout=180)
        dom = render(cluster._repr_html_(), "dask-cluster")
        text = shown_text(dom)
        assert "DaskYARNCluster RUNNING" in text and "1 / 1 workers connected" in text
        assert "512 MB, 1 vcore" in text and "1 vcores" not in text
        assert "(in this process)" in text
        assert NASTY in text and not dom.xpath('//*[@id="injected"]')
        hrefs = dom.xpath("//a/@href")
        assert cluster.dashboard_link in hrefs
        app_id = cluster.application_id
        assert any(h.endswith(f"/cluster/app/{app_id}") for h in hrefs)
        assert any("containerlogs" in h and "_000001/" in h for h in hrefs)   # AM logs
        assert dom.xpath('//table[@class="knit-containers"]//td[text()="yarn-0"]')
    dom = render(cluster._repr_html_(), "dask-cluster-closed")
    [badge] = dom.xpath("//h4/span[@class='knit-state']")
    assert badge.text_content() == "KILLED"

    with IPyParallelCluster(n_engines=1, memory=256) as ipp:
        ipp.wait_for_engines(1, timeout=180)
        dom = render(ipp._repr_html_(), "ipyparallel-cluster")
        text = shown_text(dom)
        assert "IPyParallelCluster RUNNING" in text and "1 / 1 engines registered" in text
        assert "256 MB, 1 vcore" in text
        hrefs = dom.xpath("//a/@href")
        assert any(h.endswith(f"/cluster/app/{ipp.knit.app_id}") for h in hrefs)
        assert any("containerlogs" in h and "_000001/" in h for h in hrefs)
        # Same layout as the Knit view: summary, containers, links.
        for cls in ("knit-summary", "knit-containers", "knit-links", "knit-progress"):
            assert dom.xpath(f'//*[@class="{cls}"]'), cls


def test_not_started_service_view(minicluster):
    from knit.display import service_html
    page = service_html("IPyParallelCluster", Knit(), rows=[("Engines", "0 of 2")],
                        progress=(0, 2), progress_label="engines registered")
    assert "NOT STARTED" in page and "0 / 2 engines registered" in page
