"""What a result was measured with: checkpoint fingerprints, software versions, CANN's version file."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tui.stages.precision.provenance import cann_version, checkpoint_fingerprint, provenance, software_versions


def test_the_fingerprint_follows_config_and_tensor_layout_not_the_path(tiny_model: Path, perturbed_model: Path,
                                                                      tmp_path: Path) -> None:
    fingerprint = checkpoint_fingerprint(tiny_model)
    assert fingerprint is not None and fingerprint.startswith("sha256:") and len(fingerprint) == 7 + 16
    copy = tmp_path / "copy"
    shutil.copytree(tiny_model, copy)
    assert checkpoint_fingerprint(copy) == fingerprint  # the same checkpoint elsewhere
    # the same layout with other values (a perturbed layer) is, by design, the same fingerprint: only headers
    assert checkpoint_fingerprint(perturbed_model) == fingerprint
    config = copy / "config.json"
    config.write_text(config.read_text().replace('"hidden_act"', '"hidden_act" ', 1))
    assert checkpoint_fingerprint(copy) != fingerprint  # an edited config shows
    assert checkpoint_fingerprint(tmp_path / "empty-folder-that-does-not-exist") is None


def test_cann_version_is_read_from_the_toolkit_install_info(tmp_path: Path) -> None:
    home = tmp_path / "ascend-toolkit" / "latest"
    (home / "aarch64-linux").mkdir(parents=True)
    (home / "aarch64-linux" / "ascend_toolkit_install.info").write_text(
        "package_name=Ascend-cann-toolkit\nversion=8.1.RC1\ninnerversion=V100R001C21SPC001B238\n")
    assert cann_version({"ASCEND_TOOLKIT_HOME": str(home)}) == "8.1.RC1"
    assert cann_version({"ASCEND_TOOLKIT_HOME": str(tmp_path / "nothing")}) in (None, cann_version({}))


def test_versions_and_the_block_a_result_carries(tiny_model: Path) -> None:
    torch = pytest.importorskip("torch")
    versions = software_versions()
    assert versions["torch"] == torch.__version__ and versions["transformers"] is not None
    assert versions["python"] and versions["torch_npu"] is None  # no torch_npu on these machines
    block = provenance(tiny_model, None, "cpu")
    assert block["reference_fingerprint"] == checkpoint_fingerprint(tiny_model)
    assert block["candidate_fingerprint"] is None and block["device_name"]
