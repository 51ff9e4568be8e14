// Every file reader against 1000 mutated inputs (tests/fuzz/; bench/fuzz runs
// 10^5 per reader, BENCHMARKS.md "Fuzzing the readers"), and the fuzzer's
// findings as regression cases.
#include "doctest_main.hpp"
#include "fuzz/fuzz.hpp"

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

namespace {

using namespace deblur;
using fuzz::Bytes;

// Generous limits: this catches hangs and runaway allocations, not slowness
// on a busy machine (bench/fuzz holds inputs to 1 s).
fuzz::Limits test_limits() {
    fuzz::Limits l;
    l.seconds_per_input = 10;
    l.memory_mb = 2048;
    return l;
}

void fuzz_reader(const std::string& name) {
    const fuzz::Reader r = fuzz::make_reader(name);
    const fuzz::Stats s = fuzz::fuzz_reader(r, 1000, 2026, test_limits(), [&](const fuzz::Input&, std::size_t i, const std::string& why) {
        FAIL_CHECK(name << " input " << i << ": " << why << " (reproduce: bench/fuzz --reader " << name
                        << " --seed 2026 --inputs " << i + 1 << ")");
    });
    CHECK(s.failures == 0);
    CHECK(s.huge_refused == r.huge.size());
    // The mutants reach both outcomes: the harness does not only feed rubbish.
    CHECK(s.decoded > r.seeds.size());
    CHECK(s.refused > r.huge.size());
}

}  // namespace

TEST_CASE("fuzzing: PNG inputs decode or throw ImageError") { fuzz_reader("png"); }
TEST_CASE("fuzzing: JPEG inputs decode or throw ImageError") { fuzz_reader("jpeg"); }
TEST_CASE("fuzzing: TIFF inputs decode or throw ImageError") { fuzz_reader("tiff"); }
TEST_CASE("fuzzing: PFM inputs decode or throw ImageError") { fuzz_reader("pfm"); }
TEST_CASE("fuzzing: model files load or throw ModelError") { fuzz_reader("model"); }
TEST_CASE("fuzzing: checkpoints load or throw ModelError") { fuzz_reader("checkpoint"); }

TEST_CASE("the mutator is deterministic") {
    const Bytes seed = fuzz::text_bytes("Pf\n2 1\n-1.0\n01234567");
    fuzz::Mutator a(7), b(7), c(8);
    bool differs = false;
    for (int i = 0; i < 100; ++i) {
        const Bytes x = a.mutate(seed, seed), y = b.mutate(seed, seed), z = c.mutate(seed, seed);
        CHECK(x == y);
        differs = differs || x != z;
    }
    CHECK(differs);
}

// Found by fuzzing: libtiff's RGBA reader (palette, bilevel, YCbCr, CMYK
// images) was asked to go on after a damaged strip, leaving it blank, so a
// file with too little data "decoded".
TEST_CASE("a palette or bilevel TIFF whose strips hold less than its header claims is refused") {
    for (const fuzz::TiffLayout& layout :
         {fuzz::TiffLayout{.photometric = PHOTOMETRIC_PALETTE, .samples = 1, .bits = 8},
          fuzz::TiffLayout{.photometric = PHOTOMETRIC_MINISWHITE, .samples = 1, .bits = 1},
          fuzz::TiffLayout{.photometric = PHOTOMETRIC_PALETTE, .samples = 1, .bits = 8, .compression = COMPRESSION_PACKBITS}}) {
        const Bytes whole = fuzz::craft_tiff(13, 10, layout);
        CHECK(io::decode_image(whole, "whole.tif").info.channels == (layout.photometric == PHOTOMETRIC_PALETTE ? 3 : 1));
        // Twice as wide: each strip holds half a row of what the header says.
        CHECK_THROWS_AS(io::decode_image(fuzz::tiff_claiming(whole, 26, 10), "wide.tif"), io::ImageError);
    }
}

// Found by fuzzing: the same reader on a palette header claiming 16384 x 16384
// zero-filled a 1 GiB raster, then (going on past every missing strip) decoded
// a 4.8 GB image from a 1.9 kB file in seconds.
TEST_CASE("a palette TIFF header claiming a huge image is refused without touching the raster") {
    const Bytes palette = fuzz::craft_tiff(13, 10, {.photometric = PHOTOMETRIC_PALETTE, .samples = 1, .bits = 8});
    const double before = fuzz::peak_memory_mb();
    CHECK_THROWS_AS(io::decode_image(fuzz::tiff_claiming(palette, 16384, 16384), "huge.tif"), io::ImageError);
    CHECK(fuzz::peak_memory_mb() < before + 256);
}

// Found by fuzzing (10^6 inputs): a 1.4 kB palette TIFF claiming 64013 x 10
// pixels of 8193 samples each: the decoded RGB image was small enough, but
// libtiff allocated and zero-filled a 2 GB strip buffer before finding the
// data missing (2 s, 2 GB resident).
TEST_CASE("a TIFF whose stored samples pass the size limit is refused before libtiff allocates its strips") {
    const Bytes palette = fuzz::craft_tiff(13, 10, {.photometric = PHOTOMETRIC_PALETTE, .samples = 1, .bits = 8});
    const Bytes wide = fuzz::tiff_with_tag(fuzz::tiff_claiming(palette, 64013, 10), TIFFTAG_SAMPLESPERPIXEL, 8193);
    const double before = fuzz::peak_memory_mb();
    CHECK_THROWS_WITH_AS(io::decode_image(wide, "wide.tif"), doctest::Contains("too large"), io::ImageError);
    CHECK(fuzz::peak_memory_mb() < before + 256);
}

// Found by fuzzing: a checkpoint whose metadata number was not a number (with
// a valid checksum) threw std::invalid_argument from std::stoul / stoll / stod.
TEST_CASE("a checkpoint whose step, running mean or scale is not a number is refused with ModelError") {
    test::TempDir dir("deblur-fuzz");
    const auto file = dir / "c.dbm";
    fuzz::FuzzNet net(1);
    const std::vector<double> state(fuzz::checkpoint_optimiser_size, 0.5);
    train::save_checkpoint_files(net, file, {}, 0, 1234, 0.125, state);
    const Bytes saved = fuzz::read_bytes(file);
    for (auto [from, to] : {std::pair<std::string, std::string>{"\nscale=0\n", "\nscale=x\n"},
                            {"step=1234", "step=12x4"}, {"running_mean=0.125", "running_mean=0.1z5"}}) {
        CAPTURE(to);
        Bytes b = saved;
        const auto at = std::search(b.begin(), b.end(), from.begin(), from.end());
        REQUIRE(at != b.end());
        std::copy(to.begin(), to.end(), at);
        fuzz::fix_fnv_checksum(b);
        fuzz::write_bytes(file, b);
        fuzz::FuzzNet loaded(2);
        CHECK_THROWS_AS(train::load_checkpoint_files(loaded, file, 0, state.size()), ModelError);
    }
    fuzz::write_bytes(file, saved);
    fuzz::FuzzNet loaded(2);
    CHECK(train::load_checkpoint_files(loaded, file, 0, state.size()).step == 1234);
}
