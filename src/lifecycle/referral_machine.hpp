#pragma once
// Private: the referral lifecycle as a Boost.MSM state machine. Included by src/referral.cpp ONLY
// (one translation unit compiles MSM). Public headers never see Boost.
//
// Rules this file keeps (see STYLE.md, Boost 1.74 pitfalls):
//  - actions only record data on the machine, do no I/O and cannot throw (no_exception_thrown);
//  - no_transition is overridden and does nothing: callers branch on process_event()'s result;
//  - a machine is copied only from a const& (the forwarding-constructor copy trap);
//  - state ids are mapped in one place, state_of(), never hard-coded.
//  - guards only say "no" for facts the machine owns; who may fire an event, eligibility and
//    consent are decided outside, where the reason can be explained.

// The table has more than MPL's default 20 rows; CMakeLists.txt raises the limits for the library.
#if !defined(BOOST_MPL_LIMIT_VECTOR_SIZE) || BOOST_MPL_LIMIT_VECTOR_SIZE < 30
#error "compile with BOOST_MPL_CFG_NO_PREPROCESSED_HEADERS and BOOST_MPL_LIMIT_VECTOR_SIZE=30"
#endif
#include <boost/mpl/vector.hpp>
#include <boost/msm/back/metafunctions.hpp>
#include <boost/msm/back/state_machine.hpp>
#include <boost/msm/front/functor_row.hpp>
#include <boost/msm/front/state_machine_def.hpp>
#include <optional>

#include "kakehashi/referral.hpp"

namespace kakehashi::detail {

namespace msmf = boost::msm::front;

/// Private event: put a freshly started machine into a stored state (referral::restore) without
/// running the lifecycle's transitions. Never reachable from the public event vocabulary.
struct restore_to {
  referral_state target;
  std::optional<close_reason> reason;
  bool consent_withdrawn;
};

struct referral_fsm : msmf::state_machine_def<referral_fsm> {
  using no_exception_thrown = int;  // actions cannot throw: no try/catch in process_event
  using no_message_queue = int;     // actions never fire events

  // States
  struct proposed : msmf::state<> {};
  struct consent_recorded : msmf::state<> {};
  struct accepted : msmf::state<> {};
  struct transferred : msmf::state<> {};
  struct closed : msmf::state<> {};
  using initial_state = proposed;

  // Data the machine owns
  std::optional<close_reason> reason;
  bool consent_withdrawn = false;

  // Actions (verbs)
  template <close_reason R>
  struct close_as {
    template <class Event, class Fsm, class Source, class Target>
    void operator()(const Event&, Fsm& fsm, Source&, Target&) const noexcept {
      fsm.reason = R;
      if (R == close_reason::consent_withdrawn) fsm.consent_withdrawn = true;
    }
  };
  struct mark_consent_withdrawn {
    template <class Event, class Fsm, class Source, class Target>
    void operator()(const Event&, Fsm& fsm, Source&, Target&) const noexcept {
      fsm.consent_withdrawn = true;
    }
  };
  struct load_stored_data {
    template <class Fsm, class Source, class Target>
    void operator()(const restore_to& e, Fsm& fsm, Source&, Target&) const noexcept {
      fsm.reason = e.reason;
      fsm.consent_withdrawn = e.consent_withdrawn;
    }
  };

  // Guards (*_ok predicates)
  struct not_yet_withdrawn_ok {
    template <class Event, class Fsm, class Source, class Target>
    bool operator()(const Event&, Fsm& fsm, Source&, Target&) const noexcept {
      return !fsm.consent_withdrawn;
    }
  };
  template <referral_state S>
  struct restore_target_ok {
    template <class Fsm, class Source, class Target>
    bool operator()(const restore_to& e, Fsm&, Source&, Target&) const noexcept {
      return e.target == S;
    }
  };

  using none = msmf::none;
  template <class... T>
  using Row = msmf::Row<T...>;

  // clang-format off
  struct transition_table : boost::mpl::vector<
    //   Source            Event                    Target            Action                                        Guard
    Row< proposed,         event::record_consent,   consent_recorded, none,                                         none >,
    // A document (by reference) joins the referral's file; the state does not change.
    Row< proposed,         event::attach_document,  proposed,         none,                                         none >,
    Row< proposed,         event::cancel,           closed,           close_as<close_reason::cancelled>,            none >,
    Row< proposed,         event::expire,           closed,           close_as<close_reason::expired>,              none >,
    Row< consent_recorded, event::record_consent,   consent_recorded, none,                                         none >,
    Row< consent_recorded, event::attach_document,  consent_recorded, none,                                         none >,
    Row< consent_recorded, event::accept,           accepted,         none,                                         none >,
    Row< consent_recorded, event::decline,          closed,           close_as<close_reason::declined>,             none >,
    Row< consent_recorded, event::withdraw_consent, closed,           close_as<close_reason::consent_withdrawn>,    none >,
    Row< consent_recorded, event::cancel,           closed,           close_as<close_reason::cancelled>,            none >,
    Row< consent_recorded, event::expire,           closed,           close_as<close_reason::expired>,              none >,
    // A replacement consent: the one that allowed acceptance may not allow the journey (a
    // stricter regime in force by then, a consent that lapsed); the transfer checks the newest.
    Row< accepted,         event::record_consent,   accepted,         none,                                         none >,
    Row< accepted,         event::attach_document,  accepted,         none,                                         none >,
    // A step before the journey (visa, travel...): the agreement's list gates the transfer.
    Row< accepted,         event::record_milestone, accepted,         none,                                         none >,
    Row< accepted,         event::transfer,         transferred,      none,                                         none >,
    Row< accepted,         event::withdraw_consent, closed,           close_as<close_reason::consent_withdrawn>,    none >,
    Row< accepted,         event::cancel,           closed,           close_as<close_reason::cancelled>,            none >,
    // Results back to the referring hospital (a discharge summary...), while consent stands.
    Row< transferred,      event::return_results,   transferred,      none,                                         not_yet_withdrawn_ok >,
    // A newer consent for the return flow (one granting results_return, say), while consent stands.
    Row< transferred,      event::record_consent,   transferred,      none,                                         not_yet_withdrawn_ok >,
    Row< transferred,      event::complete,         closed,           close_as<close_reason::completed>,            none >,
    Row< transferred,      event::withdraw_consent, transferred,      mark_consent_withdrawn,                       not_yet_withdrawn_ok >,
    // restore (private): from the initial state straight to a stored one
    Row< proposed,         restore_to,              consent_recorded, load_stored_data, restore_target_ok<referral_state::consent_recorded> >,
    Row< proposed,         restore_to,              accepted,         load_stored_data, restore_target_ok<referral_state::accepted> >,
    Row< proposed,         restore_to,              transferred,      load_stored_data, restore_target_ok<referral_state::transferred> >,
    Row< proposed,         restore_to,              closed,           load_stored_data, restore_target_ok<referral_state::closed> >
  > {};
  // clang-format on

  /// A refused event does nothing here; the caller reads process_event()'s result and explains.
  template <class Fsm, class Event>
  void no_transition(const Event&, Fsm&, int) noexcept {}
};

using referral_machine = boost::msm::back::state_machine<referral_fsm>;

/// The one mapping from MSM state ids to referral_state.
inline referral_state state_of(const referral_machine& m) noexcept {
  using stt = referral_machine::stt;
  using boost::msm::back::get_state_id;
  switch (m.current_state()[0]) {
    case get_state_id<stt, referral_fsm::proposed>::value:
      return referral_state::proposed;
    case get_state_id<stt, referral_fsm::consent_recorded>::value:
      return referral_state::consent_recorded;
    case get_state_id<stt, referral_fsm::accepted>::value:
      return referral_state::accepted;
    case get_state_id<stt, referral_fsm::transferred>::value:
      return referral_state::transferred;
    case get_state_id<stt, referral_fsm::closed>::value:
      return referral_state::closed;
    default:
      break;
  }
  // Unreachable while the table above lists every state; a test restores and checks each one.
  return referral_state::closed;
}

}  // namespace kakehashi::detail
