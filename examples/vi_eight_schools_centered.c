/* vi_eight_schools_centered.c — the eight schools in the centered form (a
 * funnel): see vi_eight_schools.c. */
#define CENTERED 1
#include "vi_eight_schools.c"
