"""A plain NumPy float64 re-statement of one dA training step, derived by hand, for checking
the C++ core. Nothing here calls the core."""
from __future__ import annotations

import numpy as np


def act(a, kind):
    if kind == "sigmoid":
        return 1.0 / (1.0 + np.exp(-a))
    if kind == "tanh":
        return np.tanh(a)
    if kind == "relu":
        return np.maximum(a, 0.0)
    return a  # linear


def act_grad(h, kind):
    """ds/da written from the output h = s(a)."""
    if kind == "sigmoid":
        return h * (1.0 - h)
    if kind == "tanh":
        return 1.0 - h * h
    if kind == "relu":
        return (h > 0).astype(float)
    return np.ones_like(h)


def unpack(theta, n_in, n_hidden, tied):
    theta = np.asarray(theta, dtype=np.float64)
    W = theta[: n_in * n_hidden].reshape(n_in, n_hidden)
    b = theta[n_in * n_hidden : n_in * n_hidden + n_hidden]
    c = theta[n_in * n_hidden + n_hidden : n_in * n_hidden + n_hidden + n_in]
    Wd = W.T if tied else theta[n_in * n_hidden + n_hidden + n_in :].reshape(n_hidden, n_in)
    return W, b, c, Wd


def loss(theta, X, Xt, n_in, n_hidden, tied, encoder, decoder, loss_kind):
    """Mean over rows of the per-row summed loss."""
    W, b, c, Wd = unpack(theta, n_in, n_hidden, tied)
    X, Xt = np.asarray(X, np.float64), np.asarray(Xt, np.float64)
    H = act(Xt @ W + b, encoder)
    Z = act(H @ Wd + c, decoder)
    if loss_kind == "cross-entropy":
        return float(-np.sum(X * np.log(Z) + (1 - X) * np.log(1 - Z)) / len(X))
    return float(np.sum((Z - X) ** 2) / len(X))


def gradient(theta, X, Xt, n_in, n_hidden, tied, encoder, decoder, loss_kind):
    """Backpropagation by hand: returns the flat gradient in the core's layout."""
    W, b, c, Wd = unpack(theta, n_in, n_hidden, tied)
    X, Xt = np.asarray(X, np.float64), np.asarray(Xt, np.float64)
    B = len(X)
    H = act(Xt @ W + b, encoder)
    Z = act(H @ Wd + c, decoder)
    if loss_kind == "cross-entropy":  # with a sigmoid decoder the two derivatives cancel
        D2 = (Z - X) / B
    else:
        D2 = 2.0 * (Z - X) * act_grad(Z, decoder) / B
    gc = D2.sum(axis=0)
    D1 = (D2 @ Wd.T) * act_grad(H, encoder)
    gb = D1.sum(axis=0)
    gW = Xt.T @ D1
    parts = [None, gb, gc]
    if tied:
        gW = gW + D2.T @ H
        parts[0] = gW
    else:
        parts[0] = gW
        parts.append(H.T @ D2)
    return np.concatenate([p.ravel() for p in parts])


def update(theta, grad, m, v, step, optimizer, lr, momentum=0.9, beta1=0.9, beta2=0.999, eps=1e-8):
    """Update number `step` (from 1), textbook forms. Returns new (theta, m, v)."""
    theta, grad = np.asarray(theta, np.float64), np.asarray(grad, np.float64)
    if optimizer == "sgd":
        return theta - lr * grad, m, v
    if optimizer == "momentum":
        m = momentum * m - lr * grad
        return theta + m, m, v
    m = beta1 * m + (1 - beta1) * grad
    v = beta2 * v + (1 - beta2) * grad**2
    m_hat = m / (1 - beta1**step)
    v_hat = v / (1 - beta2**step)
    return theta - lr * m_hat / (np.sqrt(v_hat) + eps), m, v


# --- the stack, for fine-tuning ------------------------------------------------------------------

def stack_unpack(theta, dims):
    """dims: [(n_in, n_out), ...] → [(M, bias), ...] views in the core's layout."""
    theta = np.asarray(theta, dtype=np.float64)
    out, at = [], 0
    for n_in, n_out in dims:
        M = theta[at : at + n_in * n_out].reshape(n_in, n_out)
        at += n_in * n_out
        out.append((M, theta[at : at + n_out]))
        at += n_out
    return out


def stack_forward(theta, dims, acts, loss_kind, X, masks=None, before_masks=None):
    """All activations [X, A1, ..., output]; softmax on the last layer for "nll". masks: one
    (rows, n_out) array per hidden layer that multiplies its output (dropout: 0 or 1/(1-p));
    before_masks, if a list, receives each hidden layer's output before its mask."""
    A = [np.asarray(X, np.float64)]
    params = stack_unpack(theta, dims)
    for j, (M, bias) in enumerate(params):
        Z = A[-1] @ M + bias
        if j == len(params) - 1 and loss_kind == "nll":
            E = np.exp(Z - Z.max(axis=1, keepdims=True))
            A.append(E / E.sum(axis=1, keepdims=True))
        else:
            A.append(act(Z, acts[j]))
        if j < len(params) - 1:
            if before_masks is not None:
                before_masks.append(A[-1])
            if masks is not None:
                A[-1] = A[-1] * masks[j]
    return A


def stack_loss(theta, dims, acts, loss_kind, X, Y, masks=None):
    P = stack_forward(theta, dims, acts, loss_kind, X, masks)[-1]
    Y = np.asarray(Y, np.float64)
    if loss_kind == "nll":
        rows = -np.sum(Y * np.log(P), axis=1)
    elif loss_kind == "cross-entropy":
        rows = -np.sum(Y * np.log(P) + (1 - Y) * np.log(1 - P), axis=1)
    else:
        rows = np.sum((P - Y) ** 2, axis=1)
    return float(rows.mean())


def stack_gradient(theta, dims, acts, loss_kind, X, Y, masks=None):
    unmasked = []
    A = stack_forward(theta, dims, acts, loss_kind, X, masks, unmasked)
    params = stack_unpack(theta, dims)
    Y = np.asarray(Y, np.float64)
    B = len(Y)
    if loss_kind in ("nll", "cross-entropy"):  # softmax/sigmoid output: the derivatives cancel
        D = (A[-1] - Y) / B
    else:
        D = 2 * (A[-1] - Y) * act_grad(A[-1], acts[-1]) / B
    grads = [None] * len(params)
    for j in range(len(params) - 1, -1, -1):
        M, _ = params[j]
        grads[j] = (A[j].T @ D, D.sum(axis=0))
        if j:
            D = (D @ M.T) * act_grad(unmasked[j - 1], acts[j - 1])
            if masks is not None:
                D = D * masks[j - 1]
    return np.concatenate([np.concatenate([gM.ravel(), gb]) for gM, gb in grads])
