"""City settings: a broken city.toml says what is wrong in one line, naming the file."""

import pytest

from analysis.config import available_cities, load_city
from analysis.errors import ConfigError, UsageError

GOOD = """
[city]
name_zh = "测试市"
buildout_start = 2019-12-01
[files]
districts = "districts.geojson"
[[targets]]
date = 2021-12-31
on_air = 446
[[districts]]
name_zh = "甲区"
"""


def write(tmp_path, text):
    folder = tmp_path / "testcity"
    folder.mkdir(exist_ok=True)
    (folder / "city.toml").write_text(text, encoding="utf-8")
    return folder


def test_the_bundled_city_loads_with_the_article_targets():
    city = load_city("karamay")
    assert "karamay" in available_cities()
    assert [(t.date.isoformat(), t.on_air, t.kind) for t in city.targets] == [
        ("2020-12-31", 216, "reported"),
        ("2021-12-31", 446, "target"),
        ("2025-12-31", 648, "target"),
    ]
    assert city.district_names == ("克拉玛依区", "独山子区", "白碱滩区", "乌尔禾区")
    assert sum(d.population_2020 for d in city.districts) == city.population_2020 == 490348
    assert city.article_date.isoformat() == "2021-03-22"


def test_a_folder_or_a_toml_path_is_a_city(tmp_path):
    folder = write(tmp_path, GOOD)
    assert load_city(folder).name_zh == "测试市"
    assert load_city(folder / "city.toml").key == "testcity"


def test_a_bare_name_is_the_key_of_a_city_under_data_raw_before_a_folder_of_that_name(tmp_path, monkeypatch):
    """`--city testcity` run where a folder testcity/ holds another city.toml reads data/raw/testcity (the help
    says "a folder under data/raw/"); `./testcity` or a folder no key names still reads the folder."""
    raw, work = tmp_path / "raw", tmp_path / "work"
    raw.mkdir(), work.mkdir()
    write(raw, GOOD)
    write(work, GOOD.replace('name_zh = "测试市"', 'name_zh = "别的市"'))
    monkeypatch.chdir(work)
    assert load_city("testcity", raw_dir=raw).name_zh == "测试市"
    assert load_city("./testcity", raw_dir=raw).name_zh == "别的市"
    assert load_city("testcity", raw_dir=tmp_path / "empty").name_zh == "别的市"


@pytest.mark.parametrize(
    "broken, problem",
    [
        (GOOD.replace("[[targets]]\ndate = 2021-12-31\non_air = 446\n", ""), "missing 'targets'"),
        (GOOD.replace("on_air = 446", ""), "missing 'on_air'"),
        (GOOD.replace("on_air = 446", "on_air = -3"), "whole number"),
        (GOOD.replace("on_air = 446", 'on_air = 446\nkind = "reported"'), "no entry of kind 'target'"),
        (GOOD.replace("date = 2021-12-31", 'date = "end of year"'), "not a date"),
        (GOOD.replace('name_zh = "测试市"', ""), "missing 'name_zh'"),
        (GOOD + "\n[[[oops", "not valid TOML"),
        (GOOD.replace("date = 2021-12-31", "date = 2019-06-30"), "#1 date 2019-06-30 is before [city] buildout_start"),
    ],
)
def test_broken_config_is_one_line_naming_the_file(tmp_path, broken, problem):
    folder = write(tmp_path, broken)
    with pytest.raises(ConfigError) as err:
        load_city(folder)
    assert problem in str(err.value) and "city.toml" in str(err.value) and "\n" not in str(err.value)


def test_unknown_city_is_a_usage_error():
    with pytest.raises(UsageError, match="unknown city 'atlantis'.*karamay"):
        load_city("atlantis")


def test_missing_file_entry(tmp_path):
    city = load_city(write(tmp_path, GOOD))
    with pytest.raises(ConfigError, match="no entry 'sites'"):
        _ = city.sites_path


def _with_boundaries(tmp_path, text, names):
    import json

    folder = write(tmp_path, text)
    square = {"type": "Polygon", "coordinates": [[[84, 45], [85, 45], [85, 46], [84, 46], [84, 45]]]}
    features = [{"type": "Feature", "properties": {"name_zh": n}, "geometry": square} for n in names]
    (folder / "districts.geojson").write_text(
        json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False), encoding="utf-8"
    )
    return folder


def test_a_district_named_twice_or_not_in_the_boundaries_is_refused_when_the_city_loads(tmp_path):
    two = GOOD + '[[districts]]\nname_zh = "乙区"\n'
    assert load_city(_with_boundaries(tmp_path, two, ["甲区", "乙区"])).district_names == ("甲区", "乙区")
    # the same name twice: every stage would count its stations twice
    with pytest.raises(ConfigError) as err:
        load_city(_with_boundaries(tmp_path, two.replace("乙区", "甲区"), ["甲区", "乙区"]))
    assert "city.toml" in str(err.value) and "#2 '甲区' appears more than once" in str(err.value)
    # a typo: a phantom district with no polygon, no station and a target share of 0
    with pytest.raises(ConfigError) as err:
        load_city(_with_boundaries(tmp_path, two.replace("乙区", "乙"), ["甲区", "乙区"]))
    assert "not match districts.geojson (not in city.toml: 乙区; missing from the file: 乙)" in str(err.value)
    assert "\n" not in str(err.value)
    # a polygon no district of city.toml names: its stations would be counted in no district
    with pytest.raises(ConfigError, match="not in city.toml: 丙区; missing from the file: none"):
        load_city(_with_boundaries(tmp_path, two, ["甲区", "乙区", "丙区"]))
    # no boundaries file yet: the names cannot be checked here (geo.read_districts refuses a missing file)
    (tmp_path / "other").mkdir()
    assert load_city(write(tmp_path / "other", two)).district_names == ("甲区", "乙区")


def test_a_count_reported_before_the_buildout_start_is_a_baseline_not_an_error(tmp_path):
    """Only goals must fall after buildout_start; a count reported before it (the stations on air when the
    buildout began) is a baseline and loads."""
    text = GOOD.replace("[[targets]]", '[[targets]]\ndate = 2019-06-30\non_air = 12\nkind = "reported"\n[[targets]]', 1)
    city = load_city(write(tmp_path, text))
    assert [(t.date.isoformat(), t.kind) for t in city.targets][0] == ("2019-06-30", "reported")


def test_two_counts_for_one_target_date_are_refused(tmp_path):
    """Two goals for one date with different counts: which one a stage used was the order of the file."""
    text = GOOD.replace("[[targets]]", "[[targets]]\ndate = 2021-12-31\non_air = 500\n[[targets]]", 1)
    with pytest.raises(ConfigError, match=r"#1 and #2 give 2021-12-31 two target counts \(500 and 446\)"):
        load_city(write(tmp_path, text))
    same = GOOD.replace("[[targets]]", "[[targets]]\ndate = 2021-12-31\non_air = 446\n[[targets]]", 1)
    with pytest.raises(ConfigError, match="give the same target"):  # (probe11: every page listed it twice)
        load_city(write(tmp_path, same))


def test_target_shares_and_kinds_a_new_analyst_may_mistype_are_one_line_errors(tmp_path):
    """target_share = "5%" was a traceback in forecast and taskforce; a share for some districts only was
    ignored with a note saying none was given; kind = "actual" was dropped as neither a goal nor a count."""
    two = GOOD + '[[districts]]\nname_zh = "乙区"\n'
    shared = two.replace('name_zh = "甲区"\n', 'name_zh = "甲区"\ntarget_share = 0.6\n')
    with pytest.raises(ConfigError, match="target_share is given for 1 districts, not for 乙区"):
        load_city(write(tmp_path, shared))
    both = shared.replace('name_zh = "乙区"\n', 'name_zh = "乙区"\ntarget_share = 0.4\n')
    assert [d.target_share for d in load_city(write(tmp_path, both)).districts] == [0.6, 0.4]
    with pytest.raises(ConfigError, match=r"#2 target_share must be a number from 0 to 1 \(0.05 for 5 %\), got '40%'"):
        load_city(write(tmp_path, both.replace("target_share = 0.4", 'target_share = "40%"')))
    with pytest.raises(ConfigError, match="kind must be one of target, reported, got 'actual'"):
        load_city(write(tmp_path, GOOD.replace("on_air = 446\n", 'on_air = 446\nkind = "actual"\n')))


@pytest.mark.parametrize(
    "when, due",
    [
        ("2025", "2025-12-31"),
        ("2025年", "2025-12-31"),
        ("2025年底", "2025-12-31"),
        ("2025-12", "2025-12-31"),
        ("2024年2月", "2024-02-29"),
        ("2025Q2", "2025-06-30"),
        ("十四五末", "2025-12-31"),
        ("“十四五”末", "2025-12-31"),
        ("十五五末", "2030-12-31"),
        ("2024-05-15", "2024-05-15"),
    ],
)
def test_targets_are_read_as_plans_write_them_the_period_s_end(tmp_path, when, due):
    """probe11: --target 2025=..., 2025-12=..., 2025年=... and a city.toml date "2025年" or "十四五末" were
    refused, though a series file reads those periods (as their last day); a count in 万 has decimals."""
    from analysis.config import parse_target_arg

    date, count = parse_target_arg(f"{when}=366.5")
    assert (date.isoformat(), count) == (due, 366.5)
    city = load_city(write(tmp_path, GOOD.replace("date = 2021-12-31", f'date = "{when}"')))
    assert city.targets[0].date.isoformat() == due


def test_a_target_argument_that_is_wrong_says_which_half_is():
    from analysis.config import parse_target_arg

    with pytest.raises(UsageError, match="'2025-13' is not a date or period"):
        parse_target_arg("2025-13=480")
    with pytest.raises(UsageError, match="'4.8万' is not a count"):
        parse_target_arg("2025=4.8万")
    with pytest.raises(UsageError, match="no '='"):
        parse_target_arg("2025-12-31")
    with pytest.raises(UsageError, match=">= 0"):
        parse_target_arg("2025=-1")


def test_a_goal_per_10000_people_an_unknown_key_and_a_target_given_twice(tmp_path):
    """probe11: `per_10k_people = 26` (the national plan's 每万人拥有5G基站数26个) was silently ignored, an unknown
    key with it, and a target given twice was printed twice."""
    per_10k = GOOD.replace('name_zh = "测试市"', 'name_zh = "测试市"\npopulation_2020 = 490348').replace(
        "on_air = 446", "per_10k_people = 26"
    )
    assert load_city(write(tmp_path, per_10k)).targets[0].on_air == 1275
    with pytest.raises(ConfigError, match="population_2020"):
        load_city(write(tmp_path, GOOD.replace("on_air = 446", "per_10k_people = 26")))
    with pytest.raises(ConfigError, match="both on_air and per_10k_people"):
        load_city(write(tmp_path, GOOD.replace("on_air = 446", "on_air = 446\nper_10k_people = 26")))
    with pytest.raises(ConfigError, match="unknown key 'per_10000'"):
        load_city(write(tmp_path, GOOD.replace("on_air = 446", "on_air = 446\nper_10000 = 26")))
    twice = GOOD + "[[targets]]\ndate = 2021-12-31\non_air = 446\n"
    with pytest.raises(ConfigError, match="#1 and #2 give the same target"):
        load_city(write(tmp_path, twice))


@pytest.mark.parametrize(
    "old, new, said",
    [
        ("buildout_start = 2019-12-01", "buildout_start = 2019-12-01\nrecords_recieved = 2021-10-15",
         r"\[city\] has unknown key 'records_recieved' \(did you mean 'records_received'\?\)"),
        ('districts = "districts.geojson"', 'districts = "districts.geojson"\nsite = "sites.csv"',
         r"\[files\] has unknown key 'site' \(did you mean 'sites'\?\)"),
        ('name_zh = "甲区"', 'name_zh = "甲区"\ntarget_shares = 0.5',
         r"\[\[districts\]\] #1 has unknown key 'target_shares' \(did you mean 'target_share'\?\)"),
        ("[files]", "[forcast]\nstop_months = [1]\n[files]", r"city.toml has unknown key 'forcast'"),
        ("[files]", "[basemap]\ndefualt = 'osm'\n[files]", r"\[basemap\] has unknown key 'defualt'"),
    ],
)  # fmt: skip
def test_a_misspelt_key_of_any_table_is_refused_with_the_key_it_resembles(tmp_path, old, new, said):
    """A key no stage reads was silently ignored (records_recieved: the report fell back to another extract date)."""
    with pytest.raises(ConfigError, match=said):
        load_city(write(tmp_path, GOOD.replace(old, new, 1)))


def test_provenance_notes_named_source_are_free_keys(tmp_path):
    text = GOOD.replace('name_zh = "测试市"', 'name_zh = "测试市"\ndistricts_source = "民政部区划代码"', 1)
    assert load_city(write(tmp_path, text)).name_zh == "测试市"
