"""Cleaning real article text: headline, tickers, captions, boilerplate, attribution."""

from __future__ import annotations

from pathlib import Path

from newsflow.tasks.ingest.clean import clean_article, is_caption, is_headline, is_ticker

SEEDS = Path(__file__).resolve().parent.parent / "seeds"


def seed(prefix: str) -> str:
    return next(SEEDS.glob(f"{prefix}_*.txt")).read_text(encoding="utf-8")


def test_repeated_german_headline_becomes_the_title_once():
    article = clean_article(seed("000"))
    assert article.title == "Kambodscha und Japan loben Fortschritt der bilateralen Zusammenarbeit"
    assert article.title not in article.body


def test_quelle_line_becomes_source_and_date_and_link_stub_is_dropped():
    article = clean_article(seed("000"))
    assert article.source == "Khmer Times"
    assert article.published_at == "2025-12-27T00:00:00Z"
    assert article.published_raw == "27. Dezember 2025"
    assert "Quelle" not in article.body
    assert "Link zum Artikel" not in article.body


def test_text_without_headline_keeps_its_first_sentence_in_the_body():
    article = clean_article(seed("001"))
    assert article.title is None
    assert article.body.startswith("In a reaffirmation of their commitment")


def test_photo_caption_is_kept_out_of_the_body():
    article = clean_article(seed("002"))
    assert article.captions == [
        "Prime Minister Hun Sen and his Japanese counterpart Fumio Kishida speak at a press "
        "conference in Phnom Penh on Monday. MPS"
    ]
    assert "MPS" not in article.body
    assert "Comments are closed" not in article.body


def test_ticker_is_dropped_and_dateline_kept():
    article = clean_article(seed("003"))
    assert article.title == "Cambodia, Japan Vow to Strengthen Diplomatic Ties under New Admin"
    assert "Angkor Empire Marathon" not in article.body
    assert article.body.startswith("PHNOM PENH: Japanese Ambassador")
    assert "Related News" not in article.body


def test_source_line_is_parsed_not_kept():
    article = clean_article(seed("004"))
    assert article.source == "NEWS AGENCIES"
    assert "SOURCE" not in article.body


def test_line_classifiers():
    assert is_ticker("A headline | Another one | A third |")
    assert not is_ticker("Profit rose | analysts said")
    assert is_headline("Cambodia and Japan agree on new port deal")
    assert not is_headline("Cambodia and Japan agreed on a new port deal.")
    assert is_caption("The minister speaks in Tokyo on Monday. AFP")
    assert is_caption("Die Ministerin in Berlin (Foto: dpa)")
    assert not is_caption("The minister spoke in Tokyo on Monday.")


def test_share_and_ad_lines_are_boilerplate():
    text = (
        "Title of the story here\n\nFirst real paragraph of the article.\n"
        "Share on Facebook\nAdvertisement\nAnzeige\nSecond real paragraph."
    )
    article = clean_article(text)
    assert article.body == "First real paragraph of the article.\n\nSecond real paragraph."
    assert set(article.dropped) == {"Share on Facebook", "Advertisement", "Anzeige"}
