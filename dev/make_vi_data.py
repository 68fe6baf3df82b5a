#!/usr/bin/env python3
"""dev/make_vi_data.py — writes the small data sets of the `elbo fit` example
plug-ins into examples/data/ (committed; rerun to regenerate them exactly):
  linreg.csv        100 rows x1,x2,x3,y: y = 1 + 2 x1 - x2 + 0.5 x3 + N(0, 0.8^2)
  logistic.csv      200 rows x1,x2,y: P(y = 1) = sigmoid(-0.5 + 1.5 x1 - x2)
  eight_schools.csv the classic data (Rubin 1981): y,sigma for 8 schools
Needs numpy (Debian's python3-numpy)."""
import numpy as np

rng = np.random.default_rng(20261201)
x = rng.normal(size=(100, 3))
y = 1 + x @ np.array([2.0, -1.0, 0.5]) + rng.normal(scale=0.8, size=100)
np.savetxt("examples/data/linreg.csv", np.column_stack([x, y]), delimiter=",", fmt="%.6f",
           header="x1,x2,x3,y", comments="")
x = rng.normal(size=(200, 2))
p = 1 / (1 + np.exp(-(-0.5 + x @ np.array([1.5, -1.0]))))
y = (rng.uniform(size=200) < p).astype(float)
np.savetxt("examples/data/logistic.csv", np.column_stack([x, y]), delimiter=",", fmt="%.6f",
           header="x1,x2,y", comments="")
with open("examples/data/eight_schools.csv", "w") as f:
    f.write("y,sigma\n")
    for yy, s in zip([28, 8, -3, 7, -1, 1, 18, 12], [15, 10, 16, 11, 9, 11, 10, 18]):
        f.write(f"{yy},{s}\n")
