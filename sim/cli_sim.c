/* The simulating commands: `wafersim run` (one configuration, end to end)
 * and `wafersim sweep` (many, over sparsity levels and one varied key). */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "cli_internal.h"
#include "report.h"
#include "run.h"
#include "sweep.h"
#include "sweep_mpi.h"

/* Progress on err: a bar redrawn in place on a terminal; otherwise (a CI
 * log, a file) a line at every 10 %, with the wall time so far. */
typedef struct {
  FILE *err;
  const char *what;
  bool tty;
  int shown;       /* percent last drawn, -1 none */
  double start_s;  /* monotonic clock at the start, s */
} bar;

static void bar_draw(void *ctx, double done) {
  bar *b = ctx;
  const int step = b->tty ? 1 : 10, pct = (int)(done * 100.0) / step * step;
  if (pct == b->shown) return;
  b->shown = pct;
  if (!b->tty) {
    fprintf(b->err, "%s: %d%% after %.0f s\n", b->what, pct, ws_report_wall_s() - b->start_s);
    fflush(b->err);
    return;
  }
  char cells[41];
  const int full = pct * 40 / 100;
  for (int i = 0; i < 40; i++) cells[i] = i < full ? '#' : '.';
  cells[40] = '\0';
  fprintf(b->err, "\r%s [%s] %3d%%", b->what, cells, pct);
  if (pct == 100) fputc('\n', b->err);
  fflush(b->err);
}

static bar bar_for(FILE *err, const char *what) {
  const int fd = fileno(err);
  return (bar){err, what, fd >= 0 && isatty(fd), -1, ws_report_wall_s()};
}

/* The run's JSON document: totals and op rows. */
typedef struct {
  const ws_config *cfg;
  const ws_run *r;
  const ws_table *totals, *ops;
} run_doc;

json_t *ws_cli_run_doc(const ws_config *cfg, const ws_table *totals, const ws_table *ops) {
  json_t *tot = ws_table_json(totals), *obj = json_object();
  json_object_set(obj, "totals", json_array_get(tot, 0));
  json_object_set_new(obj, "ops", ws_table_json(ops));
  json_decref(tot);
  return ws_cli_doc(cfg, "run", obj);
}

static int write_run_json(void *ctx, FILE *out) {
  const run_doc *d = ctx;
  json_t *doc = ws_cli_run_doc(d->cfg, d->totals, d->ops);
  const int rc = ws_cli_dump_json(doc, out);
  json_decref(doc);
  return rc;
}
static int write_ops_csv(void *ctx, FILE *out) { return ws_table_write(((run_doc *)ctx)->ops, WS_FORMAT_CSV, out); }
static int write_totals_csv(void *ctx, FILE *out) {
  return ws_table_write(((run_doc *)ctx)->totals, WS_FORMAT_CSV, out);
}
static int write_pes_csv(void *ctx, FILE *out) { return ws_run_write_pes(((run_doc *)ctx)->r, out); }

/* Functional mode's verdict, one line on err (the output's schema has no
 * field for it); false when the logits do not match (the run exits 1, its
 * reports written all the same). */
static bool report_functional(const ws_functional_result *fr, uint32_t seq, FILE *err) {
  if (fr->ok)
    fprintf(err,
            "wafersim run: functional: the logits (%u tokens x %llu) match the reference forward pass: largest "
            "difference %.2e, tolerance %.2e (%g x max(1, largest logit %.3g))\n",
            seq, (unsigned long long)(fr->logits / seq), fr->max_error, fr->tolerance, WS_FUNCTIONAL_TOLERANCE,
            fr->max_logit);
  else
    fprintf(err,
            "wafersim run: functional: the logits do NOT match the reference forward pass: token %u, logit %u off "
            "by %.3e, tolerance %.2e (%g x max(1, largest logit %.3g))\n",
            fr->worst_token, fr->worst_logit, fr->max_error, fr->tolerance, WS_FUNCTIONAL_TOLERANCE, fr->max_logit);
  return fr->ok;
}
/* run --out DIR: written as a unit (report.h). */
static const ws_report_file run_files[] = {
    {"run.json", write_run_json}, {"totals.csv", write_totals_csv}, {"ops.csv", write_ops_csv},
    {"pes.csv", write_pes_csv}};
#define NRUN_FILES (sizeof run_files / sizeof run_files[0])

int ws_cmd_run(const ws_cli_args *a, FILE *out, FILE *err) {
  ws_config cfg;
  if (ws_cli_load_config(a, &cfg, err) != 0) return WS_EXIT_BAD_INPUT;
  char msg[WS_CONFIG_ERR_MAX] = "";
  if (a->out && ws_report_check_dir(a->out, run_files, NRUN_FILES, msg, sizeof msg) != 0) {
    fprintf(err, "wafersim run: --out: %s\n", msg);
    return WS_EXIT_FAILURE;
  }
  bar b = bar_for(err, "wafersim run: simulating");
  ws_run *r = ws_run_simulate(&cfg, bar_draw, &b, msg, sizeof msg);
  if (!r) {
    fprintf(err, "wafersim run: %s\n", msg);
    return WS_EXIT_BAD_INPUT;
  }
  ws_table *totals = ws_run_totals_table(r), *ops = ws_run_ops_table(r);
  run_doc d = {&cfg, r, totals, ops};
  int rc = totals && ops ? WS_EXIT_OK : WS_EXIT_FAILURE;
  const ws_functional_result *fr = ws_run_functional(r);
  bool functional_ok = !fr || report_functional(fr, (uint32_t)(cfg.workload.seq_len * cfg.workload.batch), err);
  if (rc == WS_EXIT_OK && a->out && ws_report_write_dir(a->out, run_files, NRUN_FILES, &d, msg, sizeof msg) != 0) {
    fprintf(err, "wafersim run: %s\n", msg);
    rc = WS_EXIT_FAILURE;
  }
  if (rc == WS_EXIT_OK) {
    const int wrote = cfg.output.format == WS_FORMAT_JSON ? write_run_json(&d, out)
                      : cfg.output.format == WS_FORMAT_CSV ? ws_table_write(ops, WS_FORMAT_CSV, out)
                                                           : ws_table_write_fields(totals, out);
    rc = ws_cli_wrote("run", wrote, out, err);
  }
  if (rc == WS_EXIT_OK && !functional_ok) rc = WS_EXIT_FAILURE;
  ws_table_destroy(totals);
  ws_table_destroy(ops);
  ws_run_destroy(r);
  return rc;
}

/* The default levels: dense, the iterative-pruning schedule up to the 84%
 * GPT-3 1.3B was pruned to without loss (each round removes 40% of the
 * remaining weights: 0.4, 0.64, 0.784, then 0.84), then 0.9 and 0.95. Seven
 * full-wafer runs: a round of pruning per point would be 0.2 (twelve runs). */
static size_t default_levels(double *levels, FILE *err) {
  size_t n = 0;
  if (ws_cli_parse_schedule("sweep", "0.4,0.84", levels, &n, err) != 0) return 0;
  levels[n++] = 0.9;
  levels[n++] = 0.95;
  return n;
}

typedef struct {
  const ws_config *cfg;
  const ws_sweep_spec *spec;
  const ws_sweep *s;
  ws_table *rows, *kinds;
} sweep_doc;

json_t *ws_cli_sweep_doc(const ws_config *cfg, const ws_sweep_spec *spec, const ws_table *rows,
                         const ws_table *kinds) {
  json_t *levels = json_array(), *values = json_array(), *obj = json_object();
  for (size_t i = 0; i < spec->nlevels; i++) json_array_append_new(levels, json_real(spec->levels[i]));
  for (size_t i = 0; i < spec->nvalues; i++) json_array_append_new(values, json_string(spec->values[i]));
  json_object_set_new(obj, "spec",
                      json_pack("{s:o,s:s,s:o}", "levels", levels, "key", spec->key ? spec->key : "", "values", values));
  json_object_set_new(obj, "points", ws_table_json(rows));
  json_object_set_new(obj, "kinds", ws_table_json(kinds));
  return ws_cli_doc(cfg, "sweep", obj);
}

static int write_sweep_json(void *ctx, FILE *out) {
  const sweep_doc *d = ctx;
  json_t *doc = ws_cli_sweep_doc(d->cfg, d->spec, d->rows, d->kinds);
  const int rc = ws_cli_dump_json(doc, out);
  json_decref(doc);
  return rc;
}
static int write_sweep_csv(void *ctx, FILE *out) { return ws_table_write(((sweep_doc *)ctx)->rows, WS_FORMAT_CSV, out); }
static int write_kinds_csv(void *ctx, FILE *out) {
  return ws_table_write(((sweep_doc *)ctx)->kinds, WS_FORMAT_CSV, out);
}
static int write_pes_first(void *ctx, FILE *out) { return ws_sweep_write_pes(((sweep_doc *)ctx)->s, 1, out); }
static int write_pes_last(void *ctx, FILE *out) { return ws_sweep_write_pes(((sweep_doc *)ctx)->s, 0, out); }

/* sweep --out DIR: written as a unit (report.h). */
static const ws_report_file sweep_files[] = {
    {"sweep.csv", write_sweep_csv}, {"sweep.json", write_sweep_json}, {"kinds.csv", write_kinds_csv},
    {"pes_first.csv", write_pes_first}, {"pes_last.csv", write_pes_last}};
#define NSWEEP_FILES (sizeof sweep_files / sizeof sweep_files[0])

/* --vary KEY=V1,V2,...: the key and its values (pointers into buf). */
static int parse_vary(const char *vary, char *buf, size_t len, const char **key, const char **values, size_t *n,
                      FILE *err) {
  snprintf(buf, len, "%s", vary);
  char *eq = strchr(buf, '=');
  if (!eq || eq == buf || !eq[1] || strlen(vary) >= len) {
    fprintf(err, "wafersim sweep: --vary: expected KEY=V1,V2,..., e.g. workload.micro_batch=8,16,32, got '%s'\n",
            vary);
    return -1;
  }
  *eq = '\0';
  *key = buf;
  *n = 0;
  char *save = NULL;
  for (char *tok = strtok_r(eq + 1, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
    if (*n == WS_SWEEP_MAX_VALUES) {
      fprintf(err, "wafersim sweep: --vary: more than %d values\n", WS_SWEEP_MAX_VALUES);
      return -1;
    }
    values[(*n)++] = tok;
  }
  return 0;
}

/* What a sweep's options and configuration give, parsed. */
typedef struct {
  ws_config cfg;
  double levels[WS_CLI_MAX_LEVELS];
  size_t nl;
  uint32_t jobs;
  char vbuf[1024];
  const char *key, *values[WS_SWEEP_MAX_VALUES];
  size_t nv;
} sweep_args;

/* The configuration and options of a sweep. WS_EXIT_OK, or the status with its message on err. */
static int parse_sweep(const ws_cli_args *a, sweep_args *sa, FILE *err) {
  if (ws_cli_load_config(a, &sa->cfg, err) != 0) return WS_EXIT_BAD_INPUT;
  if (a->sparsity && a->schedule) {
    fprintf(err, "wafersim sweep: --sparsity and --schedule both give the levels; use one\n");
    return WS_EXIT_BAD_INPUT;
  }
  if ((a->sparsity && ws_cli_parse_levels("sweep", a->sparsity, sa->levels, &sa->nl, err) != 0) ||
      (a->schedule && ws_cli_parse_schedule("sweep", a->schedule, sa->levels, &sa->nl, err) != 0) ||
      (!a->sparsity && !a->schedule && (sa->nl = default_levels(sa->levels, err)) == 0))
    return WS_EXIT_BAD_INPUT;
  uint32_t one;
  sa->jobs = 2;
  if (a->jobs && ws_cli_parse_list("sweep", "--jobs", a->jobs, NULL, &sa->jobs, 1, &one, err) != 0)
    return WS_EXIT_BAD_INPUT;
  if (a->vary && parse_vary(a->vary, sa->vbuf, sizeof sa->vbuf, &sa->key, sa->values, &sa->nv, err) != 0)
    return WS_EXIT_BAD_INPUT;
  return WS_EXIT_OK;
}

/* A sweep on the job m (sweep_mpi.h; one process without mpirun). Every
 * rank parses and checks, then they agree; only rank 0 checks and writes
 * --out and writes on out; err is this rank's (on the others a buffer,
 * err_text its text so far, shown by rank 0 when their failure is first). */
static int sweep_on(const ws_cli_args *a, const ws_mpi *m, FILE *out, FILE *err, char *const *err_text,
                    FILE *real_err) {
  const bool writer = ws_mpi_rank(m) == 0;
  sweep_args *sa = calloc(1, sizeof *sa);
  char msg[WS_CONFIG_ERR_MAX] = "";
  int rc = sa ? parse_sweep(a, sa, err) : WS_EXIT_FAILURE;
  if (!sa) fprintf(err, "wafersim sweep: out of memory\n");
  if (rc == WS_EXIT_OK && writer && a->out && ws_report_check_dir(a->out, sweep_files, NSWEEP_FILES, msg, sizeof msg) != 0) {
    fprintf(err, "wafersim sweep: --out: %s\n", msg);
    rc = WS_EXIT_FAILURE;
  }
  fflush(err);
  if ((rc = ws_mpi_agree(m, rc, *err_text, real_err)) != WS_EXIT_OK) {
    free(sa);
    return rc;
  }
  bar b = bar_for(err, "wafersim sweep");
  const ws_sweep_spec spec = {sa->levels, sa->nl, sa->key, sa->values, sa->nv, sa->jobs, bar_draw, &b};
  ws_sweep *s = ws_sweep_run_shared(&sa->cfg, &spec, NULL, ws_mpi_share(m), msg, sizeof msg);
  if (!s) { /* every rank alike: the share gives them the same message */
    fprintf(err, "wafersim sweep: %s\n", msg);
    free(sa);
    return WS_EXIT_BAD_INPUT;
  }
  rc = WS_EXIT_OK;
  if (ws_sweep_complete(s)) {
    sweep_doc d = {&sa->cfg, &spec, s, ws_sweep_table(s), ws_sweep_kinds_table(s)};
    rc = d.rows && d.kinds ? WS_EXIT_OK : WS_EXIT_FAILURE;
    if (rc == WS_EXIT_OK && a->out &&
        ws_report_write_dir(a->out, sweep_files, NSWEEP_FILES, &d, msg, sizeof msg) != 0) {
      fprintf(err, "wafersim sweep: %s\n", msg);
      rc = WS_EXIT_FAILURE;
    }
    if (rc == WS_EXIT_OK) {
      const int wrote = sa->cfg.output.format == WS_FORMAT_JSON ? write_sweep_json(&d, out)
                                                                : ws_table_write(d.rows, sa->cfg.output.format, out);
      rc = ws_cli_wrote("sweep", wrote, out, err);
    }
    ws_table_destroy(d.rows);
    ws_table_destroy(d.kinds);
  }
  ws_sweep_destroy(s);
  free(sa);
  fflush(err);
  return ws_mpi_agree(m, rc, *err_text, real_err); /* rank 0's writing decides every rank's status */
}

int ws_cmd_sweep(const ws_cli_args *a, FILE *out, FILE *err) {
  char msg[WS_CONFIG_ERR_MAX] = "";
  ws_mpi *m = ws_mpi_open(msg, sizeof msg);
  if (!m) {
    if (*msg) fprintf(err, "wafersim sweep: %s\n", msg);
    return WS_EXIT_BAD_INPUT;
  }
  /* The ranks but 0 keep their messages: rank 0 prints them when theirs is the failure. */
  char *text = NULL;
  size_t len = 0;
  FILE *rank_err = ws_mpi_rank(m) == 0 ? err : open_memstream(&text, &len);
  int rc;
  if (!rank_err) {
    fprintf(err, "wafersim sweep: rank %d: out of memory\n", ws_mpi_rank(m));
    rc = ws_mpi_agree(m, WS_EXIT_FAILURE, NULL, err);
  } else {
    rc = sweep_on(a, m, out, rank_err, &text, err);
  }
  if (rank_err && rank_err != err) fclose(rank_err);
  free(text);
  ws_mpi_close(m);
  return rc;
}
