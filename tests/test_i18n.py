"""Both catalogues hold the same keys with the same placeholders; lookups behave."""

import re
from pathlib import Path

import pytest

from lepton.i18n import LANGUAGES, catalogue, placeholders, translate

PROJECT = Path(__file__).resolve().parent.parent


def test_every_key_exists_in_both_languages():
    english, chinese = set(catalogue("en")), set(catalogue("zh"))
    assert english, "the English catalogue is empty"
    assert sorted(english - chinese) == [], "keys missing in Chinese"
    assert sorted(chinese - english) == [], "keys missing in English"


def test_placeholders_match_between_languages():
    english, chinese = catalogue("en"), catalogue("zh")
    mismatched = {key: (placeholders(english[key]), placeholders(chinese[key]))
                  for key in english if placeholders(english[key]) != placeholders(chinese[key])}
    assert mismatched == {}


def test_chinese_catalogue_is_really_chinese():
    texts = catalogue("zh").values()
    with_han = [text for text in texts if re.search(r"[\u4e00-\u9fff]", text)]
    assert len(with_han) >= 0.6 * len(texts)


def test_keys_used_by_pages_exist():
    """Every t("section.name") in app.py and pages/ names a real key (catches typos)."""
    used = set()
    for path in [PROJECT / "app.py", *sorted((PROJECT / "pages").glob("*.py"))]:
        used |= set(re.findall(r"""\bt\(\s*["']([a-z_]+\.[a-z0-9_]+)["']""", path.read_text()))
    assert used, "no page uses the catalogue"
    assert sorted(used - set(catalogue("en"))) == []


def test_translate_fills_placeholders_and_falls_back():
    key = next(key for key, text in catalogue("en").items() if placeholders(text))
    values = {name: "X" for name in placeholders(catalogue("en")[key])}
    for language in LANGUAGES:
        assert "X" in translate(key, language, **values)
    assert translate("no.such_key", "zh") == "no.such_key"
    with pytest.raises(ValueError, match="Unknown language"):
        catalogue("fr")
