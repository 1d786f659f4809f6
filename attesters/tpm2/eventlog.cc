// TCG PC Client Platform Firmware Profile (PFP) event log: strict parsing through wire::Reader
// (all TCG/UEFI integers are little-endian), replay per bank, UEFI payload decoding.
#include "attesters/tpm2/eventlog.h"

#include <openssl/evp.h>

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "attesters/tpm2/pcr_selection.h"
#include "attesters/tpm2/tpm_structs.h"
#include "common/ossl_ptr.h"
#include "wire/wire.h"

namespace exattest::tpm2 {
namespace {

constexpr size_t kSha1Size = 20;
constexpr uint32_t kMaxPcr = 23;  // PFP §3.3.4: PCRs 0-23
constexpr uint16_t kAlgSm3 = 0x0012;

// PFP §10.4.5.1: "Spec ID Event03" (16 bytes with its NUL) marks a crypto-agile log.
constexpr char kSpecId03[16] = "Spec ID Event03";
constexpr char kSpecIdPrefix[] = "Spec ID Event";
// PFP §10.4.5.3: "StartupLocality" with its NUL, then UINT8 StartupLocality.
constexpr char kStartupLocality[16] = "StartupLocality";

std::string hex32(size_t v) {
  char buf[24];
  std::snprintf(buf, sizeof(buf), "0x%zx", v);
  return buf;
}

Error at(size_t index, size_t offset, const std::string& what) {
  return make_error(Reason::kDecodeError, "event log: event " + std::to_string(index) +
                                              " at offset " + hex32(offset) + ": " + what);
}

bool starts_with(ByteView b, const char* s, size_t n) {
  return b.size() >= n && std::memcmp(b.data(), s, n) == 0;
}

size_t known_digest_size(uint16_t alg) {
  if (alg == kAlgSm3) return 32;
  return hash_alg_digest_size(alg);
}

// UTF-16LE code units -> UTF-8; unpaired surrogates become '?'. Stops at the first NUL.
std::string utf16le_to_utf8(ByteView b) {
  std::string out;
  wire::Reader r(b);
  uint16_t u;
  while (r.u16le(u)) {
    if (u == 0) break;
    uint32_t cp = u;
    if (u >= 0xD800 && u <= 0xDBFF) {
      wire::Reader probe = r;
      uint16_t lo;
      if (probe.u16le(lo) && lo >= 0xDC00 && lo <= 0xDFFF) {
        r = probe;
        cp = 0x10000 + ((static_cast<uint32_t>(u) - 0xD800) << 10) + (lo - 0xDC00);
      } else {
        cp = '?';
      }
    } else if (u >= 0xDC00 && u <= 0xDFFF) {
      cp = '?';
    }
    if (cp < 0x80) {
      out.push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
      out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
      out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
  }
  return out;
}

// EFI_GUID {u32 le, u16 le, u16 le, u8[8]} -> canonical lower-case text.
bool read_guid(wire::Reader& r, std::string& out) {
  uint32_t d1;
  uint16_t d2, d3;
  ByteView d4;
  if (!r.u32le(d1) || !r.u16le(d2) || !r.u16le(d3) || !r.bytes(8, d4)) return false;
  char buf[40];
  std::snprintf(buf, sizeof(buf), "%08x-%04x-%04x-%02x%02x-%02x%02x%02x%02x%02x%02x", d1, d2, d3,
                d4[0], d4[1], d4[2], d4[3], d4[4], d4[5], d4[6], d4[7]);
  out = buf;
  return true;
}

// UEFI_VARIABLE_DATA (PFP §10.4.4): VariableName GUID, UnicodeNameLength and
// VariableDataLength (UINT64, the name in CHAR16s), UnicodeName, VariableData; exactly.
std::optional<UefiVariable> decode_variable(ByteView data) {
  wire::Reader r(data);
  UefiVariable v;
  uint64_t name_len, data_len;
  if (!read_guid(r, v.guid) || !r.u64le(name_len) || !r.u64le(data_len)) return std::nullopt;
  if (name_len > r.remaining() / 2) return std::nullopt;
  ByteView name, value;
  if (!r.bytes(static_cast<size_t>(name_len) * 2, name)) return std::nullopt;
  if (data_len != r.remaining() || !r.bytes(static_cast<size_t>(data_len), value)) {
    return std::nullopt;
  }
  v.name = utf16le_to_utf8(name);
  v.data.assign(value.begin(), value.end());
  return v;
}

// EFI device path (UEFI spec §10.3): the simple nodes as text, others as "?(type,subtype)".
std::string device_path_text(ByteView path) {
  std::string out;
  wire::Reader r(path);
  while (!r.empty()) {
    uint8_t type, sub;
    uint16_t len;
    ByteView body;
    if (!r.u8(type) || !r.u8(sub) || !r.u16le(len) || len < 4 || !r.bytes(len - 4u, body)) {
      return out + (out.empty() ? "" : "/") + "<malformed device path>";
    }
    if (type == 0x7f) break;  // end of this instance (0xff) or of the whole path
    std::string node;
    if (type == 4 && sub == 4) {  // media: file path, CHAR16 PathName
      node = utf16le_to_utf8(body);
    } else if (type == 4 && sub == 1) {  // media: hard drive, UINT32 partition number first
      wire::Reader b(body);
      uint32_t part = 0;
      node = b.u32le(part) ? "HD(" + std::to_string(part) + ")" : "HD(?)";
    } else if (type == 2 && sub == 1) {  // ACPI
      node = "Acpi";
    } else if (type == 1 && sub == 1) {  // hardware: PCI, u8 function, u8 device
      node = body.size() == 2
                 ? "Pci(" + std::to_string(body[1]) + "," + std::to_string(body[0]) + ")"
                 : "Pci(?)";
    } else {
      node = "?(" + std::to_string(type) + "," + std::to_string(sub) + ")";
    }
    if (!out.empty()) out += "/";
    out += node;
  }
  return out;
}

// UEFI_IMAGE_LOAD_EVENT (PFP §10.4.3): the device path may be followed by padding (grub's
// image loaded through shim carries 9 extra zero bytes), which is tolerated.
std::optional<ImageLoad> decode_image(ByteView data) {
  wire::Reader r(data);
  ImageLoad img;
  uint64_t dp_len;
  if (!r.u64le(img.location) || !r.u64le(img.length) || !r.u64le(img.link_time_address) ||
      !r.u64le(dp_len)) {
    return std::nullopt;
  }
  ByteView dp;
  if (dp_len > r.remaining() || !r.bytes(static_cast<size_t>(dp_len), dp)) return std::nullopt;
  img.device_path.assign(dp.begin(), dp.end());
  img.path_text = device_path_text(dp);
  return img;
}

// Printable ASCII (with tab/newline), optionally NUL-terminated.
std::optional<std::string> ascii_text(ByteView data) {
  if (data.empty()) return std::string();
  size_t n = data.size();
  if (data[n - 1] == 0) --n;
  for (size_t i = 0; i < n; ++i) {
    uint8_t c = data[i];
    if (c != '\t' && c != '\n' && c != '\r' && (c < 0x20 || c > 0x7e)) return std::nullopt;
  }
  return std::string(reinterpret_cast<const char*>(data.data()), n);
}

// UTF-16LE text whose code units are all printable ASCII (systemd-boot's command line,
// EV_S_CRTM_VERSION).
std::optional<std::string> utf16_ascii_text(ByteView data) {
  if (data.size() < 2 || data.size() % 2 != 0) return std::nullopt;
  for (size_t i = 0; i + 1 < data.size(); i += 2) {
    bool last = i + 2 == data.size();
    if (data[i + 1] != 0) return std::nullopt;
    uint8_t c = data[i];
    if (c == 0 && last) break;
    if (c != '\t' && c != '\n' && (c < 0x20 || c > 0x7e)) return std::nullopt;
  }
  return utf16le_to_utf8(data);
}

void decode_payload(Event& e) {
  ByteView d = view(e.data);
  switch (e.type) {
    case kEvEfiVariableDriverConfig:
    case kEvEfiVariableBoot:
    case kEvEfiVariableBoot2:
    case kEvEfiVariableAuthority:
      e.variable = decode_variable(d);
      break;
    case kEvEfiBootServicesApplication:
    case kEvEfiBootServicesDriver:
    case kEvEfiRuntimeServicesDriver:
      e.image = decode_image(d);
      break;
    case kEvIpl:
    case kEvSCrtmVersion:
      e.text = ascii_text(d);
      if (!e.text) e.text = utf16_ascii_text(d);
      break;
    case kEvEfiAction:
    case kEvAction:
    case kEvPostCode:
    case kEvSeparator:
      if (e.type != kEvSeparator) e.text = ascii_text(d);
      break;
    default:
      break;
  }
}

struct Header {
  size_t offset;
  uint32_t pcr, type;
};

// The event data of either record form: `size` bytes, bounded before they are read.
Status read_event_data(wire::Reader& r, size_t index, size_t offset, uint32_t size, Event& e) {
  ByteView data;
  if (size > kMaxEventDataSize) {
    return at(index, offset,
              "event data of " + std::to_string(size) + " bytes exceeds the " +
                  std::to_string(kMaxEventDataSize) + "-byte limit");
  }
  if (!r.bytes(size, data)) {
    return at(index, offset, "event data of " + std::to_string(size) + " bytes runs past the end");
  }
  e.data.assign(data.begin(), data.end());
  return Status::Ok();
}

// PFP §10.2.1 TCG_PCClientPCREvent: the SHA-1 record (legacy logs and the Spec ID header).
Status read_legacy(wire::Reader& r, size_t index, size_t offset, Event& e) {
  ByteView digest;
  uint32_t size;
  if (!r.u32le(e.pcr) || !r.u32le(e.type) || !r.bytes(kSha1Size, digest) || !r.u32le(size)) {
    return at(index, offset, "truncated TCG_PCClientPCREvent header");
  }
  e.digests.push_back(Digest{kAlgSha1, Bytes(digest.begin(), digest.end())});
  return read_event_data(r, index, offset, size, e);
}

// PFP §10.4.5.1 TCG_EfiSpecIDEventStruct, exactly.
Status read_spec_id(ByteView data, size_t offset, EventLog& log) {
  wire::Reader r(data);
  ByteView sig;
  uint32_t n;
  if (!r.bytes(16, sig) || !r.u32le(log.platform_class) || !r.u8(log.spec_minor) ||
      !r.u8(log.spec_major) || !r.u8(log.spec_errata) || !r.u8(log.uintn_size) || !r.u32le(n)) {
    return at(0, offset, "truncated Spec ID event");
  }
  if (n == 0 || n > kMaxSpecIdAlgorithms) {
    return at(0, offset,
              "the Spec ID event declares " + std::to_string(n) +
                  " digest algorithms; expected 1 to " + std::to_string(kMaxSpecIdAlgorithms));
  }
  for (uint32_t i = 0; i < n; ++i) {
    SpecIdAlgorithm a;
    if (!r.u16le(a.alg) || !r.u16le(a.digest_size)) {
      return at(0, offset, "truncated Spec ID algorithm table");
    }
    size_t known = known_digest_size(a.alg);
    if (a.digest_size == 0 || a.digest_size > 64 || (known != 0 && known != a.digest_size)) {
      return at(0, offset,
                "the Spec ID event gives algorithm " + hex32(a.alg) + " digest size " +
                    std::to_string(a.digest_size));
    }
    for (const auto& b : log.algorithms) {
      if (b.alg == a.alg) {
        return at(0, offset, "the Spec ID event declares algorithm " + hex32(a.alg) + " twice");
      }
    }
    log.algorithms.push_back(a);
  }
  uint8_t vendor_size;
  ByteView vendor;
  if (!r.u8(vendor_size) || !r.bytes(vendor_size, vendor) || !r.empty()) {
    return at(0, offset, "the Spec ID event's vendorInfo does not end the event data exactly");
  }
  return Status::Ok();
}

// PFP §10.2.2 TCG_PCR_EVENT2: digests only of Spec ID algorithms, in the Spec ID order.
Status read_event2(wire::Reader& r, const EventLog& log, size_t index, size_t offset, Event& e) {
  uint32_t count;
  if (!r.u32le(e.pcr) || !r.u32le(e.type) || !r.u32le(count)) {
    return at(index, offset, "truncated TCG_PCR_EVENT2 header");
  }
  if (count == 0 || count > log.algorithms.size()) {
    return at(index, offset,
              "digest count " + std::to_string(count) + "; the Spec ID event declares " +
                  std::to_string(log.algorithms.size()) + " algorithms");
  }
  size_t next_alg = 0;  // digests follow the Spec ID order, each algorithm at most once
  for (uint32_t i = 0; i < count; ++i) {
    uint16_t alg;
    if (!r.u16le(alg)) return at(index, offset, "truncated digest list");
    size_t pos = next_alg;
    while (pos < log.algorithms.size() && log.algorithms[pos].alg != alg) ++pos;
    if (pos == log.algorithms.size()) {
      bool declared = std::any_of(log.algorithms.begin(), log.algorithms.end(),
                                  [&](const SpecIdAlgorithm& a) { return a.alg == alg; });
      return at(index, offset,
                "digest algorithm " + hex32(alg) +
                    (declared ? " repeated or out of the Spec ID event's order"
                              : " is not declared by the Spec ID event"));
    }
    next_alg = pos + 1;
    ByteView value;
    if (!r.bytes(log.algorithms[pos].digest_size, value)) {
      return at(index, offset, "truncated " + hex32(alg) + " digest");
    }
    e.digests.push_back(Digest{alg, Bytes(value.begin(), value.end())});
  }
  uint32_t size;
  if (!r.u32le(size)) return at(index, offset, "truncated event size");
  return read_event_data(r, index, offset, size, e);
}

Status check_event(EventLog& log, const Event& e) {
  if (e.pcr > kMaxPcr) {
    return at(e.index, e.offset, "PCR index " + std::to_string(e.pcr) + " is beyond 23");
  }
  // PFP §10.4.5.3: StartupLocality is an EV_NO_ACTION event in PCR 0, once, before any
  // PCR 0 measurement.
  if (e.type == kEvNoAction && starts_with(view(e.data), kStartupLocality, 16)) {
    if (e.pcr != 0 || e.data.size() != 17) {
      return at(e.index, e.offset, "malformed StartupLocality event");
    }
    if (log.startup_locality) return at(e.index, e.offset, "a second StartupLocality event");
    for (const auto& prior : log.events) {
      if (prior.pcr == 0 && prior.type != kEvNoAction) {
        return at(e.index, e.offset, "StartupLocality event after a PCR 0 measurement");
      }
    }
    log.startup_locality = e.data[16];
  }
  return Status::Ok();
}

}  // namespace

const Digest* Event::digest(uint16_t alg) const {
  for (const auto& d : digests) {
    if (d.alg == alg) return &d;
  }
  return nullptr;
}

std::string event_type_name(uint32_t type) {
  switch (type) {
    case kEvPrebootCert:
      return "EV_PREBOOT_CERT";
    case kEvPostCode:
      return "EV_POST_CODE";
    case 0x00000002:
      return "EV_UNUSED";
    case kEvNoAction:
      return "EV_NO_ACTION";
    case kEvSeparator:
      return "EV_SEPARATOR";
    case kEvAction:
      return "EV_ACTION";
    case kEvEventTag:
      return "EV_EVENT_TAG";
    case kEvSCrtmContents:
      return "EV_S_CRTM_CONTENTS";
    case kEvSCrtmVersion:
      return "EV_S_CRTM_VERSION";
    case kEvCpuMicrocode:
      return "EV_CPU_MICROCODE";
    case kEvPlatformConfigFlags:
      return "EV_PLATFORM_CONFIG_FLAGS";
    case kEvTableOfDevices:
      return "EV_TABLE_OF_DEVICES";
    case kEvCompactHash:
      return "EV_COMPACT_HASH";
    case kEvIpl:
      return "EV_IPL";
    case kEvIplPartitionData:
      return "EV_IPL_PARTITION_DATA";
    case kEvNonhostCode:
      return "EV_NONHOST_CODE";
    case kEvNonhostConfig:
      return "EV_NONHOST_CONFIG";
    case kEvNonhostInfo:
      return "EV_NONHOST_INFO";
    case kEvOmitBootDeviceEvents:
      return "EV_OMIT_BOOT_DEVICE_EVENTS";
    case kEvEfiVariableDriverConfig:
      return "EV_EFI_VARIABLE_DRIVER_CONFIG";
    case kEvEfiVariableBoot:
      return "EV_EFI_VARIABLE_BOOT";
    case kEvEfiBootServicesApplication:
      return "EV_EFI_BOOT_SERVICES_APPLICATION";
    case kEvEfiBootServicesDriver:
      return "EV_EFI_BOOT_SERVICES_DRIVER";
    case kEvEfiRuntimeServicesDriver:
      return "EV_EFI_RUNTIME_SERVICES_DRIVER";
    case kEvEfiGptEvent:
      return "EV_EFI_GPT_EVENT";
    case kEvEfiAction:
      return "EV_EFI_ACTION";
    case kEvEfiPlatformFirmwareBlob:
      return "EV_EFI_PLATFORM_FIRMWARE_BLOB";
    case kEvEfiHandoffTables:
      return "EV_EFI_HANDOFF_TABLES";
    case kEvEfiPlatformFirmwareBlob2:
      return "EV_EFI_PLATFORM_FIRMWARE_BLOB2";
    case kEvEfiHandoffTables2:
      return "EV_EFI_HANDOFF_TABLES2";
    case kEvEfiVariableBoot2:
      return "EV_EFI_VARIABLE_BOOT2";
    case kEvEfiHcrtmEvent:
      return "EV_EFI_HCRTM_EVENT";
    case kEvEfiVariableAuthority:
      return "EV_EFI_VARIABLE_AUTHORITY";
    case kEvEfiSpdmFirmwareBlob:
      return "EV_EFI_SPDM_FIRMWARE_BLOB";
    case kEvEfiSpdmFirmwareConfig:
      return "EV_EFI_SPDM_FIRMWARE_CONFIG";
    default: {
      char buf[32];
      std::snprintf(buf, sizeof(buf), "EV_UNKNOWN_0x%08x", type);
      return buf;
    }
  }
}

Result<EventLog> parse_event_log(ByteView in) {
  if (in.size() > kMaxEventLogSize) {
    return make_error(Reason::kDecodeError, "event log: " + std::to_string(in.size()) +
                                                " bytes; at most " +
                                                std::to_string(kMaxEventLogSize) + " are accepted");
  }
  if (in.empty()) return make_error(Reason::kDecodeError, "event log: empty");
  EventLog log;
  wire::Reader r(in);
  auto offset_of = [&]() { return in.size() - r.remaining(); };

  // PFP §10.4.5.1: the first record is always in the SHA-1 format; a crypto-agile log's is
  // EV_NO_ACTION in PCR 0 whose data starts with "Spec ID Event03".
  Event first;
  first.offset = 0;
  EXATTEST_RETURN_IF_ERROR(read_legacy(r, 0, 0, first));
  bool spec03 = first.type == kEvNoAction && first.pcr == 0 &&
                starts_with(view(first.data), kSpecId03, sizeof(kSpecId03));
  if (spec03) {
    log.crypto_agile = true;
    EXATTEST_RETURN_IF_ERROR(read_spec_id(view(first.data), 0, log));
  } else {
    // SHA-1 log (TPM 1.2 style, possibly with a "Spec ID Event00/02" header).
    if (first.type == kEvNoAction && starts_with(view(first.data), kSpecIdPrefix, 13)) {
      wire::Reader sr(view(first.data));
      ByteView sig;
      (void)sr.bytes(16, sig);
      (void)sr.u32le(log.platform_class);
      (void)sr.u8(log.spec_minor);
      (void)sr.u8(log.spec_major);
      (void)sr.u8(log.spec_errata);
      (void)sr.u8(log.uintn_size);
    }
    log.algorithms.push_back(SpecIdAlgorithm{kAlgSha1, kSha1Size});
  }
  EXATTEST_RETURN_IF_ERROR(check_event(log, first));
  decode_payload(first);
  log.events.push_back(std::move(first));

  while (!r.empty()) {
    size_t index = log.events.size();
    size_t offset = offset_of();
    if (index >= kMaxEvents) {
      return at(index, offset, "more than " + std::to_string(kMaxEvents) + " events");
    }
    Event e;
    e.index = index;
    e.offset = offset;
    if (log.crypto_agile) {
      EXATTEST_RETURN_IF_ERROR(read_event2(r, log, index, offset, e));
    } else {
      EXATTEST_RETURN_IF_ERROR(read_legacy(r, index, offset, e));
    }
    EXATTEST_RETURN_IF_ERROR(check_event(log, e));
    decode_payload(e);
    log.events.push_back(std::move(e));
  }
  return log;
}

Result<PcrBanks> replay_event_log(const EventLog& log) {
  PcrBanks banks;
  UniquePtr<EVP_MD_CTX> ctx(EVP_MD_CTX_new());
  if (!ctx) return make_error(Reason::kDecodeError, "event log replay: out of memory");
  for (const auto& alg : log.algorithms) {
    const EVP_MD* md = tpm_md(alg.alg);
    if (md == nullptr) continue;  // a declared bank we cannot compute: not replayed
    auto& pcrs = banks[alg.alg];
    auto pcr0_start = [&](uint8_t locality) {
      Bytes v(alg.digest_size, 0);
      v.back() = locality;
      return v;
    };
    // PFP §10.4.5.3: "the PCR[0] ... initial value ... the locality" of TPM2_Startup.
    if (log.startup_locality) pcrs[0] = pcr0_start(*log.startup_locality);
    for (const auto& e : log.events) {
      // PFP §10.4.5: EV_NO_ACTION events "are not extended into any PCR".
      if (e.type == kEvNoAction) continue;
      const Digest* d = e.digest(alg.alg);
      if (d == nullptr) continue;  // this bank is missing from the event (tolerated)
      auto it = pcrs.find(e.pcr);
      if (it == pcrs.end()) {
        // PFP §10.4.5.2: H-CRTM measurements start PCR 0 at 00..04.
        Bytes init =
            (e.pcr == 0 && e.type == kEvEfiHcrtmEvent) ? pcr0_start(4) : Bytes(alg.digest_size, 0);
        it = pcrs.emplace(e.pcr, std::move(init)).first;
      }
      unsigned int out_len = 0;
      Bytes out(static_cast<size_t>(EVP_MD_get_size(md)));
      if (EVP_DigestInit_ex(ctx.get(), md, nullptr) != 1 ||
          EVP_DigestUpdate(ctx.get(), it->second.data(), it->second.size()) != 1 ||
          EVP_DigestUpdate(ctx.get(), d->value.data(), d->value.size()) != 1 ||
          EVP_DigestFinal_ex(ctx.get(), out.data(), &out_len) != 1 || out_len != out.size()) {
        return make_error(Reason::kDecodeError, "event log replay: hashing failed");
      }
      it->second = std::move(out);
    }
    if (pcrs.empty()) banks.erase(alg.alg);
  }
  return banks;
}

SecureBootState secure_boot_state(const EventLog& log) {
  SecureBootState s;
  for (const auto& e : log.events) {
    if (e.pcr != 7 || e.type != kEvEfiVariableDriverConfig || !e.variable) continue;
    const UefiVariable& v = *e.variable;
    if (v.guid == kEfiGlobalVariableGuid) {
      if (v.name == "SecureBoot") {
        s.measured = true;
        s.value = v.data.size() == 1 ? std::optional<uint8_t>(v.data[0]) : std::nullopt;
      } else if (v.name == "PK") {
        s.pk = true;
      } else if (v.name == "KEK") {
        s.kek = true;
      }
    } else if (v.guid == kEfiImageSecurityDatabaseGuid) {
      if (v.name == "db") s.db = true;
      if (v.name == "dbx") {
        s.dbx = true;
        s.dbx_event = e.index;
      }
    }
  }
  return s;
}

}  // namespace exattest::tpm2
