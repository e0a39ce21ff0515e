"""The criteria and the plan they judge against, on known numbers: each can pass and each can fail."""

from __future__ import annotations

import pytest

from piyasa_core.bench.capacity import DeltaTally, cache_figures, headroom
from piyasa_core.bench.criteria import Observed, Thresholds, evaluate, passed
from piyasa_core.bench.plan import PaceRow
from piyasa_core.config.schema import ProviderConfig
from piyasa_core.engine.dedup import near_pairs


def observed(**changes: object) -> Observed:
    base = dict(throughput_per_min=5.8, per_worker=[13, 15, 17, 12], duplicates=0, l2_configured=True, l2_hits=40,
                l2_misses=10, crashes=0, crashed_workers=[],
                bot_pace=[PaceRow("Ayşe", 16.7, 17), PaceRow("Ali", 13.5, 12)],
                worker_pace=[PaceRow("w2", 16.7, 17), PaceRow("w3", 13.5, 12)], lateness_p95=3.9, lateness_count=57)
    base.update(changes)
    return Observed(**base)  # type: ignore[arg-type]


def by_id(o: Observed, t: Thresholds | None = None, *, final: bool = True) -> dict[str, dict]:
    return {c.id: c.to_dict() for c in evaluate(o, t or Thresholds(), final=final)}


def test_a_run_on_its_plan_passes() -> None:
    c = by_id(observed())
    assert all(v["status"] == "pass" for k, v in c.items() if k not in ("throughput_target", "human_questions")), c
    assert c["human_questions"]["status"] == "not_configured"  # nobody asked
    assert c["throughput_target"]["status"] == "fail" and not c["throughput_target"]["required"]  # 5.8 < 6.0
    assert passed(evaluate(observed(), Thresholds(), final=True))


def test_pace_fails_when_a_bot_is_late_or_early_beyond_one_message_of_slack() -> None:
    late = by_id(observed(bot_pace=[PaceRow("Ayşe", 16.7, 17), PaceRow("Ali", 13.5, 10)]))["bot_pace"]
    assert late["status"] == "fail" and late["value"] == pytest.approx((3.5 - 1) / 13.5, abs=1e-4)
    assert late["detail"].startswith("worst Ali: 10 delivered of 13.5 planned (-26 %")
    early = by_id(observed(worker_pace=[PaceRow("w2", 10.0, 14)]))["worker_pace"]
    assert early["status"] == "fail" and "worst w2: 14 delivered of 10.0 planned (+40 %" in early["detail"]
    assert PaceRow("x", 2.3, 3).excess == 0.0  # within a message of the plan: no deviation at all
    assert PaceRow("x", 0.0, 2).excess == 1.0  # nothing planned, two delivered
    nothing = by_id(observed(bot_pace=[]))["bot_pace"]
    assert nothing["status"] == "pending"


def test_one_worker_fails_the_parallel_criterion_and_the_number_is_a_setting() -> None:
    one = by_id(observed(per_worker=[57]))
    assert one["parallel_workers"]["status"] == "fail" and one["parallel_workers"]["value"] == 1
    assert one["all_workers_produced"]["status"] == "pass"  # the one worker did produce
    assert by_id(observed(per_worker=[57]), Thresholds(workers_required=1))["parallel_workers"]["status"] == "pass"
    live = by_id(observed(per_worker=[57]), final=False)["parallel_workers"]
    assert live["status"] == "pending"  # a live view does not shout before the end


def test_lateness_l2_and_the_profiles_throughput() -> None:
    assert by_id(observed(lateness_p95=31.0))["lateness_p95"]["status"] == "fail"
    assert by_id(observed(lateness_p95=None))["lateness_p95"]["status"] == "pending"
    assert by_id(observed(l2_hits=5, l2_misses=45))["l2_hit_rate"]["status"] == "fail"
    assert by_id(observed(l2_configured=False))["l2_hit_rate"]["status"] == "not_configured"
    everyday = Thresholds(min_throughput_per_min=None, target_throughput_per_min=None)
    c = by_id(observed(throughput_per_min=1.1), everyday)
    assert c["throughput_min"]["status"] == "not_configured" and "sets no minimum" in c["throughput_min"]["detail"]
    assert passed(evaluate(observed(throughput_per_min=1.1), everyday, final=True))
    assert not passed(evaluate(observed(throughput_per_min=1.1), Thresholds(), final=True))  # the seed's 4.0


def test_near_duplicates_follow_the_engines_rule() -> None:
    texts = ["GARAN bugün güzel toparladı, sabır şart dostlar", "🚀", "Katılıyorum",
             "GARAN bugün güzel toparladı, sabır şart arkadaşlar", "GARAN bugün güzel toparladı, sabır şart dostlar",
             "Enflasyon verisi beklentinin üstünde geldi, faiz kararı önemli"]
    pairs = near_pairs(texts)
    assert [(a, b) for a, b, _ in pairs] == [(0, 3), (3, 4)]  # the exact copy (0 → 4) is not a near one
    assert all(score >= 88 for *_, score in pairs)
    assert near_pairs(["Alev alev", "Alev gibi"]) == []  # reactions are never near duplicates


def test_counters_survive_a_restart_and_the_cache_figures_add_up() -> None:
    tally = DeltaTally()
    tally.baseline({0: {"l1_hits": 10}})
    tally.update({0: {"l1_hits": 25}})
    tally.update({0: {"l1_hits": 4}})  # restarted: counts from zero again
    assert tally.totals() == {"l1_hits": 19}
    cold = {"history.loads": 5, "history.load_seconds": 0.010}
    warm = {"l1_hits": 30, "l1_misses": 20, "l2_hits": 15, "l2_misses": 5, "history.l1_hits": 30,
            "history.l1_misses": 20, "history.l2_hits": 15, "history.l2_misses": 5, "history.loads": 5,
            "history.load_seconds": 0.010, "history.l2_seconds": 0.004}
    fig = cache_figures(cold, warm, sent=10, l2_configured=True)
    h = fig["kinds"]["history"]
    assert (h["lookups"], h["loads"], h["loads_avoided"], h["mean_load_ms"]) == (50, 5, 45, 2.0)
    assert h["saved_ms"] == pytest.approx(45 * 2.0 - 4.0)
    assert fig["saved"]["database_reads_avoided"] == 45 and fig["saved"]["ms_per_message"] == pytest.approx(8.6)
    assert fig["warm"]["l2"]["hit_rate"] == 0.75 and fig["cold"]["l2"]["hit_rate"] is None


def test_headroom_names_its_bound() -> None:
    room = headroom({0: 0.5, 1: 2.0}, real_s=10.0, sent=50, requests={"groq": 60}, tokens={"groq": {"in": 3000, "out": 300}},
                    providers={"groq": ProviderConfig(rpm=30, tpm=12000)})
    assert room["method"] == "derived"
    assert room["bounds"]["groq requests/min"] == pytest.approx(30 / 360, abs=0.01)
    assert room["bound"] == "groq requests/min" and room["value"] < 1  # the run asked more than the provider gives
    assert headroom({}, 10.0, 0, {}, {}, {})["value"] is None


def people(**changes: int) -> dict[str, int]:
    base = {"asked": 6, "answered": 6, "answered_well": 5, "addressed": 3, "addressed_first": 3, "most_bots_10min": 2}
    base.update(changes)
    return base


def test_peoples_questions_fail_unanswered_swarmed_or_answered_first_by_another_bot() -> None:
    ok = by_id(observed(people=people()))["human_questions"]
    assert ok["status"] == "pass" and ok["detail"].startswith("6 of 6 answered (5 with an answer")
    for bad, words in ((people(answered=5), "5 of 6 answered"), (people(most_bots_10min=3), "at most 3 bot(s)"),
                       (people(addressed_first=2), "first in 2 of 3"), (people(asked=0, answered=0), "0 of 0")):
        c = by_id(observed(people=bad))["human_questions"]
        assert c["status"] == "fail" and words in c["detail"], c
        assert not passed(evaluate(observed(people=bad), Thresholds(), final=True))
    live = by_id(observed(people=people(answered=5)), final=False)["human_questions"]
    assert live["status"] == "pending"  # the answer may still come
    assert by_id(observed(people=people(most_bots_10min=3)), Thresholds(max_bots_per_human_question=3))[
        "human_questions"]["status"] == "pass"


def test_a_worker_whose_bots_planned_nothing_is_not_required_to_produce() -> None:
    """At 12:30 Mehmet (worker 1) is off his active hours: 3 producing workers of 4 are all there can be;
    a worker that had a plan and sent nothing still fails, and so does a one-worker run."""
    rows = [PaceRow("w0", 3.2, 3), PaceRow("w1", 0.0, 0), PaceRow("w2", 3.3, 4), PaceRow("w3", 2.8, 3)]
    lunch = by_id(observed(per_worker=[3, 0, 4, 3], worker_pace=rows))
    assert lunch["parallel_workers"]["status"] == "pass" and lunch["parallel_workers"]["threshold"] == 3
    assert "worker(s) 1 had nothing planned" in lunch["parallel_workers"]["detail"]
    assert lunch["all_workers_produced"]["status"] == "pass"
    silent = by_id(observed(per_worker=[3, 0, 0, 3], worker_pace=rows))
    assert silent["parallel_workers"]["status"] == "fail" and silent["all_workers_produced"]["status"] == "fail"
    assert "no message from worker(s) 2" in silent["all_workers_produced"]["detail"]
    one = by_id(observed(per_worker=[12], worker_pace=[PaceRow("w0", 12.0, 12)]))
    assert one["parallel_workers"]["status"] == "fail" and one["parallel_workers"]["threshold"] == 4
