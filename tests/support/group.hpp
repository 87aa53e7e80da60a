#pragma once
// Makes a group commit happen on purpose: run_as_group(e, commands) holds the engine with an
// empty batch on this thread, starts one thread per command in order (each once the one before
// it is queued: engine::stats().queued), then ends the batch. The first submitter leads and
// commits every command in one transaction, in the order given. Returns each command's
// exception (null when it returned). A command that throws before it is queued (an invalid key)
// is counted as done instead. When the holding batch itself fails before any thread starts (its
// BEGIN, on a lost connection), every command gets that failure: none of them ran. A failure of
// the empty batch after they queued is its own (it held no command); each command has its own.
#include <atomic>
#include <exception>
#include <functional>
#include <kakehashi/engine.hpp>
#include <thread>
#include <vector>

namespace kakehashi::test {

inline std::vector<std::exception_ptr> run_as_group(
    engine& e, const std::vector<std::function<void(engine&)>>& commands) {
  std::vector<std::exception_ptr> errors(commands.size());
  std::vector<std::thread> threads;
  std::atomic<std::size_t> finished{0};  // only commands that never queued can finish here
  std::exception_ptr held;
  try {
    e.batch([&] {
      for (std::size_t i = 0; i < commands.size(); ++i) {
        threads.emplace_back([&, i] {
          try {
            commands[i](e);
          } catch (...) {
            errors[i] = std::current_exception();
          }
          ++finished;
        });
        while (e.stats().queued + finished < i + 1) std::this_thread::yield();  // arrival order
      }
    });
  } catch (...) {
    held = std::current_exception();
  }
  for (auto& t : threads) t.join();
  if (held && threads.empty()) errors.assign(commands.size(), held);
  return errors;
}

}  // namespace kakehashi::test
