#include "config.hpp"

#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <kakehashi/error.hpp>
#include <set>

// The strict JSON reader every loader of the library uses (src/json_reader.hpp): the service's
// configuration reports its problems exactly as the agreements file does. It is private to the
// library; the tool, built in the same tree, is its one other user.
#include "common/json_reader.hpp"
// Whether the database is a PostgreSQL connection URI, which is not a path to resolve.
#include "store/postgres/pg_store.hpp"

namespace kakehashi::serve {
namespace {

namespace fs = std::filesystem;
using detail::json;
using detail::object_reader;

constexpr std::string_view format_tag = "kakehashi.serve/1";

bool is_sha256_hex(const std::string& s) {
  return s.size() == 64 && s.find_first_not_of("0123456789abcdef") == std::string::npos;
}

// A path of the file, relative to the configuration's directory; with `must_exist`, a file
// that cannot be read is a problem of the configuration.
std::optional<std::string> path_of(object_reader& r, std::string_view key, const std::string& base,
                                   bool must_exist) {
  auto s = r.string(key);
  if (!s) return std::nullopt;
  const fs::path p = fs::path(*s).is_absolute() ? fs::path(*s) : fs::path(base) / *s;
  if (must_exist && !std::ifstream(p).good()) {
    r.report(r.path(key), fmt::format("cannot read '{}'; give the path of a readable file",
                                      printable(p.string(), 200)));
    return std::nullopt;
  }
  return p.string();
}

void read_limits(object_reader& r, limits& l) {
  if (auto v = r.integer("body_bytes", 1024, 64 << 20)) l.body_bytes = static_cast<std::size_t>(*v);
  if (auto v = r.integer("header_bytes", 1024, 1 << 20)) {
    l.header_bytes = static_cast<std::size_t>(*v);
  }
  if (auto v = r.integer("connections", 1, 10000)) l.connections = static_cast<int>(*v);
  if (auto v = r.integer("request_seconds", 1, 3600)) l.request_time = std::chrono::seconds{*v};
  if (auto v = r.integer("idle_seconds", 1, 3600)) l.idle_time = std::chrono::seconds{*v};
  if (auto v = r.integer("threads", 1, 64)) l.threads = static_cast<int>(*v);
}

}  // namespace

std::string printable_database(const std::string& database) {
  return printable(
      store::postgres::is_uri(database) ? store::postgres::printable_uri(database) : database, 200);
}

config_load_result try_load_config(std::string_view json_text, const std::string& base_dir) {
  config_load_result result;
  auto& problems = result.problems;
  const auto doc = detail::parse_strict(json_text, problems);
  if (!doc) return result;
  object_reader r(*doc, "", problems,
                  {"format", "host", "database", "agreements", "listen", "tls", "clients"},
                  {"description", "policy", "audit_key", "signing_key", "durability", "limits",
                   "sweep_every_minutes", "notifications"});
  if (!r.ok()) return result;
  config c;
  if (auto f = r.string("format"); f && *f != format_tag) {
    r.report("format", fmt::format("'{}' is not a format this version reads; expected '{}'",
                                   printable(*f), format_tag));
  }
  r.string("description", true);
  if (auto v = r.id<hospital_tag>("host")) c.host = *v;
  // A file relative to the configuration, or a PostgreSQL URI as given (several services can
  // share one server database).
  if (const auto d = r.string("database")) {
    c.database = store::postgres::is_uri(*d) || fs::path(*d).is_absolute()
                     ? *d
                     : (fs::path(base_dir) / *d).string();
  }
  if (auto v = path_of(r, "agreements", base_dir, true)) c.agreements = *v;
  if (r.has("policy")) {
    if (auto v = path_of(r, "policy", base_dir, true)) c.policy = *v;
  }
  if (r.has("audit_key")) {
    if (auto v = path_of(r, "audit_key", base_dir, true)) c.audit_key = *v;
  }
  if (r.has("signing_key")) {
    if (auto v = path_of(r, "signing_key", base_dir, true)) c.signing_key = *v;
  }
  if (auto v = r.string("durability")) {
    if (*v == "full" || *v == "normal") {
      c.full_durability = *v == "full";
    } else {
      r.report("durability",
               fmt::format("'{}' is not a durability; expected full or normal", printable(*v)));
    }
  }
  if (const json* l = r.object("listen")) {
    object_reader lr(*l, "listen", problems, {"address", "port"});
    if (auto v = lr.string("address")) c.address = *v;
    if (auto v = lr.integer("port", 0, 65535)) c.port = static_cast<unsigned short>(*v);
  }
  if (const json* t = r.object("tls")) {
    object_reader tr(*t, "tls", problems, {"certificate", "key", "client_ca"});
    if (auto v = path_of(tr, "certificate", base_dir, true)) c.certificate = *v;
    if (auto v = path_of(tr, "key", base_dir, true)) c.private_key = *v;
    if (auto v = path_of(tr, "client_ca", base_dir, true)) c.client_ca = *v;
  }
  if (const json* cs = r.array("clients")) {
    std::set<std::string> fingerprints;
    for (std::size_t i = 0; i < cs->size(); ++i) {
      object_reader cr((*cs)[i], detail::path_index("clients", i), problems,
                       {"hospital", "certificate_sha256"});
      client cl;
      if (auto v = cr.id<hospital_tag>("hospital")) cl.hospital = *v;
      if (auto v = cr.string("certificate_sha256")) {
        if (!is_sha256_hex(*v)) {
          cr.report(cr.path("certificate_sha256"),
                    "is not a SHA-256 fingerprint; expected 64 lower-case hex digits, e.g. the "
                    "output of 'openssl x509 -in client.pem -outform DER | sha256sum'");
        } else if (!fingerprints.insert(*v).second) {
          cr.report(cr.path("certificate_sha256"),
                    "is listed twice; a certificate belongs to one hospital");
        } else {
          cl.certificate_sha256 = *v;
        }
      }
      c.clients.push_back(std::move(cl));
    }
    if (cs->empty()) r.report("clients", "is empty; name at least one hospital's certificate");
  }
  if (const json* l = r.object("limits")) {
    object_reader lr(*l, "limits", problems, {},
                     {"body_bytes", "header_bytes", "connections", "request_seconds",
                      "idle_seconds", "threads"});
    read_limits(lr, c.limits);
  }
  if (auto v = r.integer("sweep_every_minutes", 1, 24 * 60)) {
    c.sweep_every = std::chrono::minutes{*v};
  }
  if (const json* n = r.object("notifications")) {
    object_reader nr(*n, "notifications", problems, {"state", "endpoints"},
                     {"retry_min_ms", "retry_max_ms", "poll_ms", "batch"});
    auto& out = c.notifications;
    if (auto v = path_of(nr, "state", base_dir, false)) out.state = *v;
    if (auto v = nr.integer("retry_min_ms", 10, 600000))
      out.retry_min = std::chrono::milliseconds{*v};
    if (auto v = nr.integer("retry_max_ms", 10, 3600000))
      out.retry_max = std::chrono::milliseconds{*v};
    if (auto v = nr.integer("poll_ms", 10, 600000)) out.poll = std::chrono::milliseconds{*v};
    if (auto v = nr.integer("batch", 1, 1000)) out.batch = static_cast<int>(*v);
    if (out.retry_max < out.retry_min) {
      nr.report("notifications.retry_max_ms", "is below retry_min_ms; expected at least it");
    }
    if (const json* es = nr.array("endpoints")) {
      std::set<hospital_id> seen;
      for (std::size_t i = 0; i < es->size(); ++i) {
        object_reader er((*es)[i], detail::path_index("notifications.endpoints", i), problems,
                         {"hospital", "url"}, {"certificate", "key", "ca"});
        notification_endpoint e;
        if (auto v = er.id<hospital_tag>("hospital")) {
          e.hospital = *v;
          if (!seen.insert(*v).second) {
            er.report(er.path("hospital"), "has an endpoint already; give each hospital one");
          }
        }
        if (auto v = er.string("url")) {
          if (v->rfind("https://", 0) != 0) {
            er.report(er.path("url"), fmt::format("'{}' is not an https:// URL; notifications "
                                                  "cross the border over TLS only",
                                                  printable(*v, 200)));
          } else {
            e.url = *v;
          }
        }
        if (er.has("certificate") != er.has("key")) {
          er.report(er.path(er.has("key") ? "certificate" : "key"),
                    "is required with the other: a client certificate and its key go together");
        }
        if (auto v = path_of(er, "certificate", base_dir, true)) e.certificate = *v;
        if (auto v = path_of(er, "key", base_dir, true)) e.key = *v;
        if (auto v = path_of(er, "ca", base_dir, true)) e.ca = *v;
        out.endpoints.push_back(std::move(e));
      }
    }
  }
  if (problems.empty()) result.value = std::move(c);
  return result;
}

config load_config_file(const std::string& path) {
  const auto text = detail::read_file(path);
  if (!text) {
    throw error(errc::not_found,
                fmt::format("--config: cannot read '{}'; pass the path of the service's "
                            "configuration file (docs/api.md)",
                            printable(path, 200)));
  }
  const std::string base = fs::path(path).parent_path().string();
  auto result = try_load_config(*text, base.empty() ? "." : base);
  if (!result.ok()) {
    throw error(errc::invalid_argument,
                detail::join_problems(printable(path, 200), result.problems));
  }
  return std::move(*result.value);
}

}  // namespace kakehashi::serve
