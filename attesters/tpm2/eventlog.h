// TCG PC Client event log (crypto-agile and SHA-1 legacy): strict bounded parser, replay, decode.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/bytes.h"
#include "common/result.h"

namespace exattest::tpm2 {

// Bounds (issue #16). A log is at most kMaxEventLogSize bytes (real UEFI logs are 10-100 KiB;
// Linux caps binary_bios_measurements at what firmware reserved, typically 64 KiB-1 MiB), at
// most kMaxEvents records, each event's data at most kMaxEventDataSize bytes. Every violation
// is decode_error naming the event index and its offset in the log.
inline constexpr size_t kMaxEventLogSize = 1024 * 1024;
inline constexpr size_t kMaxEvents = 8192;
inline constexpr size_t kMaxEventDataSize = 256 * 1024;
inline constexpr size_t kMaxSpecIdAlgorithms = 8;

// TCG PC Client PFP §10.4.1 event types used here.
inline constexpr uint32_t kEvPrebootCert = 0x00000000;
inline constexpr uint32_t kEvPostCode = 0x00000001;
inline constexpr uint32_t kEvNoAction = 0x00000003;
inline constexpr uint32_t kEvSeparator = 0x00000004;
inline constexpr uint32_t kEvAction = 0x00000005;
inline constexpr uint32_t kEvEventTag = 0x00000006;
inline constexpr uint32_t kEvSCrtmContents = 0x00000007;
inline constexpr uint32_t kEvSCrtmVersion = 0x00000008;
inline constexpr uint32_t kEvCpuMicrocode = 0x00000009;
inline constexpr uint32_t kEvPlatformConfigFlags = 0x0000000A;
inline constexpr uint32_t kEvTableOfDevices = 0x0000000B;
inline constexpr uint32_t kEvCompactHash = 0x0000000C;
inline constexpr uint32_t kEvIpl = 0x0000000D;
inline constexpr uint32_t kEvIplPartitionData = 0x0000000E;
inline constexpr uint32_t kEvNonhostCode = 0x0000000F;
inline constexpr uint32_t kEvNonhostConfig = 0x00000010;
inline constexpr uint32_t kEvNonhostInfo = 0x00000011;
inline constexpr uint32_t kEvOmitBootDeviceEvents = 0x00000012;
inline constexpr uint32_t kEvEfiVariableDriverConfig = 0x80000001;
inline constexpr uint32_t kEvEfiVariableBoot = 0x80000002;
inline constexpr uint32_t kEvEfiBootServicesApplication = 0x80000003;
inline constexpr uint32_t kEvEfiBootServicesDriver = 0x80000004;
inline constexpr uint32_t kEvEfiRuntimeServicesDriver = 0x80000005;
inline constexpr uint32_t kEvEfiGptEvent = 0x80000006;
inline constexpr uint32_t kEvEfiAction = 0x80000007;
inline constexpr uint32_t kEvEfiPlatformFirmwareBlob = 0x80000008;
inline constexpr uint32_t kEvEfiHandoffTables = 0x80000009;
inline constexpr uint32_t kEvEfiPlatformFirmwareBlob2 = 0x8000000A;
inline constexpr uint32_t kEvEfiHandoffTables2 = 0x8000000B;
inline constexpr uint32_t kEvEfiVariableBoot2 = 0x8000000C;
inline constexpr uint32_t kEvEfiHcrtmEvent = 0x80000010;
inline constexpr uint32_t kEvEfiVariableAuthority = 0x800000E0;
inline constexpr uint32_t kEvEfiSpdmFirmwareBlob = 0x800000E1;
inline constexpr uint32_t kEvEfiSpdmFirmwareConfig = 0x800000E2;

// "EV_EFI_ACTION"; "EV_UNKNOWN_0x..." for others.
std::string event_type_name(uint32_t type);

// UEFI_VARIABLE_DATA (PFP §10.4.4 / UEFI spec), decoded from EV_EFI_VARIABLE_* events.
struct UefiVariable {
  std::string guid;  // canonical text, lower case: "8be4df61-93ca-11d2-aa0d-00e098032b8c"
  std::string name;  // UnicodeName as UTF-8 (non-BMP / invalid code units become '?')
  Bytes data;        // VariableData
};

// UEFI_IMAGE_LOAD_EVENT (EV_EFI_BOOT_SERVICES_APPLICATION/DRIVER).
struct ImageLoad {
  uint64_t location = 0;
  uint64_t length = 0;
  uint64_t link_time_address = 0;
  Bytes device_path;      // EFI_DEVICE_PATH_PROTOCOL nodes, raw
  std::string path_text;  // simple nodes decoded ("HD(1,...)/\EFI\BOOT\BOOTX64.EFI"); "" if none
};

struct Digest {
  uint16_t alg = 0;  // TPM_ALG_ID
  Bytes value;
};

struct Event {
  size_t index = 0;   // 0 = the first record (the Spec ID header in a crypto-agile log)
  size_t offset = 0;  // byte offset of the record in the log
  uint32_t pcr = 0;
  uint32_t type = 0;
  std::vector<Digest> digests;  // in the log's order
  Bytes data;
  std::optional<UefiVariable> variable;  // EV_EFI_VARIABLE_DRIVER_CONFIG/BOOT/BOOT2/AUTHORITY
  std::optional<ImageLoad> image;        // EV_EFI_BOOT_SERVICES_APPLICATION/DRIVER, RUNTIME
  // A printable rendering of the data when it is text (EV_IPL, EV_EFI_ACTION, EV_ACTION,
  // EV_S_CRTM_VERSION UTF-16, EV_POST_CODE, systemd's UTF-16LE command line).
  std::optional<std::string> text;

  // The digest of this bank, or nullptr.
  const Digest* digest(uint16_t alg) const;
};

struct SpecIdAlgorithm {
  uint16_t alg = 0;
  uint16_t digest_size = 0;
};

struct EventLog {
  bool crypto_agile = false;  // false: SHA-1 legacy log (TCG_PCClientPCREvent records only)
  uint32_t platform_class = 0;
  uint8_t spec_major = 0, spec_minor = 0, spec_errata = 0, uintn_size = 0;
  std::vector<SpecIdAlgorithm> algorithms;  // Spec ID order; {sha1, 20} for a legacy log
  std::vector<Event> events;                // every record, the Spec ID header included
  std::optional<uint8_t> startup_locality;  // from an EV_NO_ACTION "StartupLocality" event
};

// Parses a whole log strictly: every record complete, nothing left over, the bounds above, and
// every TCG_PCR_EVENT2 carrying digests only of algorithms declared by the Spec ID event (in
// its order, each with the declared size; fewer than all of them is accepted, as tpm2-tools
// does). Every failure is kDecodeError with a detail naming the event index and offset.
Result<EventLog> parse_event_log(ByteView log);

// Final PCR values per bank: bank alg -> PCR index -> value, only for PCRs the log extends (or
// PCR 0 when a StartupLocality event sets it). EV_NO_ACTION events are not extended; PCR 0
// starts at 00..0L after a StartupLocality event with locality L (PFP §10.4.5.3), and at
// 00..04 before an EV_EFI_HCRTM_EVENT.
using PcrBanks = std::map<uint16_t, std::map<uint32_t, Bytes>>;
Result<PcrBanks> replay_event_log(const EventLog& log);

// Secure Boot state as measured in PCR 7 (EV_EFI_VARIABLE_DRIVER_CONFIG events).
struct SecureBootState {
  bool measured = false;         // a SecureBoot variable event is in PCR 7
  std::optional<uint8_t> value;  // its one-byte value; nullopt when the variable is absent
  bool pk = false, kek = false, db = false, dbx = false;  // these variables were measured
  std::optional<size_t> dbx_event;                        // index of the dbx event, if any
};
SecureBootState secure_boot_state(const EventLog& log);

// The EFI global variable GUID (SecureBoot, PK, KEK) and the image security database GUID
// (db, dbx).
inline constexpr std::string_view kEfiGlobalVariableGuid = "8be4df61-93ca-11d2-aa0d-00e098032b8c";
inline constexpr std::string_view kEfiImageSecurityDatabaseGuid =
    "d719b2cb-3d3a-4596-a3bc-dad00e67656f";

}  // namespace exattest::tpm2
