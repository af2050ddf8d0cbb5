"""knit in a real Jupyter kernel: progress lines and views in the saved notebook.

One small notebook is executed by nbclient on an ipykernel running this
test's interpreter (a kernelspec written for ``sys.executable``), in the
session cluster's environment (the ``minicluster`` fixture put
``HADOOP_CONF_DIR`` into ``os.environ``, which the kernel inherits).  The
assertions read the executed notebook as it would be saved: what a
notebook reopened without its kernel, GitHub or nbviewer show.
"""
import json
import re
import subprocess
import sys

import ipykernel  # noqa: F401  (the kernel; all four from setup.py's test extra)
import ipywidgets
import nbclient
import nbformat
import pytest

from knit import Knit
from knit.display import status_line_html
from knit.notebook import WIDGET_VIEW, HTMLBar, HTMLLine, in_kernel, widget_view

FINAL = ("FINISHED", "FAILED", "KILLED")

CELLS = [
    # 0: start waits for the ApplicationMaster (a live line), then the app id.
    "from knit import Knit\n"
    "k = Knit()\n"
    "print(k.start('sleep 3', num_containers=1, memory=128))",
    # 1: a wait that times out (the app sleeps 3 s), then 2: the wait of the issue.
    "k.wait_for_completion(0.5)",
    "k.wait_for_completion(120)",
    # 2: an environment, progress on by default in a notebook.
    "from knit.env import create_env\n"
    "archive = create_env('nb-six', packages=['six'], backend='venv', conda_envs=ENVS)\n"
    "print(archive)",
    # 3: a Dask cluster (one worker on YARN, in this interpreter's environment):
    # its wait, then its view with ipywidgets installed.
    "from knit.dask_yarn import DaskYARNCluster\n"
    "cluster = DaskYARNCluster(n_workers=1, worker_memory='512 MiB')\n"
    "cluster.wait_for_workers(1, timeout=180)\n"
    "print(cluster.application_id)",
    "cluster",
    "cluster.close()",
    # 7: IPython Parallel: the controller here, one engine on YARN.
    "from knit.ipyparallel import IPyParallelCluster\n"
    "ipp = IPyParallelCluster(n_engines=1, memory=256)\n"
    "ipp.start()\n"
    "print(ipp.knit.app_id)\n"
    "print(ipp.wait_for_engines(1, timeout=180))\n"
    "ipp.close()",
]


def kernel_manager(tmp_path):
    """A KernelManager for an ipykernel on this interpreter."""
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager

    spec_dir = tmp_path / "kernels" / "knit-test"
    spec_dir.mkdir(parents=True)
    (spec_dir / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "knit test", "language": "python"}))
    return KernelManager(kernel_name="knit-test",
                         kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(spec_dir.parent)]))


@pytest.fixture(scope="module")
def executed(minicluster, tmp_path_factory):
    """The notebook of CELLS, executed and read back as saved; its apps are killed."""
    tmp = tmp_path_factory.mktemp("notebook")
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(f"ENVS = {str(tmp / 'envs')!r}")]
    nb.cells += [nbformat.v4.new_code_cell(src) for src in CELLS]
    client = nbclient.NotebookClient(nb, km=kernel_manager(tmp), timeout=180,
                                     allow_errors=True, store_widget_state=True)
    try:
        client.execute()
        path = tmp / "saved.ipynb"
        nbformat.write(nb, str(path))
        yield nbformat.read(str(path), as_version=4).cells[1:]
    finally:
        # The kernel is gone, and its gateway with it, which kills what it
        # started; make sure of it for the applications the cells printed.
        printed = [out.get("text", "") for cell in nb.cells for out in cell.get("outputs", [])
                   if out.get("name") == "stdout"]
        for app_id in re.findall(r"^application_\d+_\d+$", "".join(printed), re.M):
            k = Knit().attach(app_id)
            if k.runtime_status() not in FINAL:
                k.kill()


def outputs(cell, output_type=None):
    return [o for o in cell.outputs if output_type in (None, o.output_type)]


def html_of(cell):
    """The ``text/html`` of the cell's display data and results."""
    return [o.data["text/html"] for o in cell.outputs
            if o.output_type in ("display_data", "execute_result") and "text/html" in o.data]


def no_errors(cell):
    errors = [o for o in cell.outputs if o.output_type == "error"]
    assert not errors, "\n".join(e.ename + ": " + e.evalue for e in errors)
    stderr = [o.text for o in outputs(cell, "stream") if o.name == "stderr"]
    assert not stderr, f"stderr text (pink in a notebook): {stderr}"


def test_start_and_wait_show_a_line_whose_last_form_names_the_final_state(executed):
    start, short, wait = executed[0], executed[1], executed[2]
    for cell in executed[:3]:
        no_errors(cell)
    app_id = next(o.text.strip() for o in outputs(start, "stream"))
    # start() waits for the AM: one display, its last form says the AM is up.
    [am_line] = html_of(start)
    assert 'class="knit-status"' in am_line and app_id in am_line
    assert "ApplicationMaster up" in am_line and ">RUNNING<" in am_line
    # A wait that timed out says so, with the state the application is still in.
    assert outputs(short, "execute_result")[0].data["text/plain"] == "False"
    [line] = outputs(short, "display_data")
    assert "wait_for_completion(0.5) timed out" in line.data["text/plain"]
    assert ">RUNNING<" in line.data["text/html"] and app_id in line.data["text/html"]
    # wait_for_completion: one display (updated in place, not one per poll)
    # and the result; the saved form names the final state and outcome.
    results = outputs(wait, "execute_result")
    assert results[0].data["text/plain"] == "True"
    [line] = outputs(wait, "display_data")
    html = line.data["text/html"]
    assert f"{app_id} ended FINISHED/SUCCEEDED" in html and ">SUCCEEDED<" in html
    assert f"{app_id} ended FINISHED/SUCCEEDED" in line.data["text/plain"]


def test_create_env_shows_html_progress_not_stderr(executed):
    cell = executed[3]
    no_errors(cell)
    assert outputs(cell, "stream")[0].text.strip().endswith("nb-six.zip")
    lines = " ".join(html_of(cell))
    # The build's steps and the packing, each a line in its final form.
    assert re.search(r"build nb-six \((uv|pip)\): 100% 2/2 \[", lines), lines
    assert re.search(r"pack nb-six: 100% \S+/\S+ \[", lines), lines


def test_dask_wait_for_workers_shows_the_count(executed):
    cell = executed[4]
    assert not [o for o in cell.outputs if o.output_type == "error"]
    [line] = outputs(cell, "display_data")
    assert "1 of 1 Dask workers connected (ready" in line.data["text/plain"]
    assert ">RUNNING<" in line.data["text/html"] and "width:100%" in line.data["text/html"]


def test_dask_cluster_view_keeps_html_beside_the_widget(executed):
    view, close = executed[5], executed[6]
    no_errors(close)
    [shown] = [o for o in view.outputs if o.output_type in ("display_data", "execute_result")]
    assert WIDGET_VIEW in shown.data, "ipywidgets is installed: the widget is shown"
    html = shown.data["text/html"]
    app_id = next(o.text.strip() for o in outputs(executed[4], "stream")
                  if o.text.startswith("application_"))
    assert "DaskYARNCluster" in html and app_id in html
    assert "1 / 1 workers connected" in html


@pytest.mark.unit
def test_outside_a_kernel_nothing_is_displayed():
    assert not in_kernel()
    line = HTMLLine()
    line.update("application_1_0001 RUNNING", state="RUNNING")
    assert not line.shown
    with HTMLBar(total=3, desc="pack x", enabled=False) as b:
        b.update(3)
    assert b.n == 3
    # A plain python importing knit does not import IPython for it.
    code = "import sys, knit.notebook as n; n.in_kernel(); print('IPython' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "False"


@pytest.mark.unit
def test_status_line_html_escapes_and_draws_the_bar():
    page = status_line_html('<b id="x">&', state="RUNNING", bar=(1, 4))
    assert "<b id" not in page and "&lt;b id=&quot;x&quot;&gt;&amp;" in page
    assert "width:25%" in page and ">RUNNING<" in page


@pytest.mark.unit
def test_widget_view_of_a_real_widget():
    w = ipywidgets.HTML("x")
    try:
        assert widget_view(w)[WIDGET_VIEW]["model_id"] == w.model_id
    finally:
        w.close()


def test_ipyparallel_wait_for_engines_shows_the_count(executed):
    cell = executed[7]
    assert not [o for o in cell.outputs if o.output_type == "error"]
    printed = "".join(o.text for o in outputs(cell, "stream") if o.name == "stdout")
    assert printed.splitlines()[-1] == "[0]"
    lines = [o.data["text/plain"] for o in outputs(cell, "display_data")]
    assert any(t.startswith("1 of 1 engines registered (ready") for t in lines), lines
