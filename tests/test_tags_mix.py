"""The tagger's part mixture (TaggerNet.mix_labels): a second a cut splits gets the share-weighted
probability of the shots on either side of the cut."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vpos.extractors.picture import PICTURE_DIM
from vpos.tagger import DESCRIPTOR_DIM, OWN_SHARE, TaggerNet


def _descriptors(own, nxt):
    d = torch.zeros(1, len(own), DESCRIPTOR_DIM)
    d[0, :, OWN_SHARE] = torch.tensor(own)
    d[0, :, OWN_SHARE + 1] = torch.tensor(nxt)
    d[0, :, PICTURE_DIM] = 1.0  # has picture features
    return d


def test_mixed_parts_weigh_the_shots_by_their_share_of_the_second():
    net = TaggerNet(labels=["speech", "footage"], descriptors=True, picture_dim=PICTURE_DIM, mix_labels=["footage"])
    # step 0: animation throughout; step 1: 40% more animation, then a cut to footage (60%);
    # step 2: footage throughout; step 3: 70% footage, then a cut to animation; step 4: animation
    z = torch.tensor([[[3.0, -9.0], [3.0, -9.0], [-3.0, 9.0], [-3.0, 9.0], [3.0, -9.0]]])
    d = _descriptors([1.0, 0.4, 1.0, 0.7, 1.0], [1.0, 0.6, 1.0, 0.3, 1.0])
    p = torch.sigmoid(net.mixed_parts(z, d))[0].numpy()
    assert p[:, 0] == pytest.approx(torch.sigmoid(z[0, :, 0]).numpy(), abs=1e-6)  # speech is not mixed
    assert p[:, 1] == pytest.approx([0.0, 0.6, 1.0, 0.7, 0.0], abs=1e-3)
    # without picture features the logits pass through
    d[0, :, PICTURE_DIM] = 0.0
    assert torch.equal(net.mixed_parts(z, d), z)
    with pytest.raises(ValueError, match="not in the labels"):
        TaggerNet(labels=["speech"], descriptors=True, picture_dim=PICTURE_DIM, mix_labels=["footage"])
    with pytest.raises(ValueError, match="cut shares"):
        TaggerNet(labels=["footage"], descriptors=True, picture_dim=13, mix_labels=["footage"])


def test_mixed_model_forward_and_gradients():
    from vpos.tagger import AUDIO_DIM, EMBED_DIM, SENTENCE_DIM, TEXT_DIM

    torch.manual_seed(0)
    net = TaggerNet(labels=["speech", "footage", "animation"], descriptors=True, picture_dim=PICTURE_DIM, align_visual=True,
                    mix_labels=["footage", "animation"], hidden=8, proj=8, window=3)
    t = 6
    d = _descriptors([1, 0.5, 1, 1, 0.2, 1], [1, 0.5, 1, 1, 0.8, 1])
    out = net(torch.randn(2, t, EMBED_DIM), torch.randn(2, t, AUDIO_DIM), torch.rand(2, t, TEXT_DIM), torch.randn(2, SENTENCE_DIM),
              d.expand(2, -1, -1).clone())
    assert out.shape == (2, t, 3) and torch.isfinite(out).all()
    out.sum().backward()
    assert all(torch.isfinite(p.grad).all() for p in net.parameters() if p.grad is not None)
    assert np.isfinite(net.head[-1].weight.grad.numpy()).all()


def _inputs(b, t):
    from vpos.tagger import AUDIO_DIM, EMBED_DIM, SENTENCE_DIM, TEXT_DIM

    d = torch.rand(b, t, DESCRIPTOR_DIM) + 0.1
    d[..., PICTURE_DIM] = 1.0
    return torch.randn(b, t, EMBED_DIM), torch.randn(b, t, AUDIO_DIM), torch.rand(b, t, TEXT_DIM), torch.randn(b, SENTENCE_DIM), d


def test_descriptor_skip_and_picture_dropout_apart():
    torch.manual_seed(0)
    small = dict(labels=["footage", "speech"], descriptors=True, picture_dim=PICTURE_DIM, hidden=8, proj=48, window=3)
    with pytest.raises(ValueError, match="descriptor_skip needs descriptors"):
        TaggerNet(labels=["footage"], descriptor_skip=True)
    net = TaggerNet(**small, descriptor_skip=True).eval()
    xs = _inputs(2, 5)
    base = net(*xs)
    with torch.no_grad():
        net.skip_d.weight[0, 17] += 5.0  # the camera share feeds the footage logit directly
    moved = net(*xs) - base
    assert torch.allclose(moved[..., 0], 5.0 * xs[4][..., 17], atol=1e-5) and torch.allclose(moved[..., 1], torch.zeros(2, 5), atol=1e-6)

    def dropped_rows(**kw):
        """(picture statistics dropped, visual embeddings dropped) per sample of one training batch."""
        seen = {}
        model = TaggerNet(**small, modality_dropout=0.5, **kw).train()
        model.in_d.register_forward_hook(lambda m, i, o: seen.update(pic=i[0][:, 0, : PICTURE_DIM + 1].abs().sum(-1) == 0))
        model.lstm_v.register_forward_hook(lambda m, i, o: seen.update(vis=i[0][:, 0].abs().sum(-1) == 0))
        model(*_inputs(400, 2))
        return seen["pic"], seen["vis"]

    pic, vis = dropped_rows()
    assert torch.equal(pic, vis)  # default: the picture statistics drop with the visual embeddings
    pic, vis = dropped_rows(picture_dropout_apart=True)
    assert 0.35 < float(pic.float().mean()) < 0.65 and 0.35 < float(vis.float().mean()) < 0.65
    assert 0.35 < float((pic != vis).float().mean()) < 0.65  # independent draws
    pic, _ = dropped_rows(picture_dropout_apart=True, use_visual=False)
    assert pic.all()  # a modality turned off stays off


def test_camera_share_decides_footage_in_seconds_a_cut_splits():
    from vpos.tagger import CAMERA_FRAMES, camera_share_decision

    with pytest.raises(ValueError, match="not in the labels"):
        TaggerNet(labels=["speech"], camera_share_labels=["footage"])
    net = TaggerNet(labels=["speech", "footage"], descriptors=True, picture_dim=PICTURE_DIM, camera_share_labels=["footage"])
    probs = np.full((4, 2), 0.9, np.float32)  # the network says footage everywhere
    d = _descriptors([1.0, 0.4, 0.3, 1.0], [1.0, 0.6, 0.7, 1.0])[0].numpy()
    d[:, CAMERA_FRAMES] = [0.1, 0.6, 0.2, 0.0]  # seconds 1 and 2 are split by a cut; 60% and 20% camera frames
    out = camera_share_decision(net, probs, d)
    assert out[:, 1].tolist() == pytest.approx([0.9, 1.0, 0.0, 0.9])  # no cut: the network's probability
    assert (out[:, 0] == probs[:, 0]).all()  # other labels untouched
    plain = TaggerNet(labels=["speech", "footage"], descriptors=True, picture_dim=PICTURE_DIM)
    assert camera_share_decision(plain, probs, d) is probs
