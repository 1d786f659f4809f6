// File, JSON and key-format helpers shared by the `exattest` subcommands.
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>

#include "cli.h"
#include "common/ossl_ptr.h"

namespace exattest::cli {

Result<Bytes> read_file(const std::string& path) {
  std::ifstream f;
  std::istream* in = &std::cin;
  if (path != "-") {
    f.open(path, std::ios::binary);
    if (!f.is_open()) {
      return make_error(Reason::kProtocolError,
                        "cannot open " + path + ": " + std::strerror(errno));
    }
    in = &f;
  }
  Bytes out;
  char buf[8192];
  while (*in) {
    in->read(buf, sizeof buf);
    std::streamsize n = in->gcount();
    if (n <= 0) break;
    if (out.size() + static_cast<size_t>(n) > kMaxInputFile) {
      return make_error(Reason::kProtocolError, path + " is larger than " +
                                                    std::to_string(kMaxInputFile) +
                                                    " bytes; not an exattest input");
    }
    out.insert(out.end(), buf, buf + n);
  }
  if (in->bad()) return make_error(Reason::kProtocolError, "cannot read " + path);
  return out;
}

Status write_file(const std::string& path, ByteView data) {
  if (path == "-") {
    std::cout.write(reinterpret_cast<const char*>(data.data()),
                    static_cast<std::streamsize>(data.size()));
    std::cout.flush();
    if (!std::cout) return make_error(Reason::kProtocolError, "cannot write to stdout");
    return Status::Ok();
  }
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  if (!f.is_open()) {
    return make_error(Reason::kProtocolError,
                      "cannot create " + path + ": " + std::strerror(errno));
  }
  f.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
  f.close();
  if (!f) return make_error(Reason::kProtocolError, "cannot write " + path);
  return Status::Ok();
}

void print_json(const nlohmann::json& j) {
  // error_handler::replace: evidence text fields are not guaranteed UTF-8.
  std::cout << j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
}

void print_json(const nlohmann::ordered_json& j) {
  std::cout << j.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) << "\n";
}

bool parse_nonce(const std::string& text, Bytes& out) {
  out.clear();
  if (text.empty()) return true;
  std::string_view t = text;
  if (t.rfind("0x", 0) == 0) t.remove_prefix(2);
  return from_hex(t, out);
}

std::string spki_hash(ByteView spki_der) {
  uint8_t md[SHA256_DIGEST_LENGTH];
  SHA256(spki_der.data(), spki_der.size(), md);
  return "sha256:" + to_hex(ByteView(md, sizeof md));
}

Result<std::string> spki_pem(ByteView spki_der) {
  const unsigned char* p = spki_der.data();
  UniquePtr<EVP_PKEY> key(d2i_PUBKEY(nullptr, &p, static_cast<long>(spki_der.size())));
  if (!key) return make_error(Reason::kDecodeError, "AK public key is not a valid SPKI");
  UniquePtr<BIO> bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PUBKEY(bio.get(), key.get()) != 1) {
    return make_error(Reason::kDecodeError, "cannot encode the AK as PEM");
  }
  char* data = nullptr;
  long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(n));
}

std::string describe(const Error& e) {
  return std::string(reason_name(e.reason)) + ": " + e.detail;
}

}  // namespace exattest::cli
