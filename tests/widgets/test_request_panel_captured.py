"""The test-request panel's Captured tab against real process services: what capture kept, or how to turn it on."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from scale_script import SCALE_SCRIPT

from jupyter_mldeploy import InferenceConfig
from jupyter_mldeploy.deploy import deploy
from jupyter_mldeploy.deploy.process import ProcessWebservice
from jupyter_mldeploy.widgets import TestRequestPanel
from jupyter_mldeploy.widgets._base import visible_text


def _service(tmp_path: Path, k_model: Any, name: str, **config: Any) -> Any:
    folder = tmp_path / name
    folder.mkdir()
    (folder / "score.py").write_text(SCALE_SCRIPT)
    service = deploy(name, [k_model], InferenceConfig("score.py", source_directory=str(folder)),
                     ProcessWebservice.deploy_configuration(**config))
    service.wait_for_deployment(timeout_sec=120)
    return service


def test_captured_tab_shows_the_last_exchanges_newest_first(tmp_path: Path, k_model: Any,
                                                            no_leaked_services: None) -> None:
    service = _service(tmp_path, k_model, "cap-panel", collect_model_data=True)
    panel = TestRequestPanel(service)
    try:
        assert panel.tabs.get_title(3) == "Captured"
        assert "Nothing captured yet." in visible_text(panel.captured_note)
        panel.editor.value = '{"data": [1, 2]}'
        panel.send_button.click()
        assert panel.wait(60)
        panel.editor.value = '{"data": [5]}'
        panel.send_button.click()
        assert panel.wait(60)
        deadline = time.monotonic() + 20
        while len(service.get_captured(5)) < 2:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        panel.captured_refresh.click()
        assert "The last 2 captured requests, newest first." in visible_text(panel.captured_note)
        table = visible_text(panel.captured_table)
        assert table.index('{"data": [5]}') < table.index('{"data": [1, 2]}')  # newest first
        assert "[15.0]" in table and "[3.0, 6.0]" in table and "/score" in table and "200" in table
    finally:
        panel.close()
        service.delete()


def test_captured_tab_of_a_service_without_capture_says_how_to_turn_it_on(tmp_path: Path, k_model: Any,
                                                                         no_leaked_services: None) -> None:
    service = _service(tmp_path, k_model, "nocap-panel")
    panel = TestRequestPanel(service)
    try:
        assert "collect_model_data=True" in visible_text(panel.captured_note)
        assert visible_text(panel.captured_table).strip() == ""
    finally:
        panel.close()
        service.delete()


def test_captured_tab_of_a_plain_url_says_it_is_for_deployed_services() -> None:
    panel = TestRequestPanel("http://127.0.0.1:9")
    try:
        assert "shown for deployed services" in visible_text(panel.captured_note)
    finally:
        panel.close()
