// The CLI's view of OPENSSL_CONF: the shared reader (provider/common/openssl_conf.h).
#pragma once

#include "common/openssl_conf.h"

namespace exattest::cli {
using exattest::load_openssl_conf;
using exattest::OpensslConf;
}  // namespace exattest::cli
