# compare.awk — an elbo fit summary.csv against a posteriordb reference
# (NAME.ref.csv: name,mean,sd): prints "n worst_mean_error sd_ratio_min
# sd_ratio_max" over the parameters in both, the error in reference sds.
#   awk -F, -f tests/posteriordb/compare.awk REF.ref.csv summary.csv
NR == FNR { if (FNR > 1) { m[$1] = $2; s[$1] = $3 }; next }
FNR > 1 && ($1 in m) {
    dm = ($2 - m[$1]) / s[$1]; if (dm < 0) dm = -dm; r = $3 / s[$1]
    if (dm > wm) wm = dm; if (r > rmax) rmax = r; if (rmin == "" || r < rmin) rmin = r; n++
}
END { printf "%d %.3f %.3f %.3f\n", n, wm, rmin, rmax }
