#pragma once
// A small referral network that exercises every eligibility rule, as agreements JSON.
//
//   vn-a (Asia/Ho_Chi_Minh) --ab--> jp-b (Asia/Tokyo)   from 2025-11-14 Tokyo, open-ended,
//                                                      oncology + cardiology, 2 oncology a month,
//                                                      answer within 14 days
//   vn-c (Asia/Ho_Chi_Minh) --cb--> jp-b               2026-01-01 .. 2026-06-30, Ho Chi Minh time
//   vn-a --ad--> jp-d (Asia/Tokyo)                     suspended 2026-02-01 .. 2026-02-28
//   vn-c --cd--> jp-d                                  terminated from 2026-03-01
//   vn-e ---- jp-b                                     joint research only, no referral
//   vn-f                                               no agreement at all

#include <nlohmann/json.hpp>
#include <string>

namespace kakehashi::test {

inline nlohmann::json network_json() {
  return nlohmann::json::parse(R"json({
  "format": "kakehashi.agreements/1",
  "hospitals": [
    {"id": "vn-a", "names": {"en": "Hospital A", "vi": "Bệnh viện A"}, "country": "VN",
     "time_zone": "Asia/Ho_Chi_Minh", "specialties": ["oncology", "cardiology"]},
    {"id": "jp-b", "names": {"en": "Hospital B", "ja": "B病院"}, "country": "JP",
     "time_zone": "Asia/Tokyo", "specialties": ["oncology", "cardiology"]},
    {"id": "vn-c", "names": {"en": "Hospital C"}, "country": "VN",
     "time_zone": "Asia/Ho_Chi_Minh", "specialties": ["oncology"]},
    {"id": "jp-d", "names": {"en": "Hospital D"}, "country": "JP",
     "time_zone": "Asia/Tokyo", "specialties": ["oncology", "dialysis"]},
    {"id": "vn-e", "names": {"en": "Hospital E"}, "country": "VN",
     "time_zone": "Asia/Ho_Chi_Minh", "specialties": ["oncology"]},
    {"id": "vn-f", "names": {"en": "Hospital F"}, "country": "VN",
     "time_zone": "Asia/Ho_Chi_Minh", "specialties": ["oncology"]}
  ],
  "agreements": [
    {"id": "ab", "title": "A-B", "parties": ["vn-a", "jp-b"], "signed": "2025-11-14",
     "effective_from": "2025-11-14", "time_zone": "Asia/Tokyo", "status": {"state": "active"},
     "areas": ["patient_referral", "telemedicine"],
     "referral": {"specialties": ["oncology", "cardiology"],
                  "directions": [{"from": "vn-a", "to": "jp-b"}],
                  "response_deadline_days": 14, "monthly_capacity": {"oncology": 2},
                  "required_documents": ["referral_letter", "imaging"],
                  "required_milestones": ["medical_visa_issued"],
                  "results_before_completion": "required", "languages": ["en", "ja"]},
     "source": {"title": "test", "reference": "fixture"}},
    {"id": "cb", "title": "C-B", "parties": ["vn-c", "jp-b"], "signed": "2025-12-01",
     "effective_from": "2026-01-01", "effective_until": "2026-06-30",
     "time_zone": "Asia/Ho_Chi_Minh", "status": {"state": "active"}, "areas": ["patient_referral"],
     "referral": {"specialties": ["oncology"], "directions": [{"from": "vn-c", "to": "jp-b"}]},
     "source": {"title": "test", "reference": "fixture"}},
    {"id": "ad", "title": "A-D", "parties": ["vn-a", "jp-d"], "signed": "2025-01-01",
     "effective_from": "2025-01-01", "time_zone": "Asia/Tokyo",
     "status": {"state": "suspended", "from": "2026-02-01", "until": "2026-02-28"},
     "areas": ["patient_referral"],
     "referral": {"specialties": ["oncology"], "directions": [{"from": "vn-a", "to": "jp-d"}],
                  "response_deadline_days": 7},
     "source": {"title": "test", "reference": "fixture"}},
    {"id": "cd", "title": "C-D", "parties": ["vn-c", "jp-d"], "signed": "2025-01-01",
     "effective_from": "2025-01-01", "time_zone": "Asia/Tokyo",
     "status": {"state": "terminated", "from": "2026-03-01"}, "areas": ["patient_referral"],
     "referral": {"specialties": ["oncology"], "directions": [{"from": "vn-c", "to": "jp-d"}]},
     "source": {"title": "test", "reference": "fixture", "published": "2025-01-02"}},
    {"id": "eb", "title": "E-B research", "parties": ["vn-e", "jp-b"], "signed": "2025-01-01",
     "effective_from": "2025-01-01", "time_zone": "Asia/Tokyo", "status": {"state": "active"},
     "areas": ["joint_research", "seminars_education"],
     "source": {"title": "test", "reference": "fixture"}}
  ]
})json");
}

inline std::string network_text() { return network_json().dump(); }

}  // namespace kakehashi::test
