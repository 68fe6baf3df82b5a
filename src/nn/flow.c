/* flow.c — planar and IAF flow ops (see flow.h for the math). The loops
 * over z are float (vectorised); a parameter row's constants (w.u, |w|^2)
 * and the log-determinants, summed over up to 256 layers, are double. */
#include "flow.h"

#include <math.h>
#include <string.h>

#include "gemm.h"

static double softplus_d(double a) { return a > 0 ? a + log1p(exp(-a)) : log1p(exp(a)); }
static double sigmoid_d(double a)
{
    if (a >= 0) return 1.0 / (1.0 + exp(-a));
    double e = exp(a);
    return e / (1.0 + e);
}

static double dot(const float *a, const float *b, int n)
{
    double s = 0.0;
    for (int j = 0; j < n; j++) s += (double)a[j] * b[j];
    return s;
}

/* The constraint's scalars for one parameter row: w.u, m(w.u), |w|^2, and
 * c = (m - w.u) / |w|^2, so that u^ = u + c w. */
typedef struct {
    double wu, mwu, ww, c, wuh; /* wuh = w.u^: m(w.u), or 0 when w = 0 */
} planar_consts;

static planar_consts planar_constants(const float *u, const float *w, int Z)
{
    planar_consts k;
    k.wu = dot(w, u, Z);
    k.mwu = -1.0 + softplus_d(k.wu);
    k.ww = dot(w, w, Z);
    k.c = k.ww > 0.0 ? (k.mwu - k.wu) / k.ww : 0.0; /* w = 0: u^ = u, f a shift, det 1 */
    k.wuh = k.ww > 0.0 ? k.mwu : 0.0;
    return k;
}

void planar_uhat(float *uhat, const float *par, int Z)
{
    const float *u = par, *w = par + Z;
    planar_consts k = planar_constants(u, w, Z);
    for (int j = 0; j < Z; j++) uhat[j] = (float)(u[j] + k.c * w[j]);
}

/* w.z + b in float (the vector loops are float; the scalars per row double) */
static float affine(const float *w, const float *z, float b, int Z)
{
    float a = 0.0f;
    for (int j = 0; j < Z; j++) a += w[j] * z[j];
    return a + b;
}

void planar_forward(float *zout, double *logdet, const float *zin, const float *par, int rows,
                    int rep, int Z, int stride)
{
    for (int p0 = 0; p0 < rows; p0 += rep) {
        const float *u = par + (long)(p0 / rep) * stride, *w = u + Z, b = u[2 * Z];
        planar_consts k = planar_constants(u, w, Z);
        float c = (float)k.c;
        int p1 = p0 + rep < rows ? p0 + rep : rows;
        for (int r = p0; r < p1; r++) {
            const float *z = zin + (long)r * Z;
            float *o = zout + (long)r * Z;
            float h = tanhf(affine(w, z, b, Z));
            for (int j = 0; j < Z; j++) o[j] = z[j] + (u[j] + c * w[j]) * h;
            logdet[r] += log1p((1.0 - (double)h * h) * k.wuh);
        }
    }
}

void planar_backward(float *dzin, float *dpar, const float *dzout, const double *dlogdet,
                     const float *zin, const float *par, int rows, int rep, int Z, int stride)
{
    for (int p0 = 0; p0 < rows; p0 += rep) {
        long po = (long)(p0 / rep) * stride;
        const float *u = par + po, *w = u + Z, b = u[2 * Z];
        float *du = dpar + po, *dw = du + Z, *db = du + 2 * Z;
        planar_consts k = planar_constants(u, w, Z);
        float c = (float)k.c;
        int p1 = p0 + rep < rows ? p0 + rep : rows;
        /* per parameter row: (sum of d u^) . w, and d m(w.u) */
        double duh_w = 0.0, dmwu = 0.0;
        for (int r = p0; r < p1; r++) {
            const float *z = zin + (long)r * Z, *g = dzout + (long)r * Z;
            float h = tanhf(affine(w, z, b, Z));
            double t = 1.0 - (double)h * h, s = dlogdet ? dlogdet[r] : 0.0, det = 1.0 + t * k.wuh;
            /* zout = z + u^ h: d u^ += g h (to u directly, and to w through c w),
             * dh = g . u^ */
            float dhf = 0.0f, gw = 0.0f;
            for (int j = 0; j < Z; j++) {
                dhf += g[j] * (u[j] + c * w[j]);
                gw += g[j] * w[j];
                du[j] += g[j] * h;
                dw[j] += c * g[j] * h;
            }
            duh_w += (double)h * gw;
            /* logdet = log(1 + t m): d t = s m / det, dm += s t / det */
            double dh = dhf + s * (k.wuh / det) * (-2.0 * h);
            if (k.ww > 0.0) dmwu += s * t / det;
            float da = (float)(dh * t); /* h = tanh(a), a = w.z + b */
            *db += da;
            for (int j = 0; j < Z; j++) {
                if (dzin) dzin[(long)r * Z + j] += g[j] + da * w[j];
                dw[j] += da * z[j];
            }
        }
        /* u^ = u + c w, c = (m - wu) / ww: dc = (d u^) . w */
        double dc = k.ww > 0.0 ? duh_w : 0.0; /* c is fixed at 0 when w = 0 */
        double iww = k.ww > 0.0 ? 1.0 / k.ww : 0.0;
        dmwu += dc * iww;
        double dwu = -dc * iww, dww = -dc * (k.mwu - k.wu) * iww * iww;
        dwu += dmwu * sigmoid_d(k.wu); /* m = -1 + softplus(wu) */
        for (int j = 0; j < Z; j++) {
            du[j] += (float)(dwu * w[j]);
            dw[j] += (float)(dwu * u[j] + 2.0 * dww * w[j]);
        }
    }
}

void made_masks(float *m_in, float *m_out, int Z, int C, int H, int reverse)
{
    int I = Z + C;
    for (int k = 0; k < H; k++) {
        int deg = Z > 1 ? 1 + k % (Z - 1) : 1;
        for (int j = 0; j < Z; j++) {
            int ord = reverse ? Z - j : j + 1;
            m_in[(long)k * I + j] = deg >= ord ? 1.0f : 0.0f;
            m_out[(long)j * H + k] = ord > deg ? 1.0f : 0.0f;
            m_out[(long)(Z + j) * H + k] = ord > deg ? 1.0f : 0.0f;
        }
        for (int c = 0; c < C; c++) m_in[(long)k * I + Z + c] = 1.0f;
    }
}

void masked_linear_forward(float *out, float *Wm, const float *in, const float *W, const float *M,
                           const float *b, int B, int I, int O)
{
    long n = (long)O * I;
    for (long i = 0; i < n; i++) Wm[i] = W[i] * M[i];
    for (int r = 0; r < B; r++) memcpy(out + (long)r * O, b, sizeof(float) * (size_t)O);
    /* out[B,O] += in[B,I] @ Wm^T */
    elbo_matmul(out, in, Wm, B, O, I, 0, 1, 1.0f);
}

void masked_linear_backward_data(float *din, const float *dout, const float *Wm, int B, int I,
                                 int O)
{
    elbo_matmul(din, dout, Wm, B, I, O, 0, 0, 1.0f); /* [B,O] @ [O,I] */
}

void iaf_gate_forward(float *zout, double *logdet, const float *zin, const float *ms, int rows,
                      int Z)
{
    for (int r = 0; r < rows; r++) {
        const float *z = zin + (long)r * Z, *m = ms + (long)r * 2 * Z, *s = m + Z;
        float *o = zout + (long)r * Z;
        double ld = 0.0;
        for (int j = 0; j < Z; j++) {
            double sg = sigmoid_d(s[j]);
            o[j] = (float)(sg * z[j] + (1.0 - sg) * m[j]);
            ld -= softplus_d(-(double)s[j]); /* log sigmoid(s) */
        }
        logdet[r] += ld;
    }
}

void iaf_gate_backward(float *dzin, float *dms, const float *dzout, const double *dlogdet,
                       const float *zin, const float *ms, int rows, int Z)
{
    for (int r = 0; r < rows; r++) {
        const float *z = zin + (long)r * Z, *m = ms + (long)r * 2 * Z, *s = m + Z;
        const float *g = dzout + (long)r * Z;
        float *dm = dms + (long)r * 2 * Z, *ds = dm + Z;
        double sl = dlogdet ? dlogdet[r] : 0.0;
        for (int j = 0; j < Z; j++) {
            double sg = sigmoid_d(s[j]);
            if (dzin) dzin[(long)r * Z + j] += (float)(g[j] * sg);
            dm[j] += (float)(g[j] * (1.0 - sg));
            /* d sigma/ds = sg (1 - sg); d log sigma/ds = 1 - sg */
            ds[j] += (float)(g[j] * (z[j] - m[j]) * sg * (1.0 - sg) + sl * (1.0 - sg));
        }
    }
}
