#include "doctest_main.hpp"
#include "temp_dir.hpp"

#include <deblur/net/copy_scales.hpp>
#include <deblur/net/default_network.hpp>
#include <deblur/net/model_file.hpp>
#include <deblur/net/parameters.hpp>

#include <filesystem>
#include <fstream>
#include <random>
#include <vector>

namespace {

using namespace deblur;

template <int K>
using TinyStage = Stage<Chain<Conv<2, 3>, Tanh<>, Recombine<2>>, Quotient<K>, ImageQuotient<>>;
using TinyNet = MultiScale<Scale<5, TinyStage<5>>, Scale<7, TinyStage<7>>>;
using OtherNet = MultiScale<Scale<5, TinyStage<5>>>;
using TwoStageNet = MultiScale<Scale<5, TinyStage<5>, TinyStage<5>>>;

using deblur::test::TempDir;

std::vector<unsigned char> read_bytes(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}
void write_bytes(const std::filesystem::path& p, const std::vector<unsigned char>& b) {
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

}  // namespace

TEST_CASE("a model round-trips with its metadata, and the file leaves no temporary behind") {
    TempDir dir;
    TinyNet a(1), b(2);
    const auto file = dir.path / "m.dbm";
    save_model(a, file, {{"noise", "0.01"}, {"steps", "42"}});
    const auto meta = load_model(b, file);
    CHECK(meta.at("noise") == "0.01");
    CHECK(meta.at("steps") == "42");
    std::vector<float> pa, pb;
    get_parameters(a, pa);
    get_parameters(b, pb);
    CHECK(pa == pb);
    CHECK(std::distance(std::filesystem::directory_iterator(dir.path), std::filesystem::directory_iterator()) == 1);
}

TEST_CASE("a checkpoint saved during stage-wise pre-training loads with only its trained stages running") {
    TempDir dir;
    TwoStageNet a(1);
    const auto file = dir.path / "m.dbm";
    save_model(a, file, {{"trained_scales", "1"}, {"active_stages", "1"}});
    TwoStageNet b(2);
    REQUIRE(b.scale<0>().active_stages() == 2);
    load_model(b, file);
    CHECK(b.scale<0>().active_stages() == 1);

    save_model(a, file, {{"trained_scales", "1"}, {"active_stages", "2"}});
    load_model(b, file);
    CHECK(b.scale<0>().active_stages() == 2);

    // Values that do not fit the network: a clear error, the network unchanged.
    TwoStageNet c(3);
    std::vector<float> before, after;
    get_parameters(c, before);
    for (const auto& [scales, stages] : {std::pair{"1", "3"}, {"1", "0"}, {"2", "1"}, {"1", "two"}, {"1", "1x"}}) {
        save_model(a, file, {{"trained_scales", scales}, {"active_stages", stages}});
        CHECK_THROWS_AS(load_model(c, file), ModelError);
    }
    get_parameters(c, after);
    CHECK(before == after);
    CHECK(c.scale<0>().active_stages() == 2);
}

TEST_CASE("copy_scales takes the first scales of one network and keeps the others") {
    TinyNet from(1), to(2), before(2);
    const auto blocks = [](TinyNet& net, std::size_t scale) {
        std::vector<std::vector<float>> out;
        net.for_each_param_block([&](std::size_t j, std::size_t, auto p, auto) {
            if (j == scale) out.emplace_back(p.begin(), p.end());
        });
        return out;
    };
    REQUIRE(blocks(from, 0) != blocks(to, 0));  // differently seeded
    copy_scales(from, to, 1);
    CHECK(blocks(to, 0) == blocks(from, 0));
    CHECK(blocks(to, 1) == blocks(before, 1));
    CHECK(blocks(to, 1) != blocks(from, 1));
    copy_scales(from, to, 5);  // more than there are: every scale
    CHECK(blocks(to, 1) == blocks(from, 1));
}

TEST_CASE("loading a model of another architecture fails clearly and changes nothing") {
    TempDir dir;
    OtherNet other(1);
    save_model(other, dir.path / "other.dbm");
    TinyNet net(2);
    std::vector<float> before, after;
    get_parameters(net, before);
    try {
        load_model(net, dir.path / "other.dbm");
        FAIL("expected ModelError");
    } catch (const ModelError& e) {
        const std::string msg = e.what();
        CHECK(msg.find("architecture") != std::string::npos);
        CHECK(msg.find("Scale<7") != std::string::npos);
    }
    get_parameters(net, after);
    CHECK(before == after);
    CHECK_THROWS_AS(load_model(net, dir.path / "missing.dbm"), ModelError);
}

TEST_CASE("truncated, corrupted and mutated model files never crash") {
    TempDir dir;
    TinyNet net(3);
    const auto good = dir.path / "good.dbm";
    save_model(net, good);
    const auto bytes = read_bytes(good);
    std::vector<float> before;
    get_parameters(net, before);
    const auto bad = dir.path / "bad.dbm";

    for (std::size_t n : {std::size_t{0}, std::size_t{4}, std::size_t{8}, std::size_t{20}, bytes.size() / 2, bytes.size() - 1}) {
        write_bytes(bad, {bytes.begin(), bytes.begin() + static_cast<long>(n)});
        CHECK_THROWS_AS(load_model(net, bad), ModelError);
    }

    std::mt19937 rng(9);
    int rejected = 0, mutated = 0;
    const int trials = 3000;
    for (int t = 0; t < trials; ++t) {
        auto m = bytes;
        const int flips = 1 + static_cast<int>(rng() % 4);
        for (int f = 0; f < flips; ++f) {
            const auto pos = rng() % m.size();
            switch (rng() % 3) {
                case 0: m[pos] = static_cast<unsigned char>(rng()); break;
                case 1: m.erase(m.begin() + static_cast<long>(pos)); break;
                default: m.insert(m.begin() + static_cast<long>(pos), static_cast<unsigned char>(rng())); break;
            }
            if (m.empty()) break;
        }
        if (m == bytes) continue;  // a mutation that changed nothing
        ++mutated;
        write_bytes(bad, m);
        try {
            load_model(net, bad);
        } catch (const ModelError&) {
            ++rejected;
        }
    }
    // FNV-1a over the whole file catches every mutation in practice.
    CHECK(mutated > trials * 9 / 10);
    CHECK(rejected == mutated);
    std::vector<float> after;
    get_parameters(net, after);
    CHECK(before == after);
}
