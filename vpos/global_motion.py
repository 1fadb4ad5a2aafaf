"""Global camera motion between grey frames: a similarity transform (translation, log-scale,
rotation) fitted directly to the pixels, coarse to fine.

Why: the motion classes are the camera's global motion, and a small CNN on frames and
differences does not reliably learn the SIGN of a zoom (in versus out) from a few thousand
seconds of video; an explicit fit gives it as one number (log-scale > 0: the picture grows, the
camera zooms in).  The method is the classic hierarchical model-based direct estimation (Bergen et
al. 1992; Lucas-Kanade with a parametric flow): the flow of a pixel at (x, y) (centred, in units of
half the frame height) is

    u = tx + a*x - b*y,    v = ty + b*x + a*y

(a = log-scale, b = rotation in radians, for small steps); brightness constancy linearised around
the current estimate gives a 4x4 least-squares system per frame pair, solved on a 3-level pyramid
(48x27, 24x14, 12x7 for 96x54 frames) with the second frame warped by the estimate (a few
Gauss-Newton steps per level).  Every pair of a batch is solved at once (torch), at a cost of the
order of the motion CNN's own (cheaper than cv2's dense Farneback flow on the same frames; the
extraction-time share: bench/motion_speed.py).

Per frame pair `pair_motion` returns, in the corpus truth's units (`vpos/corpus/truth.py`: frame
heights per second at MOTION_RATE frames per second, so the truth's MOVE_SPEED 0.04 applies):
  0 dx        horizontal camera speed, signed: > 0 when the picture moves right (camera pans left)
  1 dy        vertical, > 0 when the picture moves down
  2 zoom      log-scale speed * W / 2H (the apparent speed at the frame's left/right edge), > 0 in
  3 rotation  radians per second
  4 residual  rms error left after the fit / rms frame difference (1: the model explains nothing,
              e.g. a cut, a character moving over a still background)
  5 change    rms frame difference (frames normalised to unit contrast): 0 for a still picture
  6-9         dx, dy, zoom, rotation fitted to the border ring only (outside the frame's central
              half in each direction, where the background shows around characters that do not
              move with the camera)
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

N_FEATURES = 10
FEATURE_NAMES = ["dx", "dy", "zoom", "rotation", "residual", "change", "ring_dx", "ring_dy", "ring_zoom", "ring_rotation"]
LEVELS = 3
ITERS = (1, 2, 3)  # Gauss-Newton steps at the finest .. coarsest level
SPEED_LIMIT = 3.0  # |speed| bound of every output (frame heights or radians per second)
DAMPING = 1e-3  # keeps the 4x4 system solvable on flat frames (the estimate stays at 0 there)


def _normalise(f: torch.Tensor) -> torch.Tensor:
    """(N, H, W) -> zero mean, unit contrast per frame (fades and exposure do not read as motion)."""
    m = f.mean((1, 2), keepdim=True)
    s = f.std((1, 2), keepdim=True).clamp_min(2.0)
    return (f - m) / s


def _coords(h: int, w: int, full_h: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Pixel centres of an (h, w) level in units of half the full frame height, centred."""
    scale = full_h / h  # full-resolution pixels per pixel of this level
    ys = (torch.arange(h, dtype=torch.float32) - (h - 1) / 2) * scale / (full_h / 2)
    xs = (torch.arange(w, dtype=torch.float32) - (w - 1) / 2) * scale / (full_h / 2)
    return xs.view(1, 1, w).expand(1, h, w), ys.view(1, h, 1).expand(1, h, w)


def _warp(img: torch.Tensor, p: torch.Tensor, xs: torch.Tensor, ys: torch.Tensor, unit: tuple[float, float]) -> tuple[torch.Tensor, torch.Tensor]:
    """Sample img (N, h, w) at (x + u, y + v) for the params p (N, 4); also the in-frame mask."""
    tx, ty, a, b = (p[:, k].view(-1, 1, 1) for k in range(4))
    u = tx + a * xs - b * ys
    v = ty + b * xs + a * ys
    gx = (xs + u) * (1.0 / unit[0])
    gy = (ys + v) * (1.0 / unit[1])
    grid = torch.stack([gx, gy], -1)
    out = F.grid_sample(img.unsqueeze(1), grid, mode="bilinear", padding_mode="border", align_corners=True).squeeze(1)
    inside = ((gx.abs() <= 1) & (gy.abs() <= 1)).float()
    return out, inside


def _normal_matrix(J: torch.Tensor, wgt: torch.Tensor) -> torch.Tensor:
    """(N, P, 4) Jacobian, (1 or N, P) weights -> the damped 4x4 normal matrices (N, 4, 4)."""
    A = torch.einsum("npi,npj->nij", J * wgt.unsqueeze(-1), J) / wgt.sum(1).clamp_min(1.0).view(-1, 1, 1)
    return A + DAMPING * torch.eye(4).unsqueeze(0)


def _step(A: torch.Tensor, J: torch.Tensor, r: torch.Tensor, wgt: torch.Tensor) -> torch.Tensor:
    """Gauss-Newton step: the weighted least-squares dp of J dp = -r (N, 4)."""
    g = torch.einsum("npi,np->ni", J, r * wgt) / wgt.sum(1).clamp_min(1.0).view(-1, 1)
    return -torch.linalg.solve(A, g.unsqueeze(-1)).squeeze(-1)


def _jacobian(img: torch.Tensor, xs: torch.Tensor, ys: torch.Tensor, px_per_unit: float) -> torch.Tensor:
    """d img(x + flow) / d (tx, ty, a, b) at zero flow: (N, h*w, 4)."""
    gy, gx = torch.gradient(img * px_per_unit, dim=(1, 2))  # intensity per unit of half-height
    return torch.stack([gx, gy, gx * xs + gy * ys, gy * xs - gx * ys], -1).flatten(1, 2)


def _inner(h: int, w: int, margin: int) -> torch.Tensor:
    """(1, h*w) weights: 1 away from the frame's edge (where warped samples leave the frame)."""
    m = torch.zeros(h, w)
    m[margin:h - margin, margin:w - margin] = 1.0
    return m.view(1, -1)


@torch.inference_mode()
def pair_motion(first: np.ndarray | torch.Tensor, second: np.ndarray | torch.Tensor, rate: float = 8.0) -> np.ndarray:
    """Global motion from each `first` frame to its `second` frame: (N, H, W) grey uint8/float
    -> (N, N_FEATURES) float32 (see the module docstring; speeds per second at `rate` frames per
    second)."""
    f0 = _normalise(torch.as_tensor(np.asarray(first), dtype=torch.float32))
    f1 = _normalise(torch.as_tensor(np.asarray(second), dtype=torch.float32))
    n, H, W = f0.shape
    if n == 0:
        return np.zeros((0, N_FEATURES), np.float32)
    # The finest level is half the frame (48x27 for 96x54): the fit pools thousands of pixels,
    # so it resolves a tenth of a pixel there, at a quarter of the cost.
    pyr0 = [F.avg_pool2d(f0.unsqueeze(1), 2, ceil_mode=True).squeeze(1)]
    pyr1 = [F.avg_pool2d(f1.unsqueeze(1), 2, ceil_mode=True).squeeze(1)]
    for _ in range(LEVELS - 1):
        pyr0.append(F.avg_pool2d(pyr0[-1].unsqueeze(1), 2, ceil_mode=True).squeeze(1))
        pyr1.append(F.avg_pool2d(pyr1[-1].unsqueeze(1), 2, ceil_mode=True).squeeze(1))
    # Forward-additive Gauss-Newton with the first frame's Jacobian held fixed per level: the
    # normal matrix is built once per level and each step costs one warp and one product.
    p = torch.zeros(n, 4)
    for level in range(LEVELS - 1, -1, -1):
        a0, a1 = pyr0[level], pyr1[level]
        h, w = a0.shape[1:]
        xs, ys = _coords(h, w, H)
        unit = (float(xs[0, 0, -1]), float(ys[0, -1, 0]))
        J = _jacobian(a0, xs, ys, h / 2)
        wgt = _inner(h, w, 1)
        A = _normal_matrix(J, wgt)
        for _ in range(ITERS[level]):
            warped, _ = _warp(a1, p, xs, ys, unit)
            p = p + _step(A, J, (warped - a0).flatten(1), wgt)
    warped, inside = _warp(a1, p, xs, ys, unit)
    r = (warped - a0).flatten(1)
    m = inside.flatten(1) * wgt
    change = ((a1 - a0).pow(2).flatten(1) * wgt).sum(1).div(wgt.sum()).sqrt()
    residual = ((r.pow(2) * m).sum(1) / m.sum(1).clamp_min(1)).sqrt() / change.clamp_min(1e-3)
    ring = wgt * ((xs.abs() > 0.5 * unit[0]) | (ys.abs() > 0.5)).float().flatten(1)
    p_ring = p + _step(_normal_matrix(J, ring), J, r, ring)
    # warped(x) = second(x + flow(x)) matches first(x): what was at x is at x + flow one frame
    # later, so p is the picture's own motion (a zoom in grows the picture: a > 0).  Units: half
    # heights per frame -> frame heights per second; the zoom as the speed at the left/right edge.
    to_speed = torch.tensor([rate / 2, rate / 2, rate * W / (2 * H), rate])
    # A pair across a cut has no global motion; the fit can run off there: bound the speeds
    # (3 frame heights per second is far beyond any camera move; the residual flags the pair).
    out = torch.cat([(p * to_speed).clamp(-SPEED_LIMIT, SPEED_LIMIT), residual.clamp(0, 4).unsqueeze(1), change.unsqueeze(1), (p_ring * to_speed).clamp(-SPEED_LIMIT, SPEED_LIMIT)], 1)
    return out.numpy().astype(np.float32)


def window_motion(windows: np.ndarray, rate: float = 8.0) -> np.ndarray:
    """(S, T + 1, H, W) grey windows -> (S, T, N_FEATURES): the global motion of each step
    (frame t to frame t + 1)."""
    s, t1 = windows.shape[:2]
    if s == 0:
        return np.zeros((0, max(0, t1 - 1), N_FEATURES), np.float32)
    w = np.asarray(windows)
    feats = pair_motion(w[:, :-1].reshape(-1, *w.shape[2:]), w[:, 1:].reshape(-1, *w.shape[2:]), rate)
    return feats.reshape(s, t1 - 1, N_FEATURES)
