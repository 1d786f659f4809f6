// Times whole program runs (fork + exec + exit), two commands interleaved A, B, A, B, ...
// so that machine noise hits both alike. A small stand-in for hyperfine (benchmarks 2 and 4).
//
//   spawn_timer --runs N [--blocks 5] [--warmup 3] --
//               [VAR=value ...] cmdA args... ::: [VAR=value ...] cmdB args...
// Leading VAR=value words set (VAR= with an empty value: unset) variables for that command
// only. stdout/stderr of the commands go to /dev/null; a non-zero exit status aborts the
// measurement (exit 1, naming the command). Prints JSON: per-command wall-time statistics,
// and B/A ratios of the medians of each block of runs (median/min/max over blocks).
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>

#include "bench_util.h"

extern char** environ;

using namespace exattest;
using bench::die;

namespace {

struct Cmd {
  std::vector<std::string> env;  // full environment, KEY=VALUE
  std::vector<std::string> argv;
};

Cmd parse(const std::vector<std::string>& words) {
  Cmd c;
  std::vector<std::pair<std::string, std::string>> set;
  size_t i = 0;
  for (; i < words.size(); ++i) {
    size_t eq = words[i].find('=');
    if (eq == std::string::npos || eq == 0 || words[i].find('/') < eq) break;
    set.emplace_back(words[i].substr(0, eq), words[i].substr(eq + 1));
  }
  for (; i < words.size(); ++i) c.argv.push_back(words[i]);
  if (c.argv.empty()) die("spawn_timer: empty command");
  for (char** e = environ; *e != nullptr; ++e) {
    std::string kv = *e;
    std::string k = kv.substr(0, kv.find('='));
    bool overridden = false;
    for (auto& [sk, sv] : set) overridden = overridden || sk == k;
    if (!overridden) c.env.push_back(kv);
  }
  for (auto& [k, v] : set)
    if (!v.empty()) c.env.push_back(k + "=" + v);
  return c;
}

double run(const Cmd& c) {
  std::vector<char*> argv, envp;
  for (auto& s : c.argv) argv.push_back(const_cast<char*>(s.c_str()));
  argv.push_back(nullptr);
  for (auto& s : c.env) envp.push_back(const_cast<char*>(s.c_str()));
  envp.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  pid_t pid = 0;
  double t0 = bench::wall_ms();
  int rc = posix_spawnp(&pid, argv[0], &fa, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) die("cannot run " + c.argv[0]);
  int status = 0;
  if (waitpid(pid, &status, 0) != pid) die("waitpid");
  double t1 = bench::wall_ms();
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::string all;
    for (auto& s : c.argv) all += " " + s;
    die("command failed (status " + std::to_string(status) + "):" + all);
  }
  return t1 - t0;
}

}  // namespace

int main(int argc, char** argv) {
  long runs = bench::arg_int(argc, argv, "--runs", 100);
  long blocks = bench::arg_int(argc, argv, "--blocks", 5);
  long warmup = bench::arg_int(argc, argv, "--warmup", 3);
  std::vector<std::string> a, b;
  int i = 1;
  while (i < argc && std::string_view(argv[i]) != "--") ++i;
  bool second = false;
  for (++i; i < argc; ++i) {
    if (std::string_view(argv[i]) == ":::") {
      second = true;
      continue;
    }
    (second ? b : a).push_back(argv[i]);
  }
  if (a.empty() || b.empty() || runs < 1 || blocks < 1 || blocks > runs)
    die("usage: spawn_timer --runs N -- [VAR=v ...] cmdA ... ::: [VAR=v ...] cmdB ...");
  Cmd ca = parse(a), cb = parse(b);
  for (long w = 0; w < warmup; ++w) {
    run(ca);
    run(cb);
  }
  std::vector<double> ta, tb;
  for (long r = 0; r < runs; ++r) {
    ta.push_back(run(ca));
    tb.push_back(run(cb));
  }
  std::vector<double> ratios, diffs;
  for (long k = 0; k < blocks; ++k) {
    size_t lo = static_cast<size_t>(runs * k / blocks), hi = static_cast<size_t>(runs * (k + 1) / blocks);
    std::vector<double> ba(ta.begin() + lo, ta.begin() + hi), bb(tb.begin() + lo, tb.begin() + hi);
    double ma = bench::stats(ba).median, mb = bench::stats(bb).median;
    ratios.push_back(mb / ma);
    diffs.push_back(mb - ma);
  }
  bench::Stats sa = bench::stats(ta), sb = bench::stats(tb);
  std::printf("{\"runs\": %ld, \"a_ms\": %s,\n \"b_ms\": %s,\n \"ratio_of_medians\": %.6g,"
              " \"diff_of_medians_ms\": %.6g,\n \"block_ratio\": %s,\n \"block_diff_ms\": %s}\n",
              runs, bench::json_stats(sa).c_str(), bench::json_stats(sb).c_str(),
              sb.median / sa.median, sb.median - sa.median,
              bench::json_stats(bench::stats(ratios)).c_str(),
              bench::json_stats(bench::stats(diffs)).c_str());
  return 0;
}
