#!/usr/bin/env python3
"""The tables of bench/lda_bench.sh: per configuration and K, the mean and
standard deviation over seeds of every held-out figure (from `elbo lda eval`
on each fit's lambda) and of the fit's wall and CPU seconds; then, for each
peer, the time elbo's batch VI needs to reach the peer's mean quality (its
per-pass test figures in runs/lda_bench/elbo-batch50-K*-s*/metrics.jsonl)
against the peer's own time; and the check that elbo's evaluation of
scikit-learn's lambda gives scikit-learn's own perplexity.

    lda_report.py FITS.jsonl EVALS.jsonl RUNS_DIR"""
import json
import os
import re
import statistics as st
import sys


def load(path):
    with open(path) as f:
        return [json.loads(l) for l in f if l.strip()]


def band(xs):
    if not xs:
        return 'n/a'
    if len(xs) == 1:
        return '%.1f' % xs[0]
    return '%.1f ± %.1f' % (st.mean(xs), st.stdev(xs))


def main():
    fits = {f['name']: f for f in load(sys.argv[1])}
    evals = {e['name']: e for e in load(sys.argv[2])}
    runs = sys.argv[3]
    groups = {}
    for name, e in evals.items():
        m = re.match(r'(.*)-K(\d+)-s(\d+)$', name)
        groups.setdefault((m.group(1), int(m.group(2))), []).append((name, e, fits.get(name, {})))
    cpu = next((f.get('cpu') for f in fits.values() if f.get('cpu')), '?')
    date = max((f.get('date', '') for f in fits.values()), default='?')
    print('\n## LDA on the State of the Union (bench/lda_bench.sh), %s, %s\n' % (date, cpu))
    print('233 addresses cut into pseudo-documents of >= 100 words (`elbo lda prepare --chunk 100 '
          '--min-df 5 --max-df 0.5`, scikit-learn\'s stop words, a 90/10 split). alpha = eta = 1/K. '
          'Every lambda is evaluated by `elbo lda eval` (the E-step from gamma = 1, 100 iterations, '
          'tol 1e-3) with the fit\'s own alpha (elbo-default, elbo-batch-alpha and elbo-online-alpha re-estimate it from 1/K). '
          'Perplexities per word; lower is better; UMass coherence higher is better. Mean ± sd over seeds; '
          'every fit on one thread. The peers\' CPU seconds are the fair figure: the machine was shared '
          'with the other fits of the benchmark.\n')
    print('| K | run | seeds | perplexity, documents only | document completion | with the global term '
          '| UMass | wall s | CPU s |')
    print('|---|---|---|---|---|---|---|---|---|')
    order = ['elbo-default', 'elbo-batch-alpha', 'elbo-online-alpha', 'elbo-batch10', 'elbo-online-matched', 'sklearn-batch-default',
             'sklearn-online-default', 'sklearn-online-matched', 'gensim-default', 'gensim-matched']
    for K in sorted({k for _, k in groups}):
        for cfg in order:
            rows = groups.get((cfg, K))
            if not rows:
                continue
            get = lambda key: [e[key] for _, e, _ in rows]
            secs = [f['seconds'] for _, _, f in rows if 'seconds' in f]
            cpus = [f['cpu_seconds'] for _, _, f in rows if 'cpu_seconds' in f]
            print('| %d | %s | %d | %s | %s | %s | %.3f | %s | %s |' % (
                K, cfg, len(rows), band(get('perplexity_docs')), band(get('completion_perplexity')),
                band(get('perplexity')), st.mean(get('coherence_umass')), band(secs), band(cpus) if cpus else '—'))
    # elbo's time to each peer's mean quality
    print('\nTime to equal quality: the seconds elbo-default (one thread) takes until its test '
          'perplexity (documents only) first reaches the peer\'s mean, against the peer\'s fit time '
          '(CPU seconds where recorded, else wall). Mean over seeds.\n')
    print('| K | peer | peer perplexity | peer s | elbo passes | elbo s | ratio |')
    print('|---|---|---|---|---|---|---|')
    for K in sorted({k for _, k in groups}):
        curves = []
        for s in range(1, 11):
            p = os.path.join(runs, 'elbo-default-K%d-s%d' % (K, s), 'metrics.jsonl')
            if os.path.exists(p):
                curves.append(load(p))
        if not curves:
            continue
        for cfg in order[5:]:
            rows = groups.get((cfg, K))
            if not rows:
                continue
            target = st.mean(e['perplexity_docs'] for _, e, _ in rows)
            t_peer = st.mean(f.get('cpu_seconds', f.get('seconds', float('nan'))) for _, _, f in rows)
            passes, times = [], []
            for c in curves:
                t = 0.0
                for line in c:
                    t += line['seconds']
                    if line['test_perplexity_docs'] <= target:
                        passes.append(line['epoch'])
                        times.append(t)
                        break
            if len(times) < len(curves):
                print('| %d | %s | %.1f | %.1f | not reached in %d of %d runs | | |' % (
                    K, cfg, target, t_peer, len(curves) - len(times), len(curves)))
                continue
            print('| %d | %s | %.1f | %.1f | %.1f | %.2f | %.1fx |' % (
                K, cfg, target, t_peer, st.mean(passes), st.mean(times), t_peer / st.mean(times)))
    worst = 0.0
    for name, f in fits.items():
        if 'sklearn_perplexity' in f and name in evals:
            worst = max(worst, abs(evals[name]['perplexity'] / f['sklearn_perplexity'] - 1))
    print('\nCheck: elbo\'s evaluation of scikit-learn\'s lambda against scikit-learn\'s own perplexity: '
          'largest relative difference %.2g.' % worst)


if __name__ == '__main__':
    main()
