"""GSM-7 / UCS-2 detection and segment counts (3GPP TS 23.038 / 23.040)."""

from apps.channels import smstext


def test_plain_ascii_is_gsm7_one_segment_up_to_160():
    assert smstext.analyse("a" * 160).as_dict() == {"encoding": "GSM-7", "units": 160, "segments": 1,
                                                    "per_segment": 160, "non_gsm": ""}
    assert smstext.analyse("a" * 161).segments == 2
    assert smstext.analyse("a" * 306).segments == 2
    assert smstext.analyse("a" * 307).segments == 3


def test_extension_characters_take_two_septets_and_are_not_split():
    info = smstext.analyse("€" * 80)
    assert (info.encoding, info.units, info.segments) == ("GSM-7", 160, 1)
    assert smstext.analyse("€" * 81).segments == 2
    # 152 plain septets then an escape: 154 > 153, so the escape pair starts part two
    assert smstext.analyse("a" * 152 + "€" + "a" * 10).segments == 2
    assert smstext.analyse("a" * 152 + "€" + "a" * 152).segments == 3  # 306 septets, yet three parts


def test_accented_gsm_letters_stay_gsm7_but_others_force_ucs2():
    assert smstext.analyse("Ça coûte 5€ à Zürich").encoding == "UCS-2"  # û is not in GSM-7
    info = smstext.analyse("Ça coute 5€ à Zürich")
    assert (info.encoding, info.units) == ("GSM-7", 21)
    info = smstext.analyse("Привет")
    assert info.as_dict() == {"encoding": "UCS-2", "units": 6, "segments": 1, "per_segment": 70,
                              "non_gsm": "Привет"}


def test_ucs2_segments_and_surrogate_pairs():
    assert smstext.analyse("ж" * 70).segments == 1
    assert smstext.analyse("ж" * 71).segments == 2
    assert smstext.analyse("ж" * 134).segments == 2
    assert smstext.analyse("ж" * 135).segments == 3
    emoji = smstext.analyse("😀" * 35)
    assert (emoji.units, emoji.segments) == (70, 1)
    # 66 units then an emoji: the pair does not fit the first part's last unit (134 units, three parts)
    assert smstext.analyse("ж" * 66 + "😀" + "ж" * 66).segments == 3


def test_empty_text_is_no_segment():
    assert smstext.analyse("").segments == 0


def test_cost_and_limit():
    assert smstext.cost(3, 0.0075) == 0.0225
    assert smstext.cost(3, None) is None
    info = smstext.analyse("a" * 500)
    assert info.segments == 4
    assert smstext.limit_problem(info, 4) == ""
    assert smstext.limit_problem(info, 3) == ("4 segments (500 GSM-7 septets) is over the limit of 3 segments per "
                                              "message")
    assert smstext.limit_problem(smstext.analyse("a" * 2000), None).startswith("14 segments")
