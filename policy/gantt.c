/*
 * gantt.c — Gantt chart SVG of simulated pipeline runs. See gantt.h.
 */
#include "policy/gantt.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#define G_WIDTH   960 /* whole chart */
#define G_LEFT    64  /* stage labels */
#define G_RIGHT   24
#define G_TOP     44 /* chart title */
#define G_ROW     24 /* one stage */
#define G_BAR     18 /* bar height within a row */
#define G_PTITLE  22 /* panel title */
#define G_PBOTTOM 34 /* axis and tick labels under a panel */
#define G_LEGEND  28

#define C_FWD      "#4c78a8"
#define C_BWD      "#f58518"
#define C_CRITICAL "#d62728"

/* text with &, < and > escaped */
static void put_text(FILE *f, const char *s) {
    for (; *s; s++) {
        if (*s == '&')
            fputs("&amp;", f);
        else if (*s == '<')
            fputs("&lt;", f);
        else if (*s == '>')
            fputs("&gt;", f);
        else
            fputc(*s, f);
    }
}

/* a "nice" tick step (1, 2 or 5 times a power of ten) giving about 8 ticks over span */
static double tick_step(double span) {
    double raw = span / 8, mag, f;

    if (!(raw > 0))
        return 1;
    mag = pow(10, floor(log10(raw)));
    f = raw / mag;
    return (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * mag;
}

static void panel(FILE *f, const struct pipeline *p, const struct gantt_panel *g, double tmax,
                  int y0) {
    const int pw = G_WIDTH - G_LEFT - G_RIGHT, rows_y = y0 + G_PTITLE;
    const int ph = p->stages * G_ROW;
    double step = tick_step(tmax), x;

    fprintf(f, "<text x=\"%d\" y=\"%d\" font-weight=\"bold\">", G_LEFT, y0 + 15);
    put_text(f, g->title);
    fprintf(f, "</text>\n");
    for (int s = 0; s < p->stages; s++)
        fprintf(f,
                "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">stage %d</text>\n"
                "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#eee\"/>\n",
                G_LEFT - 6, rows_y + s * G_ROW + G_ROW / 2 + 4, s, G_LEFT, rows_y + (s + 1) * G_ROW,
                G_LEFT + pw, rows_y + (s + 1) * G_ROW);
    for (int i = 0; i < p->n; i++) {
        const struct pipeline_action *a = &p->act[i];
        double x0 = G_LEFT + g->sim->start[i] / tmax * pw;
        double w = (g->sim->finish[i] - g->sim->start[i]) / tmax * pw;
        double by = rows_y + a->stage * G_ROW + (G_ROW - G_BAR) / 2.0;
        double r = g->ratio && a->op == PIPELINE_BWD ? g->ratio[i] : 0.0;
        int crit = g->sim->critical[i];
        char name[16];

        pipeline_action_name(p, i, name, sizeof(name));
        fprintf(f,
                "<rect class=\"%s%s\" x=\"%.2f\" y=\"%.1f\" width=\"%.2f\" height=\"%d\" "
                "fill=\"%s\" stroke=\"%s\" stroke-width=\"%s\"><title>stage %d %s: %.4g .. "
                "%.4g, freeze ratio %.3f%s</title></rect>\n",
                a->op == PIPELINE_FWD ? "fwd" : "bwd", crit ? " critical" : "", x0, by, w, G_BAR,
                a->op == PIPELINE_FWD ? C_FWD : C_BWD, crit ? C_CRITICAL : "#fff",
                crit ? "2" : "0.6", a->stage, name, g->sim->start[i], g->sim->finish[i], r,
                crit ? ", critical" : "");
        if (r > 0)
            fprintf(f,
                    "<rect class=\"frozen\" x=\"%.2f\" y=\"%.1f\" width=\"%.2f\" height=\"%.1f\" "
                    "fill=\"url(#hatch)\" pointer-events=\"none\"/>\n",
                    x0, by + G_BAR * (1 - r), w, G_BAR * r);
        if (w >= 18)
            fprintf(f,
                    "<text x=\"%.2f\" y=\"%.1f\" text-anchor=\"middle\" fill=\"#fff\" "
                    "font-size=\"10\" pointer-events=\"none\">%s</text>\n",
                    x0 + w / 2, by + G_BAR / 2.0 + 3.5, name);
    }
    /* axis, ticks, makespan */
    fprintf(f, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#333\"/>\n", G_LEFT,
            rows_y + ph + 2, G_LEFT + pw, rows_y + ph + 2);
    for (int k = 0; k * step <= tmax * (1 + 1e-9); k++) {
        double v = k * step;

        x = G_LEFT + v / tmax * pw;
        fprintf(f,
                "<line x1=\"%.2f\" y1=\"%d\" x2=\"%.2f\" y2=\"%d\" stroke=\"#333\"/>"
                "<text x=\"%.2f\" y=\"%d\" text-anchor=\"middle\" font-size=\"10\">%g</text>\n",
                x, rows_y + ph + 2, x, rows_y + ph + 6, x, rows_y + ph + 17, v);
    }
    x = G_LEFT + g->sim->makespan / tmax * pw;
    fprintf(f,
            "<line x1=\"%.2f\" y1=\"%d\" x2=\"%.2f\" y2=\"%d\" stroke=\"#333\" "
            "stroke-dasharray=\"4 3\"/>\n",
            x, rows_y - 4, x, rows_y + ph + 2);
}

int gantt_write(const char *path, const char *title, const struct pipeline *p,
                const struct pipeline_times *t, const struct gantt_panel *panels, int np,
                struct tg_error *err) {
    int panel_h = G_PTITLE + p->stages * G_ROW + G_PBOTTOM;
    int h = G_TOP + np * panel_h + G_LEGEND;
    double tmax = 0;
    FILE *f;

    if (np < 1 || np > GANTT_MAX_PANELS) {
        tg_error_set(err, "svg", "a Gantt chart has 1 to %d panels, not %d", GANTT_MAX_PANELS, np);
        return TG_EINVAL;
    }
    for (int k = 0; k < np; k++)
        tmax = fmax(tmax, panels[k].sim->makespan);
    if (!(tmax > 0))
        tmax = 1;
    f = fopen(path, "w");
    if (!f) {
        tg_error_set(err, TG_CODE_IO, "cannot write %s: %s", path, strerror(errno));
        return TG_EIO;
    }
    fprintf(f,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
            "viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" font-size=\"12\">\n"
            "<defs><pattern id=\"hatch\" width=\"5\" height=\"5\" "
            "patternUnits=\"userSpaceOnUse\" patternTransform=\"rotate(45)\">"
            "<rect width=\"5\" height=\"5\" fill=\"#fde3c4\"/>"
            "<line x1=\"0\" y1=\"0\" x2=\"0\" y2=\"5\" stroke=\"#a0522d\" stroke-width=\"2\"/>"
            "</pattern></defs>\n"
            "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
            "<text x=\"%d\" y=\"24\" font-size=\"15\">",
            G_WIDTH, h, G_WIDTH, h, G_LEFT);
    put_text(f, title);
    fprintf(f, "</text>\n");
    for (int k = 0; k < np; k++)
        panel(f, p, &panels[k], tmax, G_TOP + k * panel_h);
    {
        int y = h - G_LEGEND + 14, x = G_LEFT;

        fprintf(f,
                "<rect x=\"%d\" y=\"%d\" width=\"14\" height=\"10\" fill=\"%s\"/>"
                "<text x=\"%d\" y=\"%d\">forward</text>\n"
                "<rect x=\"%d\" y=\"%d\" width=\"14\" height=\"10\" fill=\"%s\"/>"
                "<text x=\"%d\" y=\"%d\">backward</text>\n"
                "<rect x=\"%d\" y=\"%d\" width=\"14\" height=\"10\" fill=\"url(#hatch)\"/>"
                "<text x=\"%d\" y=\"%d\">frozen share (height = freeze ratio)</text>\n"
                "<rect x=\"%d\" y=\"%d\" width=\"14\" height=\"10\" fill=\"none\" "
                "stroke=\"%s\" stroke-width=\"2\"/><text x=\"%d\" y=\"%d\">critical path</text>\n"
                "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#333\" "
                "stroke-dasharray=\"4 3\"/><text x=\"%d\" y=\"%d\">makespan (time in %s)</text>\n",
                x, y - 9, C_FWD, x + 18, y, x + 90, y - 9, C_BWD, x + 108, y, x + 190, y - 9,
                x + 208, y, x + 445, y - 9, C_CRITICAL, x + 463, y, x + 570, y - 10, x + 570, y + 2,
                x + 576, y, t->unit[0] ? t->unit : "the times file's unit");
    }
    fprintf(f, "</svg>\n");
    if (fclose(f) != 0) {
        tg_error_set(err, TG_CODE_IO, "cannot write %s: %s", path, strerror(errno));
        return TG_EIO;
    }
    return 0;
}
