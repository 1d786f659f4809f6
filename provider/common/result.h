// Result<T> / Status: fallible returns carrying one PROTOCOL.md §7 reason and a detail.
#pragma once

#include <string>
#include <utility>
#include <variant>

#include "common/reason.h"

namespace exattest {

struct Error {
  Reason reason = Reason::kProtocolError;
  std::string detail;  // short, names the fix where there is one; never secrets
};

inline Error make_error(Reason r, std::string detail) { return Error{r, std::move(detail)}; }

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}       // NOLINT: implicit on purpose
  Result(Error error) : v_(std::move(error)) {}    // NOLINT
  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const Error& error() const { return std::get<1>(v_); }
  Reason reason() const { return ok() ? Reason::kNone : error().reason; }

 private:
  std::variant<T, Error> v_;
};

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Error error) : err_(std::move(error)), failed_(true) {}  // NOLINT
  static Status Ok() { return Status(); }
  bool ok() const { return !failed_; }
  explicit operator bool() const { return ok(); }
  const Error& error() const { return err_; }
  Reason reason() const { return failed_ ? err_.reason : Reason::kNone; }

 private:
  Error err_;
  bool failed_ = false;
};

}  // namespace exattest

// Propagate a failed Status/Result from an expression returning Status or Result<U>.
#define EXATTEST_RETURN_IF_ERROR(expr)              \
  do {                                              \
    auto&& exattest_st_ = (expr);                   \
    if (!exattest_st_.ok()) return exattest_st_.error(); \
  } while (0)
