/*
 * svg.c — learning-curve SVG writer. See svg.h.
 */
#include "policy/svg.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#define SVG_W      820
#define SVG_PANEL  190 /* height of a panel, title and legend included */
#define SVG_PLOT   130 /* height of its plotting area */
#define SVG_LEFT   76
#define SVG_RIGHT  24
#define SVG_TOP    44
#define SVG_BOTTOM 44

int svg_ticks(double lo, double hi, int max, double *t, double *step) {
    double span = hi - lo, raw, mag, st;
    int n = 0;

    if (!(span > 0) || max < 2) {
        t[0] = lo;
        *step = 1;
        return 1;
    }
    raw = span / (max - 1);
    mag = pow(10, floor(log10(raw)));
    st = raw / mag <= 1 ? mag : raw / mag <= 2 ? 2 * mag : raw / mag <= 5 ? 5 * mag : 10 * mag;
    for (double v = ceil(lo / st - 1e-9) * st; v <= hi + st * 1e-9 && n < max; v += st)
        t[n++] = fabs(v) < st * 1e-9 ? 0 : v;
    *step = st;
    return n;
}

/* the value of point i as plotted (log10 on a log axis); NaN when it is not plotted */
static double yval(const struct svg_panel *p, const struct svg_series *s, int i) {
    double v = s->y[i];

    if (!isfinite(v))
        return NAN;
    if (p->log_scale)
        return v > 0 ? log10(v) : NAN;
    return v;
}

static void tick_label(char *buf, size_t n, double v, double step, int log_scale) {
    if (log_scale)
        snprintf(buf, n, "%.0e", pow(10, v));
    else if (step >= 1 || v == 0)
        snprintf(buf, n, "%.0f", v);
    else
        snprintf(buf, n, "%.*f", (int)ceil(-log10(step) - 1e-9), v);
}

static void panel(FILE *f, const struct svg_panel *p, int k, int n, const struct svg_marker *mark) {
    int y0 = SVG_TOP + k * SVG_PANEL, top = y0 + 34, pw = SVG_W - SVG_LEFT - SVG_RIGHT;
    double lo = INFINITY, hi = -INFINITY, ticks[16], step;
    int nt, lx = SVG_LEFT;

    for (int s = 0; s < p->ns; s++)
        for (int i = 0; i < n; i++) {
            double v = yval(p, &p->s[s], i);

            if (isfinite(v)) {
                lo = fmin(lo, v);
                hi = fmax(hi, v);
            }
        }
    if (p->ymin < p->ymax) {
        lo = p->log_scale ? log10(p->ymin) : p->ymin;
        hi = p->log_scale ? log10(p->ymax) : p->ymax;
    }
    if (!isfinite(lo)) {
        lo = 0;
        hi = 1;
    }
    if (hi - lo < 1e-12) {
        hi += p->log_scale ? 0.5 : fmax(0.5, fabs(hi) * 0.1);
        lo -= p->log_scale ? 0.5 : fmax(0.5, fabs(lo) * 0.1);
    }
    if (p->log_scale) { /* whole decades */
        lo = floor(lo);
        hi = ceil(hi);
    }
    nt = svg_ticks(lo, hi, p->log_scale ? 8 : 6, ticks, &step);
    if (!p->log_scale && nt > 0) { /* let the axis end on ticks */
        lo = fmin(lo, ticks[0]);
        hi = fmax(hi, ticks[nt - 1]);
    }
    fprintf(f, "<text x=\"%d\" y=\"%d\" font-weight=\"bold\">%s%s</text>\n", SVG_LEFT, y0 + 12,
            p->title, p->log_scale ? " (log scale)" : "");
    /* legend */
    for (int s = 0; s < p->ns; s++) {
        const char *c = p->s[s].color ? p->s[s].color : "#1f77b4";

        fprintf(f,
                "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"%s\" stroke-width=\"2\"/>"
                "<text x=\"%d\" y=\"%d\">%s</text>\n",
                lx, y0 + 24, lx + 16, y0 + 24, c, lx + 20, y0 + 28, p->s[s].name);
        lx += 28 + 6 * (int)strlen(p->s[s].name);
    }
    fprintf(f,
            "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"#888\"/>\n",
            SVG_LEFT, top, pw, SVG_PLOT);
    /* y ticks and horizontal gridlines */
    for (int t = 0; t < nt; t++) {
        double yy = top + SVG_PLOT - (ticks[t] - lo) / (hi - lo) * SVG_PLOT;
        char lab[32];

        tick_label(lab, sizeof(lab), ticks[t], step, p->log_scale);
        fprintf(f,
                "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#e4e4e4\"/>"
                "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#888\"/>"
                "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n",
                SVG_LEFT, yy, SVG_LEFT + pw, yy, SVG_LEFT - 4, yy, SVG_LEFT, yy, SVG_LEFT - 6,
                yy + 4, lab);
    }
    /* x ticks and vertical gridlines */
    {
        double xt[16], xs;
        int nx = svg_ticks(1, n > 1 ? n : 2, 10, xt, &xs);

        for (int t = 0; t < nx; t++) {
            double xx = SVG_LEFT + (n > 1 ? (xt[t] - 1) / (n - 1) : 0.5) * pw;

            if (xt[t] < 1 || xt[t] > n)
                continue;
            fprintf(f,
                    "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#e4e4e4\"/>"
                    "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#888\"/>"
                    "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%.0f</text>\n",
                    xx, top, xx, top + SVG_PLOT, xx, top + SVG_PLOT, xx, top + SVG_PLOT + 4, xx,
                    top + SVG_PLOT + 16, xt[t]);
        }
    }
    if (mark && mark->x > 0 && n > 1) {
        double xx = SVG_LEFT + (mark->x - 1) / (n - 1) * pw;

        fprintf(f,
                "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#444\" "
                "stroke-dasharray=\"5,3\"/>\n",
                xx, top, xx, top + SVG_PLOT);
        if (mark->left)
            fprintf(f, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"end\" fill=\"#444\">%s</text>\n",
                    xx - 4, top + 12, mark->left);
        if (mark->right)
            fprintf(f, "<text x=\"%.1f\" y=\"%d\" fill=\"#444\">%s</text>\n", xx + 4, top + 12,
                    mark->right);
    }
    for (int s = 0; s < p->ns; s++) {
        const char *c = p->s[s].color ? p->s[s].color : "#1f77b4";

        fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\" points=\"", c);
        for (int i = 0; i < n; i++) {
            double v = yval(p, &p->s[s], i);

            if (isfinite(v))
                fprintf(f, "%.1f,%.1f ", SVG_LEFT + (n > 1 ? (double)i / (n - 1) : 0.5) * pw,
                        top + SVG_PLOT - (v - lo) / (hi - lo) * SVG_PLOT);
        }
        fprintf(f, "\"/>\n");
        for (int i = 0; p->s[s].dots && i < n; i++) {
            double v = yval(p, &p->s[s], i);

            if (isfinite(v))
                fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.5\" fill=\"%s\"/>\n",
                        SVG_LEFT + (n > 1 ? (double)i / (n - 1) : 0.5) * pw,
                        top + SVG_PLOT - (v - lo) / (hi - lo) * SVG_PLOT, c);
        }
    }
}

int svg_write(const char *path, const char *title, const struct svg_panel *p, int np, int n,
              const char *xlabel, const struct svg_marker *mark, struct tg_error *err) {
    int h = SVG_TOP + np * SVG_PANEL + SVG_BOTTOM - 30;
    FILE *f;

    if (n < 1 || np < 1 || np > 8) {
        tg_error_set(err, "svg", "nothing to plot (%d points, %d panels)", n, np);
        return TG_EINVAL;
    }
    for (int k = 0; k < np; k++)
        if (p[k].ns < 1 || p[k].ns > 8) {
            tg_error_set(err, "svg", "panel %d has %d series (1..8)", k, p[k].ns);
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
    for (int k = 0; k < np; k++)
        panel(f, &p[k], k, n, mark);
    fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">%s</text>\n</svg>\n",
            SVG_LEFT + (SVG_W - SVG_LEFT - SVG_RIGHT) / 2, h - 8, xlabel ? xlabel : "update");
    if (fclose(f) != 0) {
        tg_error_set(err, TG_CODE_IO, "cannot write %s: %s", path, strerror(errno));
        return TG_EIO;
    }
    return 0;
}
