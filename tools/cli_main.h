// What the command-line tools (akida, cnn2snn, quantizeml) share around CLI11: the vendors'
// multi-letter short options, and main()'s error handling.
#pragma once

#include <CLI/CLI.hpp>
#include <algorithm>
#include <iostream>
#include <string>
#include <utility>
#include <vector>

namespace cli {

// argv without the program name, each vendor spelling CLI11 cannot declare (one-character short
// options only: "-sa", "-sc=2") renamed to its long option, in the last-first order CLI11's
// vector form takes.
inline std::vector<std::string> arguments(
    int argc, char** argv, const std::vector<std::pair<std::string, std::string>>& aliases) {
  std::vector<std::string> args;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    for (const auto& [short_name, long_name] : aliases)
      if (a == short_name || a.rfind(short_name + "=", 0) == 0)
        a = long_name + a.substr(short_name.size());
    args.push_back(a);
  }
  std::reverse(args.begin(), args.end());
  return args;
}

// Runs `body` (which parses and works) and turns what it throws into the tool's exit status:
// help and version print and exit 0; usage errors print "TOOL: error: ... (see 'TOOL --help')"
// and exit with CLI11's code, or `usage_status` when it is not 0; every other error prints one
// "TOOL: error: ..." and exits 1.
template <typename Body>
int guarded_main(CLI::App& app, const std::string& tool, Body body, int usage_status = 0) {
  try {
    return body();
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << tool << ": error: " << e.what() << " (see '" << tool << " --help')\n";
    return usage_status != 0 ? usage_status : e.get_exit_code();
  } catch (const std::exception& e) {
    std::cerr << tool << ": error: " << e.what() << "\n";
    return 1;
  } catch (...) {
    std::cerr << tool << ": error: unknown failure\n";
    return 1;
  }
}

}  // namespace cli
