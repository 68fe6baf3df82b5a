#!/usr/bin/env python3
"""One peer LDA fit on an lda-c corpus, for bench/lda_bench.sh: scikit-learn
(online or batch) or gensim, with the settings given. Writes the fitted
lambda [K, V] as float32 .npy (scikit-learn's components_, gensim's
state.get_lambda()) and prints one JSON line: the wall and CPU time of the
fit alone (the CPU time is the fair figure when the machine is shared: the
peers run on one thread) and, for scikit-learn, its own perplexity on the test set (a check
that elbo's evaluation of the same lambda agrees with scikit-learn's).

    lda_peers.py PEER TRAIN.ldac TEST.ldac V OUT.npy --topics K --passes P
                 --seed S [--batch B --tau0 T --kappa K] [--threads N]
PEER: sklearn-online, sklearn-batch, gensim."""
import argparse
import json
import time

import numpy as np
import scipy.sparse as sp


def read_ldac(path, V):
    rows, cols, vals = [], [], []
    with open(path) as f:
        for d, line in enumerate(f):
            parts = line.split()
            for p in parts[1:]:
                i, c = p.split(':')
                rows.append(d)
                cols.append(int(i))
                vals.append(float(c))
    n = 1 + max(rows)
    return sp.csr_matrix((vals, (rows, cols)), shape=(n, V))


def fit_sklearn(method, X, Xt, a):
    from sklearn.decomposition import LatentDirichletAllocation
    kw = dict(n_components=a.topics, learning_method=method, doc_topic_prior=1.0 / a.topics,
              topic_word_prior=1.0 / a.topics, max_iter=a.passes, max_doc_update_iter=a.estep_iters,
              mean_change_tol=a.estep_tol, random_state=a.seed, n_jobs=a.threads)
    if method == 'online':
        kw.update(total_samples=X.shape[0])
        if a.batch: kw['batch_size'] = a.batch
        if a.tau0 is not None: kw['learning_offset'] = a.tau0
        if a.kappa is not None: kw['learning_decay'] = a.kappa
    lda = LatentDirichletAllocation(**kw)
    t0, c0 = time.perf_counter(), time.process_time()
    lda.fit(X)
    secs, cpu = time.perf_counter() - t0, time.process_time() - c0
    return lda.components_, secs, {'cpu_seconds': cpu, 'sklearn_perplexity': float(lda.perplexity(Xt))}


def fit_gensim(X, a):
    from gensim.models import LdaModel, LdaMulticore
    corpus = [list(zip(X.indices[X.indptr[d]:X.indptr[d + 1]].tolist(),
                       X.data[X.indptr[d]:X.indptr[d + 1]].astype(int).tolist())) for d in range(X.shape[0])]
    K = a.topics
    kw = dict(corpus=corpus, num_topics=K, id2word={i: str(i) for i in range(X.shape[1])},
              alpha=np.full(K, 1.0 / K), eta=1.0 / K, passes=a.passes, iterations=a.estep_iters,
              gamma_threshold=a.estep_tol, random_state=a.seed, eval_every=None)
    if a.batch: kw['chunksize'] = a.batch
    if a.tau0 is not None: kw['offset'] = a.tau0
    if a.kappa is not None: kw['decay'] = a.kappa
    t0, c0 = time.perf_counter(), time.process_time()
    if a.threads > 1:
        kw['alpha'] = kw['alpha']  # LdaMulticore takes the same priors
        m = LdaMulticore(workers=a.threads - 1, **kw)
    else:
        m = LdaModel(**kw)
    secs, cpu = time.perf_counter() - t0, time.process_time() - c0
    return m.state.get_lambda(), secs, {'cpu_seconds': cpu}


def main():
    p = argparse.ArgumentParser()
    p.add_argument('peer', choices=['sklearn-online', 'sklearn-batch', 'gensim'])
    p.add_argument('train')
    p.add_argument('test')
    p.add_argument('V', type=int)
    p.add_argument('out')
    p.add_argument('--topics', type=int, required=True)
    p.add_argument('--passes', type=int, required=True)
    p.add_argument('--seed', type=int, default=1)
    p.add_argument('--batch', type=int, default=0)
    p.add_argument('--tau0', type=float)
    p.add_argument('--kappa', type=float)
    p.add_argument('--estep-iters', type=int, default=100)
    p.add_argument('--estep-tol', type=float, default=1e-3)
    p.add_argument('--threads', type=int, default=1)
    a = p.parse_args()
    X, Xt = read_ldac(a.train, a.V), read_ldac(a.test, a.V)
    if a.peer == 'gensim':
        lam, secs, extra = fit_gensim(X, a)
    else:
        lam, secs, extra = fit_sklearn(a.peer.split('-')[1], X, Xt, a)
    np.save(a.out, np.asarray(lam, dtype=np.float32))
    print(json.dumps(dict(peer=a.peer, seconds=secs, **extra)))


if __name__ == '__main__':
    main()
