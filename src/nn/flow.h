/* flow.h — ops for normalizing-flow posteriors, forward/backward pairs with
 * the rules of ops.h: backward ACCUMULATES into its outputs, nothing
 * allocates.
 *
 * A flow turns the base sample z0 ~ q0(z|x) = N(mu, diag exp(logvar)) into
 * z_K = f_K(... f_1(z0)), and log q(z_K|x) = log q0(z0) - sum_k log|det J_k|.
 * Two families:
 *
 *  - Planar (Rezende and Mohamed 2015): f(z) = z + u^ tanh(w.z + b), with
 *    u^ = u + (m(w.u) - w.u) w / |w|^2, m(a) = -1 + softplus(a), so that
 *    w.u^ = m(w.u) > -1 and f is invertible. log|det J| = log(1 + (1 - h^2)
 *    m(w.u)), h = tanh(w.z + b): always > 0. The parameters (u, w, b) of a
 *    row are amortised: the encoder emits them, [u (Z), w (Z), b] per layer.
 *
 *  - IAF (Kingma et al. 2016), the numerically stable gated step:
 *    [m, s] = MADE(z, context), sigma = sigmoid(s), z' = sigma z + (1 -
 *    sigma) m, log|det J| = sum_j log sigma_j (the Jacobian is triangular
 *    because MADE's masks make m_j and s_j depend on z_i of lower order
 *    only). MADE is built from masked linear layers (masked_linear_*).
 *
 * Rows and parameters: every op works on `rows` rows of Z; row r reads its
 * parameters from row r / rep of the parameter array (rep samples of one
 * example share them: the IW bounds). */
#ifndef ELBO_FLOW_H
#define ELBO_FLOW_H

/* Planar layer: par [rows / rep, stride] with u at par[0..Z), w at
 * par[Z..2Z), b at par[2Z] of each row (stride >= 2Z + 1: a layer's slice of
 * the encoder's flow head). zout[r] = f(zin[r]); logdet[r] += log|det J|
 * (logdet is double, accumulated over layers). zout may not alias zin. */
void planar_forward(float *zout, double *logdet, const float *zin, const float *par, int rows,
                    int rep, int Z, int stride);
/* The gradient of sum_r (g_r . zout_r + s_r logdet_r) for dzout = g [rows,
 * Z] and dlogdet = s [rows] (NULL: 0): dzin += d/dzin (skipped when NULL),
 * dpar [rows / rep, stride] += d/dpar, through the constraint on u. */
void planar_backward(float *dzin, float *dpar, const float *dzout, const double *dlogdet,
                     const float *zin, const float *par, int rows, int rep, int Z, int stride);
/* The constrained u^ of one parameter row (for tests and tools): uhat[Z]. */
void planar_uhat(float *uhat, const float *par, int Z);

/* MADE degrees (Germain et al. 2015) for Z inputs and H hidden units, as
 * masks of 0/1 floats:
 *  - order[j] in 1..Z is input j's position: j + 1, or Z - j when
 *    reverse (alternate IAF steps reverse the order);
 *  - hidden unit k has degree 1 + (k mod (Z - 1)) (1 when Z == 1);
 *  - m_in [H, Z + C]: hidden k sees input j when degree(k) >= order[j], and
 *    every one of the C context inputs that follow the Z;
 *  - m_out [2Z, H]: outputs j and Z + j (m and s of input j) see hidden k
 *    when order[j] > degree(k).
 * So output j depends on inputs of lower order only. */
void made_masks(float *m_in, float *m_out, int Z, int C, int H, int reverse);

/* Masked linear layer: out[B,O] = in[B,I] @ (W * M)^T + b, with W, M [O, I]
 * (PyTorch layout). Wm [O, I] is scratch that receives W * M and is kept
 * for masked_linear_backward_data. */
void masked_linear_forward(float *out, float *Wm, const float *in, const float *W, const float *M,
                           const float *b, int B, int I, int O);
/* din[B,I] += dout @ Wm with Wm from the forward pass. The weight gradient
 * is linear_weight_rows times the mask (the caller masks it). */
void masked_linear_backward_data(float *din, const float *dout, const float *Wm, int B, int I,
                                 int O);

/* The IAF step on rows [rows, Z]: ms [rows, 2Z] holds m then s per row;
 * zout = sigmoid(s) zin + (1 - sigmoid(s)) m; logdet[r] += sum_j log
 * sigmoid(s_j). */
void iaf_gate_forward(float *zout, double *logdet, const float *zin, const float *ms, int rows,
                      int Z);
/* dzin += d/dzin (NULL: skipped), dms [rows, 2Z] += d/d(m, s), for dzout
 * and dlogdet [rows] (NULL: 0) as in planar_backward. */
void iaf_gate_backward(float *dzin, float *dms, const float *dzout, const double *dlogdet,
                       const float *zin, const float *ms, int rows, int Z);

#endif
