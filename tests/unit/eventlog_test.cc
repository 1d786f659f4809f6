// Unit tests for attesters/tpm2/eventlog: known answers from ../shared/vectors/eventlog
// (facts.json), tpm2_eventlog as an independent oracle, strictness and bounds.
#include "attesters/tpm2/eventlog.h"

#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>

#include "attesters/tpm2/pcr_selection.h"
#include "eventlog_builder.h"
#include "test_support.h"

using exattest::Bytes;
using exattest::Reason;
using exattest::test::EventLogBuilder;
using namespace exattest::tpm2;
namespace fs = std::filesystem;

namespace {

const char* kVectors[] = {"event-moklisttrusted.bin", "event-gce-ubuntu-2104-log.bin",
                          "event-bootorder.bin",      "event-sd-boot-fedora37.bin",
                          "event-uefi-sha1-log.bin",  "event.bin",
                          "event-uefivar.bin",        "event-uefiaction.bin"};

nlohmann::json read_json(const fs::path& p) {
  auto b = exattest::test::read_file(p);
  return nlohmann::json::parse(b.begin(), b.end());
}

// bank name -> PCR -> hex, from replay output.
std::map<std::string, std::map<std::string, std::string>> as_text(const PcrBanks& banks) {
  std::map<std::string, std::map<std::string, std::string>> out;
  for (const auto& [alg, pcrs] : banks) {
    for (const auto& [i, v] : pcrs) {
      out[std::string(hash_alg_name(alg))][std::to_string(i)] = exattest::to_hex(exattest::view(v));
    }
  }
  return out;
}

// The `pcrs:` section of tpm2_eventlog's YAML output.
std::map<std::string, std::map<std::string, std::string>> yaml_pcrs(const std::string& yaml) {
  std::map<std::string, std::map<std::string, std::string>> out;
  std::istringstream in(yaml);
  std::string line, bank;
  bool in_pcrs = false;
  while (std::getline(in, line)) {
    if (line == "pcrs:") {
      in_pcrs = true;
      continue;
    }
    if (!in_pcrs) continue;
    if (line.size() > 2 && line[0] == ' ' && line[1] == ' ' && line[2] != ' ' &&
        line.back() == ':') {
      bank = line.substr(2, line.size() - 3);
      continue;
    }
    auto colon = line.find(" : 0x");
    if (colon == std::string::npos || bank.empty()) continue;
    std::string idx = line.substr(0, colon);
    idx.erase(0, idx.find_first_not_of(' '));
    idx.erase(idx.find_last_not_of(' ') + 1);
    out[bank][idx] = line.substr(colon + 5);
  }
  return out;
}

std::string run(const std::string& cmd, int& status) {
  std::string out;
  std::unique_ptr<FILE, int (*)(FILE*)> p(popen(cmd.c_str(), "r"), &pclose);
  REQUIRE(p);
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), p.get())) > 0) out.append(buf, n);
  status = pclose(p.release());
  return out;
}

EventLog parse_ok(const Bytes& b) {
  auto r = parse_event_log(exattest::view(b));
  REQUIRE_OK(r);
  return std::move(r.value());
}

std::string parse_error(const Bytes& b) {
  auto r = parse_event_log(exattest::view(b));
  REQUIRE_REASON(r, Reason::kDecodeError);
  return r.error().detail;
}

}  // namespace

TEST_CASE("Every vector log parses and replays to the PCRs its facts give", "[eventlog]") {
  EXATTEST_REQUIRE_VECTORS("eventlog/INDEX.md");
  for (const char* name : kVectors) {
    INFO(name);
    fs::path bin = vec_path_->parent_path() / name;
    auto facts = read_json(fs::path(bin.string() + ".facts.json"));
    Bytes b = exattest::test::read_file(bin);
    EventLog log = parse_ok(b);
    CHECK(log.events.size() == facts["event_count_including_header"].get<size_t>());
    CHECK(log.crypto_agile == (facts["format"] == "crypto-agile"));
    std::vector<std::string> banks;
    for (const auto& a : log.algorithms) banks.emplace_back(hash_alg_name(a.alg));
    if (log.crypto_agile) CHECK(nlohmann::json(banks) == facts["banks_in_specid"]);
    auto replay = replay_event_log(log);
    REQUIRE_OK(replay);
    auto want =
        facts["final_pcrs_all"].get<std::map<std::string, std::map<std::string, std::string>>>();
    for (auto w = want.begin(); w != want.end();)
      w = w->second.empty() ? want.erase(w) : std::next(w);
    CHECK(as_text(*replay) == want);

    // Secure Boot: 1, 0, "empty" (0-byte variable) or null (no event).
    SecureBootState sb = secure_boot_state(log);
    const auto& f = facts["secure_boot"];
    if (f.is_null()) {
      CHECK_FALSE(sb.measured);
    } else if (f.is_string()) {
      CHECK(f == "empty");
      CHECK(sb.measured);
      CHECK_FALSE(sb.value.has_value());
    } else {
      CHECK(sb.measured);
      REQUIRE(sb.value.has_value());
      CHECK(*sb.value == f.get<int>());
    }
    // Every PCR 7 variable the facts list, by event number, name, GUID and size.
    for (const auto& v : facts["pcr7_driver_config"]) {
      const Event& e = log.events.at(v["event"].get<size_t>());
      CHECK(e.pcr == 7);
      CHECK(e.type == kEvEfiVariableDriverConfig);
      REQUIRE(e.variable.has_value());
      CHECK(e.variable->name == v["name"].get<std::string>());
      CHECK(e.variable->guid == v["guid"].get<std::string>());
      CHECK(e.variable->data.size() == v["data_len"].get<size_t>());
    }
    // Boot applications: event number, PCR, path and digests.
    size_t apps = 0;
    for (const auto& e : log.events) apps += e.type == kEvEfiBootServicesApplication;
    CHECK(apps == facts["boot_applications"].size());
    for (const auto& a : facts["boot_applications"]) {
      const Event& e = log.events.at(a["event"].get<size_t>());
      CHECK(e.type == kEvEfiBootServicesApplication);
      CHECK(e.pcr == a["pcr"].get<uint32_t>());
      REQUIRE(e.image.has_value());
      std::string path = a["path"].get<std::string>();
      if (path == "<no device path>") {
        CHECK(e.image->device_path.empty());
      } else {
        CHECK(e.image->path_text.find(path) != std::string::npos);
      }
      for (const auto& [bank, hex] : a["digests"].items()) {
        const Digest* d = e.digest(hash_alg_from_name(bank));
        REQUIRE(d != nullptr);
        CHECK(exattest::to_hex(exattest::view(d->value)) == hex.get<std::string>());
      }
    }
    // EV_EFI_ACTION strings, in order.
    std::vector<std::string> actions;
    for (const auto& e : log.events) {
      if (e.type == kEvEfiAction && e.text) actions.push_back(*e.text);
    }
    CHECK(nlohmann::json(actions) == facts["efi_actions"]);
  }
}

TEST_CASE("tpm2_eventlog, an independent parser, replays every vector to our PCR values",
          "[eventlog]") {
  EXATTEST_REQUIRE_VECTORS("eventlog/INDEX.md");
  int st = 0;
  run("command -v tpm2_eventlog >/dev/null 2>&1", st);
  if (st != 0) {
    WARN("tpm2_eventlog (tpm2-tools) not installed; skipping");
    std::exit(4);
  }
  for (const char* name : kVectors) {
    INFO(name);
    fs::path bin = vec_path_->parent_path() / name;
    std::string yaml = run("tpm2_eventlog '" + bin.string() + "' 2>/dev/null", st);
    REQUIRE(st == 0);
    auto oracle = yaml_pcrs(yaml);
    REQUIRE_FALSE(oracle.empty());
    EventLog log = parse_ok(exattest::test::read_file(bin));
    auto replay = replay_event_log(log);
    REQUIRE_OK(replay);
    CHECK(as_text(*replay) == oracle);
  }
}

TEST_CASE("The Secure Boot and UEFI payloads of the moklisttrusted log decode", "[eventlog]") {
  EXATTEST_REQUIRE_VECTORS("eventlog/event-moklisttrusted.bin");
  EventLog log = parse_ok(exattest::test::read_file(*vec_path_));
  SecureBootState sb = secure_boot_state(log);
  CHECK(sb.measured);
  CHECK(sb.value == std::optional<uint8_t>(1));
  CHECK((sb.pk && sb.kek && sb.db && sb.dbx));
  CHECK(sb.dbx_event == std::optional<size_t>(8));
  const Event& shim = log.events.at(25);
  REQUIRE(shim.image.has_value());
  CHECK(shim.image->path_text.find("\\EFI\\redhat\\shimx64.efi") != std::string::npos);
  CHECK(shim.image->length == 946736);
  bool cmdline = false;
  for (const auto& e : log.events) {
    if (e.type == kEvIpl && e.text &&
        e.text->rfind("kernel_cmdline: (hd0,gpt2)/vmlinuz-5.14", 0) == 0) {
      cmdline = true;
    }
  }
  CHECK(cmdline);
  CHECK(event_type_name(kEvEfiBootServicesApplication) == "EV_EFI_BOOT_SERVICES_APPLICATION");
  CHECK(event_type_name(0x1234) == "EV_UNKNOWN_0x00001234");
}

TEST_CASE("A synthetic log parses, replays and decodes its payloads", "[eventlog]") {
  auto b = EventLogBuilder::uefi_boot(1);
  EventLog log = parse_ok(b.bytes());
  CHECK(log.crypto_agile);
  CHECK(log.events.size() == 1 + 6 + 8 + 2);
  SecureBootState sb = secure_boot_state(log);
  CHECK(sb.value == std::optional<uint8_t>(1));
  CHECK((sb.pk && sb.kek && sb.db && sb.dbx));
  const Event& app = log.events.at(15);
  REQUIRE(app.image.has_value());
  CHECK(app.image->path_text == "\\EFI\\BOOT\\BOOTX64.EFI");
  CHECK(log.events.at(16).text ==
        std::optional<std::string>("kernel_cmdline: /vmlinuz root=/dev/sda1 ro"));
  auto replay = replay_event_log(log);
  REQUIRE_OK(replay);
  // PCR 3 saw only a separator: sha256(zeros(32) || sha256(00000000)).
  CHECK(exattest::to_hex(exattest::view(replay->at(kAlgSha256).at(3))) ==
        "3d458cfe55cc03ea1f443f1562beec8df51c75e14a9fcf9a7234a13f198e7969");
  CHECK(replay->at(kAlgSha1).size() == 9);  // PCRs 0-8
}

TEST_CASE("A SHA-1 log without a Spec ID event is recognised", "[eventlog]") {
  EventLogBuilder b({EventLogBuilder::kSha1}, /*crypto_agile=*/false);
  b.event(0, kEvSCrtmVersion, EventLogBuilder::utf16("1.0"));
  b.event(3, kEvSeparator, Bytes(4, 0));
  EventLog log = parse_ok(b.bytes());
  CHECK_FALSE(log.crypto_agile);
  REQUIRE(log.algorithms.size() == 1);
  CHECK(log.algorithms[0].alg == kAlgSha1);
  CHECK(log.events.size() == 2);
  CHECK(log.events[0].text == std::optional<std::string>("1.0"));
  auto replay = replay_event_log(log);
  REQUIRE_OK(replay);
  CHECK(exattest::to_hex(exattest::view(replay->at(kAlgSha1).at(3))) ==
        "b2a83b0ebf2f8374299a5b2bdfc31ea955ad7236");
}

TEST_CASE("EV_NO_ACTION is not extended and StartupLocality starts PCR 0 at its locality",
          "[eventlog]") {
  EventLogBuilder b({EventLogBuilder::kSha256});
  Bytes loc = EventLogBuilder::text(std::string("StartupLocality") + '\0');
  loc.push_back(3);
  b.event_with(0, kEvNoAction, {{EventLogBuilder::kSha256, Bytes(32, 0)}}, loc);
  b.event(0, kEvSCrtmVersion, EventLogBuilder::text("v"));
  EventLog log = parse_ok(b.bytes());
  CHECK(log.startup_locality == std::optional<uint8_t>(3));
  auto replay = replay_event_log(log);
  REQUIRE_OK(replay);
  Bytes start(32, 0);
  start[31] = 3;
  Bytes d = EventLogBuilder::hash(EventLogBuilder::kSha256, EventLogBuilder::text("v"));
  Bytes cat = start;
  cat.insert(cat.end(), d.begin(), d.end());
  CHECK(replay->at(kAlgSha256).at(0) == EventLogBuilder::hash(EventLogBuilder::kSha256, cat));

  // Only EV_NO_ACTION: PCR 0 is reported at 00..03, nothing else extended.
  EventLogBuilder only({EventLogBuilder::kSha256});
  only.event_with(0, kEvNoAction, {{EventLogBuilder::kSha256, Bytes(32, 0)}}, loc);
  only.event_with(5, kEvNoAction, {{EventLogBuilder::kSha256, Bytes(32, 0)}},
                  EventLogBuilder::text("SP800-155 Event"));
  auto r2 = replay_event_log(parse_ok(only.bytes()));
  REQUIRE_OK(r2);
  CHECK(r2->at(kAlgSha256).size() == 1);
  CHECK(r2->at(kAlgSha256).at(0) == start);

  // After a PCR 0 measurement it is refused.
  EventLogBuilder late({EventLogBuilder::kSha256});
  late.event(0, kEvSCrtmVersion, EventLogBuilder::text("v"));
  late.event_with(0, kEvNoAction, {{EventLogBuilder::kSha256, Bytes(32, 0)}}, loc);
  CHECK(parse_error(late.bytes()).find("event 2 at offset") != std::string::npos);
}

TEST_CASE("Digests must be of Spec ID algorithms, in its order, with its sizes", "[eventlog]") {
  using B = EventLogBuilder;
  Bytes data = B::text("x");
  Bytes h1 = B::hash(B::kSha1, data), h256 = B::hash(B::kSha256, data);
  SECTION("an undeclared algorithm") {
    B b({B::kSha256});
    b.event_with(0, 1, {{B::Alg{0x0027, 32}, h256}}, data);
    std::string d = parse_error(b.bytes());
    CHECK(d.find("event 1 at offset 0x") != std::string::npos);
    CHECK(d.find("digest algorithm 0x27 is not declared") != std::string::npos);
  }
  SECTION("an unknown algorithm declared with its size is accepted") {
    B b({B::kSha256, B::Alg{0x0027, 32}});
    b.event_with(0, 1, {{B::kSha256, h256}, {B::Alg{0x0027, 32}, Bytes(32, 7)}}, data);
    EventLog log = parse_ok(b.bytes());
    CHECK(log.events[1].digests.size() == 2);
    auto r = replay_event_log(log);
    REQUIRE_OK(r);
    CHECK(r->count(0x0027) == 0);  // cannot be computed, so not replayed
  }
  SECTION("out of order") {
    B b({B::kSha1, B::kSha256});
    b.event_with(0, 1, {{B::kSha256, h256}, {B::kSha1, h1}}, data);
    CHECK(parse_error(b.bytes()).find("out of the Spec ID event's order") != std::string::npos);
  }
  SECTION("a repeated algorithm") {
    B b({B::kSha1, B::kSha256});
    b.event_with(0, 1, {{B::kSha1, h1}, {B::kSha1, h1}}, data);
    CHECK(parse_error(b.bytes()).find("repeated") != std::string::npos);
  }
  SECTION("more digests than declared algorithms, or none") {
    B b({B::kSha1});
    b.event_with(0, 1, {{B::kSha1, h1}, {B::kSha1, h1}}, data);
    CHECK(parse_error(b.bytes()).find("digest count 2") != std::string::npos);
    B z({B::kSha1});
    z.event_with(0, 1, {}, data);
    CHECK(parse_error(z.bytes()).find("digest count 0") != std::string::npos);
  }
  SECTION("a Spec ID digest size that contradicts the algorithm") {
    B b({B::Alg{0x000B, 20}});
    CHECK(parse_error(b.bytes()).find("event 0 at offset 0x0") != std::string::npos);
  }
  SECTION("fewer banks than declared (as tpm2-tools accepts)") {
    B b({B::kSha1, B::kSha256, B::kSha384});
    b.event(7, 1, data, /*only=*/2);
    auto r = replay_event_log(parse_ok(b.bytes()));
    REQUIRE_OK(r);
    CHECK(r->count(kAlgSha256) == 1);
    CHECK(r->count(kAlgSha384) == 0);
  }
}

TEST_CASE("Truncation, trailing bytes and the bounds are decode_error naming index and offset",
          "[eventlog]") {
  using B = EventLogBuilder;
  B b({B::kSha256});
  b.event(0, 1, B::text("abc"));
  b.event(1, 1, B::text("def"));
  Bytes full = b.bytes();
  parse_ok(full);
  const size_t record = 4 + 4 + 4 + 2 + 32 + 4 + 3;
  for (size_t cut = 1; cut < full.size(); ++cut) {
    Bytes t(full.begin(), full.end() - static_cast<long>(cut));
    if (cut == record || cut == 2 * record) continue;  // whole records fewer: a valid log
    INFO(cut);
    auto r = parse_event_log(exattest::view(t));
    REQUIRE_REASON(r, Reason::kDecodeError);
    CHECK(r.error().detail.rfind("event log: event ", 0) == 0);
  }
  Bytes trailing = full;
  trailing.push_back(0);
  CHECK(parse_error(trailing).find("event 3 at offset " + std::string("0x")) != std::string::npos);
  CHECK(parse_error({}).find("empty") != std::string::npos);

  Bytes huge(kMaxEventLogSize + 1, 0);
  CHECK(parse_error(huge).find("at most 1048576") != std::string::npos);

  B big({B::kSha256});
  big.event(0, 1, Bytes(kMaxEventDataSize + 1, 'a'));
  CHECK(parse_error(big.bytes()).find("exceeds the 262144-byte limit") != std::string::npos);

  B many({B::kSha1});
  for (size_t i = 0; i < kMaxEvents; ++i) many.event(1, 1, {});
  std::string d = parse_error(many.bytes());
  CHECK(d.find("event 8192 at offset") != std::string::npos);
  CHECK(d.find("more than 8192 events") != std::string::npos);

  B pcr({B::kSha1});
  pcr.event(24, 1, {});
  CHECK(parse_error(pcr.bytes()).find("PCR index 24") != std::string::npos);
}
