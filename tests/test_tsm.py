"""Temporal shift: offline shifts, online streaming equal to offline unidirectional, official layout."""

from __future__ import annotations

import re

import pytest
import torch

from vpos.errors import ModelLoadError
from vpos.tsm import HOW_TO_ADD, TemporalShift, TSMResNet50, load_official, official_state_dict, shift


def test_bidirectional_and_unidirectional_shift():
    t, c = 4, 16
    x = torch.arange(t * c, dtype=torch.float32).view(t, c, 1, 1) + 1
    y = shift(x, t, 8, "bidirectional")
    fold = c // 8
    assert torch.equal(y[:-1, :fold], x[1:, :fold]) and (y[-1, :fold] == 0).all()  # from the future
    assert torch.equal(y[1:, fold:2 * fold], x[:-1, fold:2 * fold]) and (y[0, fold:2 * fold] == 0).all()  # from the past
    assert torch.equal(y[:, 2 * fold:], x[:, 2 * fold:])
    u = shift(x, t, 8, "unidirectional")
    assert torch.equal(u[1:, :fold], x[:-1, :fold]) and torch.equal(u[:, fold:], x[:, fold:])


def test_online_buffer_equals_offline_unidirectional():
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(16, 8, 3, padding=1)
    x = torch.randn(6, 16, 5, 5)
    offline = TemporalShift(conv, n_segment=6, mode="unidirectional")(x)
    online = TemporalShift(conv, n_segment=6, mode="online")
    frames = torch.cat([online(x[i:i + 1]) for i in range(6)])
    assert torch.allclose(frames, offline, atol=1e-6)


def test_tsm_resnet50_streams_frame_by_frame():
    torch.manual_seed(0)
    m = TSMResNet50(num_classes=7, n_segment=4, mode="unidirectional", arch="resnet18").eval()  # same blocks' conv1 shifted; small
    x = torch.randn(4, 3, 32, 32)
    with torch.no_grad():
        offline = m.frame_logits(x)
        m.set_mode("online")
        online = torch.cat([m.frame_logits(x[i:i + 1]) for i in range(4)])
        m.set_mode("bidirectional")
        bi = m.frame_logits(x)
    assert torch.allclose(online, offline, atol=1e-4)
    assert not torch.allclose(bi, offline, atol=1e-4)  # the future matters offline


def _official_layout_state_dict(num_classes=400):
    """A state dict built the way the official TSM code names it, from plain torchvision ResNet-50."""
    from torchvision.models import resnet50

    sd = {}
    for k, v in resnet50(weights=None).state_dict().items():
        if k.startswith("fc."):
            continue
        k = re.sub(r"^(layer\d\.\d+)\.conv1\.weight$", r"\1.conv1.net.weight", k)
        sd[f"module.base_model.{k}"] = v.clone()
    sd["module.new_fc.weight"] = torch.randn(num_classes, 2048) * 0.01
    sd["module.new_fc.bias"] = torch.zeros(num_classes)
    return sd


def test_official_checkpoint_layout_loads_strictly(tmp_path):
    sd = _official_layout_state_dict()
    assert "module.base_model.layer1.0.conv1.net.weight" in sd and "module.base_model.conv1.weight" in sd
    path = tmp_path / "TSM_kinetics_RGB_resnet50_shift8_blockres_avg_segment8_e50.pth"
    torch.save({"epoch": 50, "state_dict": sd}, path)
    m = load_official(path)
    assert set(official_state_dict(m)) == set(sd)
    assert torch.equal(m.new_fc.weight, sd["module.new_fc.weight"])
    with torch.no_grad():
        out = m(torch.randn(1, 8, 3, 32, 32))
    assert out.shape == (1, 400)
    plain = {k.replace(".conv1.net.", ".conv1."): v for k, v in sd.items()}
    with pytest.raises(ModelLoadError):
        load_official(plain)


def test_files_that_are_no_checkpoint_are_refused_in_one_line(tmp_path):
    """A wrong file pasted in the app's weights box: one readable line, never a model with random weights."""
    fake = tmp_path / "TSM_kinetics.pth"
    fake.write_text("not a checkpoint\n")
    with pytest.raises(ModelLoadError, match="do not load: not a checkpoint of tensors") as err:
        load_official(fake)
    assert "\n" not in str(err.value)
    tensor = tmp_path / "tensor.pth"
    torch.save(torch.zeros(3), tensor)
    with pytest.raises(ModelLoadError, match="no state dict"):
        load_official(tensor)
    with pytest.raises(ModelLoadError, match="not found"):
        load_official(tmp_path / "missing.pth")


def test_actions_without_weights_says_how_to_add(clips, capsys, monkeypatch):
    from vpos.cli import main

    monkeypatch.delenv("VPOS_TSM_WEIGHTS", raising=False)
    path, _ = clips["demo"]
    assert main(["actions", str(path)]) == 2
    err = capsys.readouterr().err
    assert "no TSM Kinetics-400 weights" in err and "--tsm-weights" in err
    assert "--tsm-weights" in HOW_TO_ADD
