#!/usr/bin/env python3
"""dev/fit_softplus.py — the coefficients of elbo_log1p_over_e and
elbo_log_log1p_over_e in src/nn/fastmath.h: least-squares polynomial fits
on 4,000 Chebyshev nodes of [0, 1], in double, of

    P1(e) = log1p(e) / e          (degree 9, constant term 1, weighted for
                                   relative error)
    P2(e) = log(log1p(e) / e)     (degree 8, constant term 0)

printed as float literals with the largest error of their float Horner
evaluation. Needs numpy (Debian's python3-numpy).  Usage: dev/fit_softplus.py
"""
import numpy as np
from numpy.polynomial import chebyshev as C, polynomial as P

e = (0.5 - 0.5 * np.cos(np.linspace(0, np.pi, 4001)))[1:]
f1 = np.log1p(e) / e
f2 = np.log(f1)


def fit(target, deg, w):
    """A fit in x = 2e - 1 by Chebyshev series, returned as powers of e."""
    p = C.cheb2poly(C.chebfit(2 * e - 1, target, deg, w=w))
    q = np.zeros(1)
    for k, a in enumerate(p):
        q = P.polyadd(q, a * P.polypow([-1, 2], k))
    return q


def horner(q, x):
    acc = np.float32(q[-1]) * np.ones_like(x)
    for a in q[-2::-1]:
        acc = (acc * x + np.float32(a)).astype(np.float32)
    return acc


ef = e.astype(np.float32)
p1 = np.concatenate([[1.0], fit((f1 - 1) / e, 8, e / f1)]).astype(np.float32)
p2 = np.concatenate([[0.0], fit(f2 / e, 7, e)]).astype(np.float32)
print("P1 relative error %.2e" % np.max(np.abs(horner(p1, ef) - f1) / f1))
print("   " + ", ".join("%.9ef" % a for a in p1))
print("P2 absolute error %.2e" % np.max(np.abs(horner(p2, ef) - f2)))
print("   " + ", ".join("%.9ef" % a for a in p2))
