#!/usr/bin/env python3
"""dev/posteriordb_export.py — writes the posteriordb (stan-dev/posteriordb,
BSD-3) posteriors the VI tests use into tests/posteriordb/: for each, the
data as NAME.csv (the design matrix's columns, then y) and the reference
posterior's mean and sd per parameter as NAME.ref.csv (from its 10 x 1000
NUTS reference draws). Usage:

  python3 dev/posteriordb_export.py PATH/TO/posteriordb/posterior_database

The models (all linear regressions y ~ N(X beta, sigma), in the plug-in
tests/posteriordb/pdb_linreg.c) and their priors:
  sblrc-blr              X given (5 columns), beta ~ N(0, 10), sigma ~ N+(0, 10)
  kidiq-kidscore_momiq   [1, mom_iq], flat beta, sigma ~ Cauchy+(0, 2.5)
  kidiq-kidscore_momhsiq [1, mom_hs, mom_iq], flat beta, sigma ~ Cauchy+(0, 2.5)
  earnings-earn_height   [1, height], flat beta and sigma
  earnings-logearn_height        log(earn) on [1, height], flat
  kidiq-kidscore_interaction     [1, mom_hs, mom_iq, mom_hs mom_iq], flat beta, sigma ~ Cauchy+(0, 2.5)
  mesquite-logmesquite           log(weight) on [1, log diam1, log diam2, log canopy_height,
                                 log total_height, log density, group], flat
  nes2000-nes                    partyid7 on [1, real_ideo, race_adj, age 30-44, 45-64, 65+,
                                 educ1, gender, income], flat
"""
import json, sys, zipfile
import numpy as np

root = sys.argv[1]
def load(path):
    z = zipfile.ZipFile(path)
    return json.loads(z.read(z.namelist()[0]))

SPECS = {
    "sblrc-blr": ("sblrc", lambda d: (np.array(d["X"]), np.array(d["y"])), "normal:10", "normal:10"),
    "kidiq-kidscore_momiq": ("kidiq", lambda d: (np.column_stack([np.ones(d["N"]), d["mom_iq"]]), np.array(d["kid_score"])), "flat", "cauchy:2.5"),
    "kidiq-kidscore_momhsiq": ("kidiq", lambda d: (np.column_stack([np.ones(d["N"]), d["mom_hs"], d["mom_iq"]]), np.array(d["kid_score"])), "flat", "cauchy:2.5"),
    "earnings-earn_height": ("earnings", lambda d: (np.column_stack([np.ones(d["N"]), d["height"]]), np.array(d["earn"])), "flat", "flat"),
    "earnings-logearn_height": ("earnings", lambda d: (np.column_stack([np.ones(d["N"]), d["height"]]), np.log(d["earn"])), "flat", "flat"),
    "kidiq-kidscore_interaction": ("kidiq", lambda d: (np.column_stack([np.ones(d["N"]), d["mom_hs"], d["mom_iq"], np.array(d["mom_hs"]) * np.array(d["mom_iq"])]), np.array(d["kid_score"])), "flat", "cauchy:2.5"),
    "mesquite-logmesquite": ("mesquite", lambda d: (np.column_stack([np.ones(d["N"])] + [np.log(d[k]) for k in ("diam1", "diam2", "canopy_height", "total_height", "density")] + [d["group"]]), np.log(d["weight"])), "flat", "flat"),
    "nes2000-nes": ("nes2000", lambda d: (np.column_stack([np.ones(d["N"]), d["real_ideo"], d["race_adj"]] + [np.array(d["age_discrete"]) == a for a in (2, 3, 4)] + [d["educ1"], d["gender"], d["income"]]).astype(float), np.array(d["partyid7"])), "flat", "flat"),
}
def write_ref(name):
    chains = load(f"{root}/reference_posteriors/draws/draws/{name}.json.zip")
    with open(f"tests/posteriordb/{name}.ref.csv", "w") as f:
        f.write("name,mean,sd\n")
        for key in chains[0]:
            v = np.concatenate([np.array(c[key]) for c in chains])
            f.write(f"{key},{v.mean():.10g},{v.std(ddof=1):.10g}\n")

# the eight schools: the model is examples/vi_eight_schools.c, its data
# examples/data/eight_schools.csv; only the reference is exported
write_ref("eight_schools-eight_schools_noncentered")

for name, (data, design, bprior, sprior) in SPECS.items():
    X, y = design(load(f"{root}/data/data/{data}.json.zip"))
    with open(f"tests/posteriordb/{name}.csv", "w") as f:
        f.write(f"# beta={bprior} sigma={sprior}\n")
        for row, yy in zip(X, y):
            f.write(",".join(f"{v:.10g}" for v in row) + f",{yy:.10g}\n")
    write_ref(name)
    print(name, X.shape)
