/* special.c — see special.h. */
#include "special.h"

#include <math.h>

double elbo_digamma(double x)
{
    double r = 0.0;
    while (x < 10.0) { /* psi(x) = psi(x + 1) - 1/x */
        r -= 1.0 / x;
        x += 1.0;
    }
    double f = 1.0 / (x * x);
    /* psi(x) ~ ln x - 1/(2x) - 1/(12x^2) + 1/(120x^4) - 1/(252x^6) + 1/(240x^8) - 1/(132x^10) */
    return r + log(x) - 0.5 / x -
           f * (1.0 / 12 - f * (1.0 / 120 - f * (1.0 / 252 - f * (1.0 / 240 - f * (1.0 / 132)))));
}

double elbo_trigamma(double x)
{
    double r = 0.0;
    while (x < 10.0) { /* psi'(x) = psi'(x + 1) + 1/x^2 */
        r += 1.0 / (x * x);
        x += 1.0;
    }
    double f = 1.0 / (x * x);
    /* psi'(x) ~ 1/x + 1/(2x^2) + 1/(6x^3) - 1/(30x^5) + 1/(42x^7) - 1/(30x^9) */
    return r + 1.0 / x + 0.5 * f + f / x * (1.0 / 6 - f * (1.0 / 30 - f * (1.0 / 42 - f * (1.0 / 30))));
}

double elbo_lgamma(double x)
{
    double r = 0.0;
    while (x < 10.0) { /* lgamma(x) = lgamma(x + 1) - log x */
        r -= log(x);
        x += 1.0;
    }
    double f = 1.0 / (x * x);
    /* Stirling: (x - 1/2) ln x - x + ln(2 pi)/2 + 1/(12x) - 1/(360x^3) + 1/(1260x^5) - 1/(1680x^7) */
    return r + (x - 0.5) * log(x) - x + 0.91893853320467274178 +
           (1.0 / 12 - f * (1.0 / 360 - f * (1.0 / 1260 - f * (1.0 / 1680)))) / x;
}
