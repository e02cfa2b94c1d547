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
from bench.train.toy import build_toy_store, register_toy_model, toy_scheme

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


@pytest.fixture
def finished_run(tmp_path, monkeypatch):
    from bench.experiment import run

    monkeypatch.setenv("BENCH_HOME", str(tmp_path / "home"))
    register_toy_model("toy", recipe={"epochs": 2, "batch_size": 8, "lr": 1e-2})
    store = build_toy_store(tmp_path / "store", num_frames=4, image_size=16, n_mels=16, audio_steps=20)

    class Quiet:
        def print(self, *args, **kwargs):
            pass

    result = run("toy", store=store, split=toy_scheme(store, 2), progress=False, experiment_name="ui-check",
                 console=Quiet(), system_metrics=False)
    return f"sqlite:///{tmp_path / 'home' / 'mlflow.db'}", result


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
