#!/usr/bin/env python3
"""LDA fixture from scikit-learn (Debian's python3-sklearn): a small corpus,
a lambda, and what scikit-learn computes from them, for tests/test_lda.c.

    /usr/bin/python3 dev/make_lda_fixture.py

Writes tests/fixtures/lda_small.safetensors (float32 tensors; the counts
and settings in __metadata__):
  lambda [K, V]   the starting topics (scikit-learn's components_)
  counts [D, V]   the corpus, dense
  gamma  [D, K]   the E-step's gamma from 1 (LatentDirichletAllocation._e_step
                  with random_init=False, as transform runs it)
  sstats [K, V]   the sufficient statistics of that E-step (times exp E[log beta])
  lambda_tiny [K, V]    lambda with word 0 at 1e-3 in every topic (its
                  perplexity_tiny: a word of almost no probability, scored exactly)
  lambda_online [K, V]  one online update from them: (1 - rho) lambda +
                  rho (eta + D/B sstats) with rho = (tau0 + 1)^-kappa, the D documents
                  a minibatch B of a corpus of 2D (scikit-learn's total_samples = 2D)
and the metadata perplexity (LatentDirichletAllocation.perplexity, with the
global term), bound_docs (the bound without the topic-word term),
global_term, rho."""
import os
import sys

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.decomposition import LatentDirichletAllocation
from sklearn.decomposition._online_lda_fast import _dirichlet_expectation_2d
from scipy.special import gammaln

sys.path.insert(0, os.path.dirname(__file__))
from make_fixture import ROOT, save_safetensors  # noqa: E402

D, V, K = 12, 15, 3
rng = np.random.RandomState(7)
counts = np.zeros((D, V))
for d in range(D):  # documents of 5..25 words over a few topics
    words = rng.choice(V, size=rng.randint(5, 26), p=rng.dirichlet(np.full(V, 0.3)))
    for w in words:
        counts[d, w] += 1
counts = counts[counts.sum(1) > 0]
D = counts.shape[0]
X = sp.csr_matrix(counts)
lam = rng.gamma(100.0, 0.01, (K, V)) * rng.uniform(0.5, 3.0, (K, V))
lam = lam.astype(np.float32).astype(np.float64)  # the float32 values the C side reads
alpha = eta = 1.0 / K
tau0, kappa = 10.0, 0.7

lda = LatentDirichletAllocation(n_components=K, doc_topic_prior=alpha, topic_word_prior=eta,
                                learning_method='online', learning_offset=tau0, learning_decay=kappa,
                                max_doc_update_iter=100, mean_change_tol=1e-3, total_samples=D)
lda.fit(X[:1])  # sets the fitted attributes; everything below replaces them
lda.components_ = lam.copy()
lda.exp_dirichlet_component_ = np.exp(_dirichlet_expectation_2d(lam))
gamma, sstats = lda._e_step(X, cal_sstats=True, random_init=False)
perplexity = lda.perplexity(X)
full = lda._approx_bound(X, gamma, sub_sampling=False)
Elogbeta = _dirichlet_expectation_2d(lam)
global_term = float(np.sum((eta - lam) * Elogbeta) + np.sum(gammaln(lam) - gammaln(eta))
                    + np.sum(gammaln(eta * V) - gammaln(np.sum(lam, 1))))
rho = (tau0 + 1) ** -kappa
lam_online = (1 - rho) * lam + rho * (eta + (2 * D) / D * sstats)  # the minibatch is half of a corpus of 2D

# a word the topics give almost no probability (E[log beta] near -1000): the
# bound must score it exactly, as scikit-learn's logsumexp does
lam_tiny = lam.copy()
lam_tiny[:, 0] = np.float32(1e-3)
lda.components_ = lam_tiny.copy()
lda.exp_dirichlet_component_ = np.exp(_dirichlet_expectation_2d(lam_tiny))
perplexity_tiny = lda.perplexity(X)

out = {'lambda': lam, 'lambda_tiny': lam_tiny, 'counts': counts, 'gamma': gamma, 'sstats': sstats, 'lambda_online': lam_online}
meta = {'K': str(K), 'V': str(V), 'D': str(D), 'alpha': repr(alpha), 'eta': repr(eta), 'tau0': repr(tau0),
        'kappa': repr(kappa), 'perplexity': repr(float(perplexity)), 'bound_docs': repr(float(full - global_term)),
        'global_term': repr(global_term), 'rho': repr(rho), 'perplexity_tiny': repr(float(perplexity_tiny)), 'tokens': repr(float(counts.sum()))}
path = os.path.join(ROOT, 'tests', 'fixtures', 'lda_small.safetensors')
save_safetensors(path, {k: torch.from_numpy(np.asarray(v, dtype=np.float32)) for k, v in out.items()}, meta)
print('wrote', path, meta)
