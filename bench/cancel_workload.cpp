// The fixed workload issue 18 counts instructions on: `cancel` of a proposed referral, 100
// commands per transaction, synchronous=NORMAL, on a file. Setup (the proposals) runs first; the
// cancels run inside run_cancels(), which callgrind collects alone:
//
//   bench/instructions.sh        (valgrind --tool=callgrind --toggle-collect=*run_cancels*)
//
// Usage: kakehashi_cancel_workload [COMMANDS=5000] [PER_TRANSACTION=100]
#include <cstdio>
#include <cstdlib>
#include <kakehashi/engine.hpp>
#include <string>

#include "bench_support.hpp"

namespace {

using namespace kakehashi;

const hospital_id bm{"bach-mai"};
const actor coordinator{bm, actor_role::coordinator, user_id{"io-bm-1"}};
const instant t0{std::chrono::seconds{1772323200}};  // 2026-03-01T00:00:00Z

// Not inlined, so that callgrind can collect exactly this call.
__attribute__((noinline)) void run_cancels(engine& e, int n, int per_txn) {
  for (int i = 0; i < n;) {
    e.batch([&] {
      for (int k = 0; k < per_txn && i < n; ++k, ++i) {
        const std::string id = std::to_string(i);
        (void)e.apply(
            referral_id{"R-" + id},
            event::cancel{coordinator, t0 + std::chrono::hours{i}, cancel_reason::patient_request},
            "c-" + id);
      }
    });
  }
}

}  // namespace

int main(int argc, char** argv) {
  const int n = argc > 1 ? std::atoi(argv[1]) : 5000;
  const int per_txn = argc > 2 ? std::atoi(argv[2]) : 100;
  if (n <= 0 || per_txn <= 0) {
    std::fprintf(stderr, "usage: kakehashi_cancel_workload [COMMANDS>0] [PER_TRANSACTION>0]\n");
    return 2;
  }
  const std::string path = bench::db_path("cancel-workload");
  engine_options o;
  o.sync = durability::normal;
  bench::propose_referrals(path, n, o);  // closed: the WAL is checkpointed before the measured part
  engine e = engine::open(path, bench::shipped_agreements(), consent_policy::standard(), o);
  run_cancels(e, n, per_txn);
  std::printf("%d cancels, %d per transaction, %lld audit rows\n", n, per_txn,
              static_cast<long long>(e.audit_rows()));
  bench::remove_db(path);
  return 0;
}
