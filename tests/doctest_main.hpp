#pragma once
// Each test file is its own executable: include this first in exactly one file.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <string>

// Cases that run the shipped model on real data take minutes in the
// sanitizers' unoptimised build: they skip themselves there (and run in Release).
#ifdef NDEBUG
inline constexpr bool unoptimised_build = false;
#else
inline constexpr bool unoptimised_build = true;
#endif

namespace deblur::test {

// The data beside the project (the Levin benchmark, validation and real
// photos): ../shared/data. A clone on its own has none.
inline std::filesystem::path shared_data() {
    return std::filesystem::path(DEBLUR_SOURCE_DIR) / ".." / "shared" / "data";
}

// CI (CI=true) and DEBLUR_REQUIRE_DATA=1 make missing data a failure.
inline bool data_required() {
    for (const char* name : {"CI", "DEBLUR_REQUIRE_DATA"})
        if (const char* v = std::getenv(name); v && *v && std::string(v) != "0" && std::string(v) != "false") return true;
    return false;
}

inline int& data_cases_skipped() {
    static int count = 0;
    return count;
}

// Decorator of a case that reads ../shared/data: skipped where the data are
// missing (and then the program exits 77, which CTest shows as skipped, with
// the reason on stderr), run (and failing) where they are required.
// `skip_anyway`: another reason to skip (e.g. unoptimised_build).
inline doctest::skip needs_shared_data(bool skip_anyway = false) {
    const bool missing = !std::filesystem::is_directory(shared_data()) && !data_required();
    if (missing && !skip_anyway) ++data_cases_skipped();
    return doctest::skip(missing || skip_anyway);
}

}  // namespace deblur::test

int main(int argc, char** argv) {
    doctest::Context context(argc, argv);
    const int status = context.run();
    if (context.shouldExit() || status != 0) return status;
    if (deblur::test::data_cases_skipped() > 0) {
        std::cerr << "skipped " << deblur::test::data_cases_skipped() << " case(s): no data in "
                  << deblur::test::shared_data().string() << "\n";
        return 77;
    }
    return status;
}
