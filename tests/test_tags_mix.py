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
