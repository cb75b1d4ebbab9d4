// JSON for the tests: an owning handle, the output schema, and a report's
// host fields (wall times, RSS, events per second: the properties the
// output schema marks x-host) taken out, so that two runs of the same
// configuration compare byte for byte: on one worker or two, in one
// process or over the ranks of an MPI job.
#ifndef WAFERSIM_TESTS_WS_JSON_H
#define WAFERSIM_TESTS_WS_JSON_H

#include <gtest/gtest.h>
#include <jansson.h>

#include <sstream>
#include <string>
#include <vector>

#include "sim/jschema.h"

namespace wstest {

// Owns a json_t (decref'd with it).
struct Json {
  json_t *j;
  explicit Json(json_t *p) : j(p) {}
  ~Json() { json_decref(j); }
  Json(const Json &) = delete;
  Json &operator=(const Json &) = delete;
};

// The output schema (ws_jschema_output), which must load; the caller owns it.
inline json_t *output_schema() {
  char err[256];
  json_t *s = ws_jschema_output(err, sizeof err);
  EXPECT_NE(s, nullptr) << err;
  return s;
}

// doc without the fields the schema (root; s the part of it doc is an
// instance of) marks x-host, in place, at every depth.
inline void strip_host(const json_t *root, const json_t *s, json_t *doc) {
  if (json_is_array(doc)) {
    const json_t *ref = json_object_get(s, "$ref");
    const json_t *def = ref ? ws_jschema_at(root, json_string_value(ref)) : s;
    size_t i;
    json_t *e;
    json_array_foreach(doc, i, e) strip_host(root, json_object_get(def, "items"), e);
    return;
  }
  if (!json_is_object(doc)) return;
  const char *key;
  json_t *v;
  void *tmp;
  json_object_foreach_safe(doc, tmp, key, v) {
    const json_t *p = ws_jschema_property(root, s, key);
    if (p && ws_jschema_is_host(root, p)) json_object_del(doc, key);
    else if (p) strip_host(root, p, v);
  }
}

// The report at path (a run.json or sweep.json) as text without its host
// fields, "" (and a failure) when it does not load; s is the output schema.
inline std::string json_without_host(const json_t *s, const std::string &path) {
  json_error_t je;
  Json d(json_load_file(path.c_str(), 0, &je));
  EXPECT_NE(d.j, nullptr) << path << ": " << je.text;
  if (!d.j) return "";
  strip_host(s, s, d.j);
  char *t = json_dumps(d.j, JSON_INDENT(2) | JSON_REAL_PRECISION(17));
  std::string text = t ? t : "";
  free(t);
  EXPECT_EQ(text.find("wall_s"), std::string::npos) << "host fields stripped";
  return text;
}

// A CSV without the columns whose header names a host field of def.
inline std::string strip_host_csv(const json_t *root, const char *def, const std::string &csv) {
  const json_t *d = ws_jschema_at(root, def);
  std::istringstream in(csv);
  std::string line, out;
  std::vector<bool> keep;
  for (bool header = true; std::getline(in, line); header = false) {
    std::vector<std::string> cells;
    std::string cell;
    std::istringstream ls(line);
    while (std::getline(ls, cell, ',')) cells.push_back(cell);
    if (header)
      for (const auto &c : cells) {
        const json_t *p = ws_jschema_property(root, d, c.c_str());
        keep.push_back(!(p && ws_jschema_is_host(root, p)));
      }
    for (size_t i = 0; i < cells.size(); i++)
      if (i < keep.size() && keep[i]) out += cells[i] + ",";
    out += "\n";
  }
  return out;
}

}  // namespace wstest

#endif
