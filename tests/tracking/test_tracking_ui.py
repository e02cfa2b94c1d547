"""MLflow's own UI over a finished run, read in a real browser (headless Chromium).

Starts ``mlflow ui`` on a free loopback port the way ``bench ui`` does, opens the experiment
and checks what a researcher would look for: the runs table (not the GenAI overview) with the
parent run and its fold children, the Datasets column filled, and a fold's confusion matrix
rendered as an image. Screenshots go to the test's temporary folder. Skipped where no
browser is installed, except under CI=true (``.ci/run`` installs chromium and its driver).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time

import pytest

from bench.cli.ui import free_port, stop, ui_command_line, ui_url, wait_until_up
from tests.support.toy import build_toy_store, register_toy_model, toy_scheme

pytestmark = pytest.mark.slow


def _browser():
    missing = [name for name in ("chromium", "chromedriver") if shutil.which(name) is None]
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        missing.append("selenium (pip)")
    if missing:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must check the MLflow UI in a browser, but {missing} are missing", pytrace=False)
        pytest.skip(f"no browser: {missing}")
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium")
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1600,1000"):
        options.add_argument(arg)
    return webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)


def _wait(driver, condition, timeout=60.0, what=""):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            value = condition(driver)
        except Exception:  # the page is still rendering
            value = None
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


class _Quiet:
    def print(self, *args, **kwargs):
        pass


def _toy_run(tmp_path, monkeypatch, experiment: str, epochs: int = 2, **kwargs):
    """A finished, tracked toy run under ``tmp_path/home``: (tracking URI, store, result)."""
    from bench.experiment import run

    monkeypatch.setenv("BENCH_HOME", str(tmp_path / "home"))
    register_toy_model("toy", recipe={"epochs": epochs, "batch_size": 8, "lr": 1e-2})
    store = build_toy_store(tmp_path / "store", num_frames=4, image_size=16, n_mels=16, audio_steps=20)
    result = run("toy", store=store, split=toy_scheme(store, 2), progress=False, experiment_name=experiment,
                 console=_Quiet(), **{"system_metrics": False, **kwargs})
    return f"sqlite:///{tmp_path / 'home' / 'mlflow.db'}", store, result


@pytest.fixture
def finished_run(tmp_path, monkeypatch):
    uri, _, result = _toy_run(tmp_path, monkeypatch, "ui-check")
    return uri, result


def test_mlflow_ui_shows_parent_children_datasets_and_confusion_matrix(tmp_path, finished_run):
    from mlflow.tracking import MlflowClient
    from selenium.webdriver.common.by import By

    uri, result = finished_run
    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name("ui-check")
    children = client.search_runs([experiment.experiment_id], f"tags.mlflow.parentRunId = '{result.parent_run_id}'")
    assert sorted(r.info.run_name for r in children) == ["fold1-seed0", "fold2-seed0"]

    port = free_port()
    server = subprocess.Popen(ui_command_line(uri, port), start_new_session=True, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    driver = None
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until_up(base, server)
        driver = _browser()
        driver.get(ui_url(base, experiment.experiment_id))
        # The runs table of a model-training experiment, with the parent run in it.
        parent = _wait(driver, lambda d: d.find_element(By.XPATH, f"//div[@role='row'][@row-id='{result.parent_run_id}']"),
                       what="the parent run's row")
        assert "Training runs" in driver.page_source or "Run Name" in driver.page_source
        assert "Token Usage" not in driver.find_element(By.TAG_NAME, "body").text
        # Expand the parent: its fold runs appear beneath it.
        parent.find_element(By.CSS_SELECTOR, "button[data-component-id*='runnamecellrenderer']").click()
        for child in children:
            _wait(driver, lambda d, c=child: d.find_element(By.XPATH, f"//div[@role='row'][@row-id='{c.info.run_id}']"),
                  what=f"child row {child.info.run_name}")
        driver.save_screenshot(str(tmp_path / "runs-table.png"))
        # The Datasets column names each fold's inputs (and the parent's manifest).
        text = driver.find_element(By.TAG_NAME, "body").text
        assert "toy-manifest" in text
        assert any(f"toy-{c.data.tags['fold']}-" in text for c in children), text[:2000]

        # A fold's confusion matrix renders as an image on its artifact page.
        child = children[0]
        driver.get(f"{base}/#/experiments/{experiment.experiment_id}/runs/{child.info.run_id}/artifacts/confusion.png"
                   "?workflowType=machine_learning")
        # The viewer fetches the file and shows it from a blob: URL, under the file's name.
        image = _wait(driver, lambda d: next((i for i in d.find_elements(By.TAG_NAME, "img")
                                              if (i.get_attribute("src") or "").startswith("blob:")
                                              and d.execute_script("return arguments[0].naturalWidth", i) > 100), None),
                      what="the rendered confusion matrix")
        assert driver.execute_script("return arguments[0].naturalHeight", image) > 100
        assert "confusion.png" in driver.find_element(By.TAG_NAME, "body").text
        driver.save_screenshot(str(tmp_path / "confusion.png"))
    finally:
        if driver is not None:
            driver.quit()
        stop(server)
    assert (tmp_path / "runs-table.png").stat().st_size > 10_000


def test_log_model_loads_back_and_predicts_the_same_logits(tmp_path, monkeypatch):
    """``--log-model``: the fold's selected weights as an MLflow PyTorch model, signature and
    input example included; ``mlflow.pytorch.load_model`` gives the same logits as the weights."""
    import numpy as np
    import torch
    from mlflow.models import Model
    from mlflow.tracking import MlflowClient
    from mlflow.tracking._tracking_service.utils import _use_tracking_uri

    import mlflow.pytorch
    from bench.models.contract import ServingModel
    from bench.paths import results_dir
    from bench.models.registry import get_model_entry
    from bench.train.loop import fill_data_fields

    uri, store, result = _toy_run(tmp_path, monkeypatch, "log-model", epochs=1, folds=1, log_model=True)
    fold = result.finished[0]
    child = MlflowClient(uri).search_runs([MlflowClient(uri).get_experiment_by_name("log-model").experiment_id],
                                          f"tags.mlflow.parentRunId = '{result.parent_run_id}'")[0]
    model_uri = child.data.tags["bench.model_uri"]
    with _use_tracking_uri(uri):
        loaded = mlflow.pytorch.load_model(model_uri)
        info = Model.load(model_uri)
    names = [spec.name for spec in info.signature.inputs.inputs]
    assert names == ["video", "video_mask", "flow", "flow_mask", "audio", "audio_mask"]
    assert info.saved_input_example_info is not None

    # The same weights, read back from the result cache (weights_only), predict the same logits.
    config = fill_data_fields(get_model_entry("toy").config_class(), store)
    net = get_model_entry("toy").model_class(config)
    net.load_state_dict(torch.load(results_dir() / fold.cache_key / "model.pt", weights_only=True))
    reference = ServingModel(net.eval(), fold.inference_head, tuple(names))
    rng = np.random.default_rng(0)
    inputs = [torch.from_numpy(rng.random((3, 4, 3, 16, 16), dtype=np.float32)), torch.ones(3, 4, dtype=torch.bool),
              torch.from_numpy(rng.random((3, 3, 2, 16, 16), dtype=np.float32)), torch.ones(3, 3, dtype=torch.bool),
              torch.from_numpy(rng.random((3, 20, 16), dtype=np.float32)), torch.ones(3, 20, dtype=torch.bool)]
    with torch.no_grad():
        assert torch.equal(loaded(*inputs), reference(*inputs))


def test_system_metrics_are_logged_per_fold_and_can_be_turned_off(tmp_path, monkeypatch):
    from mlflow.tracking import MlflowClient

    from tests.support.toy import ToyModel

    monkeypatch.setenv("MLFLOW_SYSTEM_METRICS_SAMPLING_INTERVAL", "1")
    forward = ToyModel.forward

    def slow(self, batch):  # a fold long enough for a few one-second samples
        if self.training:
            time.sleep(0.4)
        return forward(self, batch)

    monkeypatch.setattr(ToyModel, "forward", slow)
    keys = {}
    for enabled in (True, False):
        uri, _, result = _toy_run(tmp_path, monkeypatch, f"sysmetrics-{enabled}", epochs=3, folds=1, system_metrics=enabled,
                                  overrides={"train.lr": 1e-2 if enabled else 2e-2})  # another config: trains again
        client = MlflowClient(uri)
        exp = client.get_experiment_by_name(f"sysmetrics-{enabled}")
        child = client.search_runs([exp.experiment_id], f"tags.mlflow.parentRunId = '{result.parent_run_id}'")[0]
        keys[enabled] = {k for k in child.data.metrics if k.startswith("system/")}
    assert {"system/cpu_utilization_percentage", "system/system_memory_usage_megabytes"} <= keys[True]
    assert keys[False] == set()


def test_bench_ui_serves_on_loopback_and_stops_on_ctrl_c(tmp_path):
    import signal
    import sys
    import urllib.request

    from tests.support.signals import default_sigint

    env = {**os.environ, "BENCH_HOME": str(tmp_path / "home")}
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "bench.cli", "ui", "--port", str(port)], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, start_new_session=True,
                            preexec_fn=default_sigint)
    try:
        line = ""
        deadline = time.time() + 120
        while time.time() < deadline and "MLflow UI for" not in line:
            line = proc.stdout.readline()
            if not line and proc.poll() is not None:
                break
        assert f"http://127.0.0.1:{port}/#/experiments?workflowType=machine_learning" in line, line
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as response:
            assert response.status == 200
        os.kill(proc.pid, signal.SIGINT)
        assert proc.wait(timeout=60) == 0
        with pytest.raises(OSError):
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
