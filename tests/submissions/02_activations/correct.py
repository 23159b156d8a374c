"""A correct student submission for 02_activations, written differently from the reference.

Every function stands alone (none calls another), so a bug planted in one cannot cost another points.
"""

import numpy as np


def sigmoid(z):
    z = np.asarray(z)
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1 / (1 + e), e / (1 + e)).astype(z.dtype)


def sigmoid_grad(z):
    z = np.asarray(z)
    e = np.exp(-np.abs(z))
    return (e / (1 + e) ** 2).astype(z.dtype)


def tanh(z):
    return np.tanh(z)


def tanh_grad(z):
    return 1 - np.tanh(z) ** 2


def relu(z):
    return np.maximum(z, 0)


def relu_grad(z):
    return (z > 0).astype(z.dtype)


def leaky_relu(z, alpha=0.01):
    return np.where(z > 0, z, z * alpha).astype(z.dtype)


def leaky_relu_grad(z, alpha=0.01):
    return np.where(z > 0, 1, alpha).astype(z.dtype)


def softmax(z, axis=-1):
    shifted = z - np.max(z, axis=axis, keepdims=True)
    e = np.exp(shifted)
    return e / np.sum(e, axis=axis, keepdims=True)


def log_softmax(z, axis=-1):
    shifted = z - np.max(z, axis=axis, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))
