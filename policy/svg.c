/*
 * svg.c — learning-curve SVG writer. See svg.h.
 */
#include "policy/svg.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#define SVG_W     760
#define SVG_PANEL 170
#define SVG_LEFT  70
#define SVG_RIGHT 20
#define SVG_TOP   40

static double yval(const struct svg_series *s, int i) {
    double v = s->y[i];

    if (s->log_scale)
        return v > 0 ? log10(v) : -12;
    return v;
}

int svg_write(const char *path, const char *title, const struct svg_series *s, int ns, int n,
              struct tg_error *err) {
    int h = SVG_TOP + ns * SVG_PANEL + 30, pw = SVG_W - SVG_LEFT - SVG_RIGHT;
    FILE *f;

    if (n < 1 || ns < 1 || ns > 8) {
        tg_error_set(err, "svg", "nothing to plot (%d points, %d series)", n, ns);
        return TG_EINVAL;
    }
    f = fopen(path, "w");
    if (!f) {
        tg_error_set(err, TG_CODE_IO, "cannot write %s: %s", path, strerror(errno));
        return TG_EIO;
    }
    fprintf(f,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
            "font-family=\"sans-serif\" font-size=\"11\">\n"
            "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
            "<text x=\"%d\" y=\"22\" font-size=\"15\">%s</text>\n",
            SVG_W, h, SVG_LEFT, title);
    for (int k = 0; k < ns; k++) {
        double lo = INFINITY, hi = -INFINITY;
        int y0 = SVG_TOP + k * SVG_PANEL, ph = SVG_PANEL - 40;

        for (int i = 0; i < n; i++) {
            double v = yval(&s[k], i);

            if (isfinite(v)) {
                lo = fmin(lo, v);
                hi = fmax(hi, v);
            }
        }
        if (!isfinite(lo)) {
            lo = 0;
            hi = 1;
        }
        if (hi - lo < 1e-12) {
            hi += 0.5;
            lo -= 0.5;
        }
        fprintf(f,
                "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" "
                "stroke=\"#999\"/>\n"
                "<text x=\"%d\" y=\"%d\" font-weight=\"bold\">%s (last %.4g)</text>\n",
                SVG_LEFT, y0 + 14, pw, ph, SVG_LEFT, y0 + 10, s[k].name, s[k].y[n - 1]);
        for (int t = 0; t <= 2; t++) {
            double v = lo + (hi - lo) * t / 2.0;
            int yy = y0 + 14 + ph - (int)lround((v - lo) / (hi - lo) * ph);

            fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">%.3g</text>\n", SVG_LEFT - 4,
                    yy + 4, s[k].log_scale ? pow(10, v) : v);
        }
        fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\" points=\"",
                s[k].color ? s[k].color : "#1f77b4");
        for (int i = 0; i < n; i++) {
            double v = yval(&s[k], i);
            double x = SVG_LEFT + (n > 1 ? (double)i / (n - 1) : 0.5) * pw;
            double y = y0 + 14 + ph - (isfinite(v) ? (v - lo) / (hi - lo) : 0) * ph;

            fprintf(f, "%.1f,%.1f ", x, y);
        }
        fprintf(f, "\"/>\n");
    }
    fprintf(f, "<text x=\"%d\" y=\"%d\">update (1 .. %d)</text>\n</svg>\n", SVG_LEFT + pw / 2 - 40,
            h - 8, n);
    if (fclose(f) != 0) {
        tg_error_set(err, TG_CODE_IO, "cannot write %s: %s", path, strerror(errno));
        return TG_EIO;
    }
    return 0;
}
