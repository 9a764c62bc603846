"""The check a user can hear (va_checks, step 10 of make demo), with the shipped models."""
import numpy as np
import pytest

import va_checks


def test_the_pairs_are_at_equal_loudness_and_differ_as_described():
    import va_psychoacoustics as psy
    s = va_checks.signals()
    a = {k: psy.analyse(v, va_checks.SR) for k, v in s.items()}
    for x, y in (("noise_am_12hz", "noise_am_2hz"), ("tone_rough", "tone_smooth")):
        assert a[x]["psy.loudness"] == pytest.approx(a[y]["psy.loudness"], rel=0.01)
    assert a["tone_rough"]["psy.roughness"] > 0.8 > 0.05 > a["tone_smooth"]["psy.roughness"]
    assert a["noise_am_2hz"]["psy.modulation_rate"] < a["noise_am_12hz"]["psy.modulation_rate"]


@pytest.fixture(scope="module")
def shipped_check(tmp_path_factory):
    out = tmp_path_factory.mktemp("hearing_check")
    table, verdict = va_checks.run(None, out)
    return out, table, dict((text.split(":")[0], ok) for text, ok in verdict)


def test_the_check_writes_its_sounds_and_table(shipped_check):
    out, table, _ = shipped_check
    assert (out / "hearing_check.csv").is_file() and (out / "hearing_check.txt").is_file()
    assert len(list(out.glob("*.wav"))) == 4
    assert np.isfinite(table[["valence", "arousal"]].to_numpy()).all()


def test_faster_modulation_is_more_aroused(shipped_check):
    _, table, verdict = shipped_check
    assert verdict["the noise modulated at 12 Hz is more aroused than at 2 Hz"], table


@pytest.mark.xfail(strict=True, reason="issue 20, not met: the shipped models do not hear roughness as unpleasant "
                                       "(none of the five training corpora ties roughness to low valence)")
def test_a_rough_buzz_is_less_pleasant_than_a_smooth_tone(shipped_check):
    _, table, verdict = shipped_check
    assert verdict["the rough buzz is less pleasant than the smooth tone"], table
