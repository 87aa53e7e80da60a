// kakehashi fhir export --db FILE --id ID --agreements FILE [--consent FILE]
//                       [--bundle collection|transaction] [--out FILE]
// kakehashi fhir import-consent FILE --patient PATIENT.json [--patient-id ID] [--controller ID]
//                               [--out FILE]
// kakehashi fhir acknowledgement --consent FILE [--out FILE]
#include <fmt/format.h>

#include <iostream>
#include <kakehashi/consent.hpp>
#include <kakehashi/engine.hpp>
#include <kakehashi/error.hpp>
#include <kakehashi/fhir.hpp>
#include <memory>
#include <string>

#include "commands.hpp"

namespace kakehashi::tool {
namespace {

struct fhir_options {
  std::string db;
  std::string id;
  std::string agreements;
  std::string consent;
  std::string out;
  std::string input;
  std::string patient;
  std::string patient_id;
  std::string controller;
  std::string bundle = "collection";
};

int run_export(const fhir_options& o) {
  const referral_id id{o.id};
  validate("--id", id);
  const agreement_directory agreements = agreement_directory::load_file(o.agreements);
  const database_view view = database_view::open(o.db);
  const auto referral = view.find(id);
  if (!referral) {
    throw error(errc::not_found, fmt::format("--id: no referral '{}' in {}; kakehashi referral "
                                             "list shows the ids",
                                             o.id, o.db));
  }
  const auto history = view.history(id);
  std::optional<consent_record> consent;
  if (!o.consent.empty()) consent = load_consent(read_text(o.consent, "--consent"), "--consent");
  fhir::options fo;
  fo.bundle = o.bundle == "transaction" ? fhir::bundle_type::transaction
                                        : fhir::bundle_type::collection;
  const std::string bundle =
      fhir::referral_bundle({*referral, history, agreements, consent ? &*consent : nullptr}, fo);
  write_text(o.out, bundle + "\n", "--out");
  if (!o.out.empty()) {
    std::cerr << fmt::format("wrote the Bundle of {} ({} audit events) to {}\n", o.id,
                             history.size(), o.out);
  }
  return exit_ok;
}

int run_import(const fhir_options& o) {
  fhir::import_options io;
  io.birth_date = fhir::patient_birth_date(read_text(o.patient, "--patient"));
  if (!o.patient_id.empty()) {
    io.patient = patient_ref{o.patient_id};
    validate("--patient-id", *io.patient);
  }
  if (!o.controller.empty()) {
    io.controller = hospital_id{o.controller};
    validate("--controller", *io.controller);
  }
  const auto r = fhir::import_consent(read_text(o.input, "FILE"), io);
  // A file that fails lists its problems first: they are what the reader must act on.
  if (!r.ok()) {
    std::cerr << error(errc::invalid_argument,
                       fmt::format("{}: {} problem{}", printable(o.input, 200), r.problems.size(),
                                   r.problems.size() == 1 ? "" : "s"))
                     .what()
              << '\n';
    for (const auto& p : r.problems) std::cerr << "  " << p.path << ": " << p.message << '\n';
  }
  for (const auto& i : r.ignored) std::cerr << "ignored: " << i.path << ": " << i.message << '\n';
  for (const auto& a : r.assumed) {
    std::cerr << "assumed: " << a.path << " = " << a.message
              << " (the Consent does not say; set it in the record if it is otherwise)\n";
  }
  if (!r.ok()) return exit_bad_input;
  write_text(o.out, r.consent_json + "\n", "--out");
  return exit_ok;
}

// STD-08: the consent as a BPPC privacy-policy acknowledgement (a DocumentReference).
int run_acknowledgement(const fhir_options& o) {
  const consent_record c = load_consent(read_text(o.consent, "--consent"), "--consent");
  write_text(o.out, fhir::consent_acknowledgement(c) + "\n", "--out");
  return exit_ok;
}

}  // namespace

command add_fhir_command(CLI::App& app) {
  auto opt = std::make_shared<fhir_options>();
  CLI::App* fhir = app.add_subcommand("fhir", "HL7 FHIR R4: export referrals, import consents");
  fhir->require_subcommand(1);
  CLI::App* out = fhir->add_subcommand(
      "export", "A referral as a FHIR R4 Bundle (ServiceRequest, Task, Consent, AuditEvents...)");
  out->add_option("--db", opt->db, "kakehashi database")->required();
  out->add_option("--id", opt->id, "Referral id")->required();
  out->add_option("--agreements", opt->agreements,
                  "Agreements JSON file (the hospitals become Organizations)")
      ->required();
  out->add_option("--consent", opt->consent,
                  "The consent the referral relies on (kakehashi consent JSON); without it the "
                  "Bundle names the consent by identifier");
  out->add_option("--bundle", opt->bundle,
                  "collection (default: to read or archive) or transaction (to POST to a FHIR "
                  "server: sent twice, it updates instead of duplicating)")
      ->check(CLI::IsMember({"collection", "transaction"}));
  out->add_option("--out", opt->out, "Write the Bundle here (default: standard output)");
  CLI::App* in = fhir->add_subcommand(
      "import-consent", "A FHIR R4 Consent as kakehashi consent JSON (docs/consent.md)");
  in->add_option("FILE", opt->input, "FHIR R4 Consent (JSON)")->required();
  in->add_option("--patient", opt->patient,
                 "FHIR R4 Patient (JSON) of the consent's patient: only its birthDate is read")
      ->required();
  in->add_option("--patient-id", opt->patient_id,
                 "The patient's pseudonymous id, when Consent.patient has none");
  in->add_option("--controller", opt->controller,
                 "The hospital that obtained the consent, when Consent.organization names none");
  in->add_option("--out", opt->out, "Write the consent here (default: standard output)");
  CLI::App* ack = fhir->add_subcommand(
      "acknowledgement",
      "A consent as an IHE BPPC privacy-policy acknowledgement (DocumentReference, LOINC 57016-8)");
  ack->add_option("--consent", opt->consent, "Consent JSON file (docs/consent.md)")->required();
  ack->add_option("--out", opt->out, "Write the DocumentReference here (default: standard output)");
  return [opt, out, ack] {
    if (out->parsed()) return run_export(*opt);
    if (ack->parsed()) return run_acknowledgement(*opt);
    return run_import(*opt);
  };
}

}  // namespace kakehashi::tool
