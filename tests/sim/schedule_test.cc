#include "schedule.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <set>

namespace {

ecq::sim::ScheduleOptions fleet(double p, double q, std::uint32_t k) {
  ecq::sim::ScheduleOptions options;
  options.devices = 100;
  options.check_in_probability = p;
  options.drop_probability = q;
  options.devices_per_round = k;
  options.seed = 7;
  return options;
}

}  // namespace

TEST_CASE("schedule repeats the same plan for a round") {
  const ecq::sim::Schedule schedule(fleet(0.8, 0.05, 20));
  for (std::uint32_t round = 0; round < 50; ++round) {
    const ecq::sim::RoundPlan first = schedule.plan(round);
    const ecq::sim::RoundPlan second = schedule.plan(round);
    CHECK(first.participants == second.participants);
    CHECK(first.drops == second.drops);
    CHECK(first.available == second.available);
  }
}

TEST_CASE("schedule picks K distinct sorted participants") {
  const ecq::sim::Schedule schedule(fleet(0.8, 0.05, 20));
  for (std::uint32_t round = 0; round < 200; ++round) {
    const ecq::sim::RoundPlan plan = schedule.plan(round);
    CHECK(plan.participants.size() == std::min<std::uint32_t>(20, plan.available));
    CHECK(std::is_sorted(plan.participants.begin(), plan.participants.end()));
    CHECK(std::set<std::uint32_t>(plan.participants.begin(), plan.participants.end()).size() ==
          plan.participants.size());
    CHECK(plan.drops.size() == plan.participants.size());
    for (const std::uint32_t device : plan.participants) CHECK(device < 100);
  }
}

TEST_CASE("schedule availability and drops follow p and q") {
  const ecq::sim::Schedule schedule(fleet(0.8, 0.05, 100));
  double available = 0;
  double drops = 0;
  double participants = 0;
  constexpr std::uint32_t kRounds = 500;
  for (std::uint32_t round = 0; round < kRounds; ++round) {
    const ecq::sim::RoundPlan plan = schedule.plan(round);
    available += plan.available;
    participants += static_cast<double>(plan.participants.size());
    drops += static_cast<double>(std::count(plan.drops.begin(), plan.drops.end(), true));
  }
  // 50,000 availability draws: the standard error of the rate is 0.0018, and
  // about 40,000 drop draws give 0.0011.
  CHECK(available / (100.0 * kRounds) == doctest::Approx(0.8).epsilon(0.02));
  CHECK(drops / participants == doctest::Approx(0.05).epsilon(0.1));
}

TEST_CASE("schedule edge probabilities") {
  const ecq::sim::RoundPlan everyone = ecq::sim::Schedule(fleet(1.0, 0.0, 100)).plan(3);
  CHECK(everyone.available == 100);
  CHECK(everyone.participants.size() == 100);
  CHECK(std::count(everyone.drops.begin(), everyone.drops.end(), true) == 0);

  const ecq::sim::RoundPlan nobody = ecq::sim::Schedule(fleet(0.0, 0.5, 20)).plan(3);
  CHECK(nobody.available == 0);
  CHECK(nobody.participants.empty());
}

TEST_CASE("schedule depends on the seed") {
  ecq::sim::ScheduleOptions other = fleet(0.8, 0.05, 20);
  other.seed = 8;
  const ecq::sim::Schedule first(fleet(0.8, 0.05, 20));
  const ecq::sim::Schedule second(other);
  int differing = 0;
  for (std::uint32_t round = 0; round < 20; ++round) {
    if (first.plan(round).participants != second.plan(round).participants) ++differing;
  }
  CHECK(differing >= 19);
}
