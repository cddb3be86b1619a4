"""Adam and AdamW (Kingma & Ba 2015; Loshchilov & Hutter 2019), functional and backend-agnostic.

The one optimizer of nmfdnn, used by the backpropagation baseline (:mod:`nmfdnn.baselines`,
ALGORITHMS.md §5) and by weakly non-negative matrix factorization
(:func:`nmfdnn.factorizations.weak_nmf_train`, §6).  Updates return new arrays (no in-place
writes, so JAX works); the bias corrections are host floats computed from the Python step count.
"""

from __future__ import annotations

from dataclasses import dataclass

from nmfdnn._ops import flush_subnormal

__all__ = ["AdamState", "adam_init", "adam_step", "adam_update"]


def adam_update(theta, grad, m, v, t, *, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8,
                weight_decay=0.0, xp):
    """One Adam step of one array; AdamW when ``weight_decay > 0``.

    .. math::

        θ &← θ − α λ θ \\quad (\\text{decoupled weight decay, AdamW}) \\\\
        m &← β_1 m + (1 − β_1) g, \\qquad v ← β_2 v + (1 − β_2) g^2 \\\\
        θ &← θ − α \\frac{m / (1 − β_1^t)}{\\sqrt{v / (1 − β_2^t)} + ε}

    (PyTorch's ``AdamW`` convention for the decay: ``θ ← θ(1 − αλ)`` before the Adam step.)
    Moments that decay into the subnormal range are flushed to zero
    (:func:`nmfdnn._ops.flush_subnormal`): subnormal arithmetic is 10–100× slower on x86.

    Parameters
    ----------
    theta, grad, m, v : arrays of the same shape
        Parameter, its gradient, and the first and second moment estimates.
    t : int
        Step number (≥ 1) of the bias corrections.
    lr, beta1, beta2, eps : float, default=(1e-3, 0.9, 0.999, 1e-8)
        α, β₁, β₂ and ε.
    weight_decay : float, default=0.0
        λ of the decoupled weight decay (0: plain Adam).
    xp : namespace

    Returns
    -------
    theta, m, v : arrays
        The updated parameter and moments.
    """
    c1 = 1.0 - beta1**t
    c2 = 1.0 - beta2**t
    m = flush_subnormal(beta1 * m + (1.0 - beta1) * grad, xp=xp)
    v = flush_subnormal(beta2 * v + (1.0 - beta2) * (grad * grad), xp=xp)
    step = (m / c1) / (xp.sqrt(v / c2) + eps)
    if weight_decay:
        theta = theta - (lr * weight_decay) * theta
    return theta - lr * step, m, v


@dataclass
class AdamState:
    """First and second moment estimates (same structure as the parameters) and step count.

    Parameters
    ----------
    m, v : list of tuples of arrays
        Moments, one tuple per layer, shaped like the parameters.
    t : int
        Steps taken.
    """

    m: list
    v: list
    t: int = 0


def adam_init(params, *, xp):
    """Zero moments for every parameter array of ``params`` (a list of tuples of arrays).

    Parameters
    ----------
    params : list of tuples of arrays
    xp : namespace

    Returns
    -------
    AdamState
    """
    zeros = [tuple(xp.zeros_like(p) for p in layer) for layer in params]
    return AdamState(m=zeros, v=[tuple(z) for z in zeros], t=0)


def adam_step(params, grads, state, *, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8,
              weight_decay=0.0, xp):
    """One Adam (AdamW) step of every parameter array: :func:`adam_update` over the layers.

    Parameters
    ----------
    params, grads : list of tuples of arrays
        Parameters and their gradients, one tuple per layer.
    state : AdamState
    lr, beta1, beta2, eps, weight_decay : float
        See :func:`adam_update`.
    xp : namespace

    Returns
    -------
    params : list of tuples of arrays
    state : AdamState
    """
    t = state.t + 1
    new_params, new_m, new_v = [], [], []
    for layer, glayer, mlayer, vlayer in zip(params, grads, state.m, state.v):
        P, M, V = [], [], []
        for p, g, m_, v_ in zip(layer, glayer, mlayer, vlayer):
            p, m_, v_ = adam_update(p, g, m_, v_, t, lr=lr, beta1=beta1, beta2=beta2, eps=eps,
                                    weight_decay=weight_decay, xp=xp)
            P.append(p)
            M.append(m_)
            V.append(v_)
        new_params.append(tuple(P))
        new_m.append(tuple(M))
        new_v.append(tuple(V))
    return new_params, AdamState(m=new_m, v=new_v, t=t)
