"""Sentence splitting survives what news text contains: abbreviations, ordinals, quotes, numbers."""

from __future__ import annotations

import pytest
from sumy.parsers.plaintext import PlaintextParser
from typer.testing import CliRunner

from newsflow.flows.cli import app
from newsflow.tasks.common.sentences import (
    OfflineTokenizer,
    record,
    replay,
    split_paragraphs,
    split_sentences,
    words,
)

GERMAN = {
    "z. B.": ["Das gilt z. B. für Banken.", "Andere Firmen sind nicht betroffen."],
    "z.B.": ["Das gilt z.B. für Banken und Versicherer.", "Die Börse reagierte nicht."],
    "ca.": ["Es kamen ca. 500 Menschen.", "Die Polizei war vor Ort."],
    "Nr.": ["Das Haus Nr. 5 brannte ab.", "Niemand wurde verletzt."],
    "Art. Abs.": ["Das regelt Art. 5 Abs. 2 des Grundgesetzes.", "Der Streit geht weiter."],
    "Dr. Prof.": ["Dr. Müller sprach zuerst mit Prof. Schmidt.", "Danach redete der Minister."],
    "Prof. Dr.": ["Prof. Dr. Hans Müller spricht.", "Er ist Experte."],
    "ordinal date": ["Das Treffen fand am 7. Dezember 2025 statt.", "Es war das dritte."],
    "ordinal date after zum": ["Bis zum 31. März muss gezahlt werden.", "Danach gibt es Strafen."],
    "ordinal noun": ["Er wurde Dritter.", "Der 3. Platz ging an Bayern."],
    "ordinal quarter": ["Der Umsatz stieg im 3. Quartal.", "Im 4. Quartal fiel er."],
    "number ends sentence": ["Der Verein belegt Platz 3.", "Bayern ist Erster."],
    "year ends sentence": ["Die Partei gewann 2024.", "Die Opposition verlor."],
    "Jh. then lower case": ["Er war im 19. Jh. berühmt.", "Heute nicht mehr."],
    "»…« quote": ["»Wir sind zufrieden«, sagte er.", "»Das ist ein Erfolg.«", "Dann ging er."],
    "„…“ quote": ["„Wir sind zufrieden“, sagte sie.", "„Das ist ein Erfolg.“", "Dann ging sie."],
    "„…“ after colon": ["Sie sagte: „Das ist gut.“", "Die anderen nickten."],
    "Mio. Euro": ["Die Kosten betragen 12,5 Mio. Euro.", "Der Bund zahlt."],
    "Mio. ends sentence": ["Das kostet 5 Mio.", "Die Regierung zahlt."],
    "score": ["Er gewann 2:1.", "Bayern verlor."],
    "u. a.": ["Es kamen ca. 500 Menschen, u. a. aus Bayern.", "Die Polizei war da."],
    "usw.": ["Sie kamen aus Berlin, Hamburg usw.", "Die Polizei zählte 500."],
    "gegr.": ["Die Firma (gegr. 1900) wuchs.", "Sie ist groß."],
    "Hauptstr.": ["Er wohnt in der Hauptstr. 5 in Berlin.", "Dort ist es ruhig."],
    "thousands": ["Sie verdiente 3.000 Euro.", "Das reichte nicht."],
}

ENGLISH = {
    "U.S. then The": ["He moved to the U.S.", "The next year he returned."],
    "U.S. inside": ["The U.S. economy grew.", "Markets rallied."],
    "U.S. Senate": ["The U.S. Senate voted on Monday.", "It passed."],
    "D.C. inside": ["He lives in Washington, D.C. and works there.", "She does not."],
    "D.C. ends sentence": ["The firm is based in Washington D.C.", "Its rivals are not."],
    "Mr.": ["Mr. Blair and Mr. Brown met.", "Mr. Howard did not."],
    "a.m. inside": ["The meeting started at 9 a.m. and ended at noon.", "It was long."],
    "a.m. ends sentence": ["The meeting started at 9 a.m.", "The minister spoke first."],
    "a.m. Monday": ["It opened at 9 a.m. Monday.", "Then it closed."],
    "Jan.": ["It happened on Jan. 5, 2024.", "Nobody noticed."],
    "decimals": ["Growth was 2.5% last year.", "It will be 3.1% next year."],
    "money": ["Profits were £21.5m.", "Turnover was $1.15bn."],
    "curly quotes": ["“We are pleased,” he said.", "“This is a success.”", "Then he left."],
    "curly quote after colon": ["He said: “It works.”", "The others agreed."],
    "E.U. then lower case": ["The U.K. and the U.S. signed.", "The E.U. did not."],
    "Inc. ends sentence": ["It was made by Acme Inc.", "The firm is big."],
    "Co. inside": ["The company, Yukos Oil Co., said it would appeal.", "Shares fell."],
    "No.": ["He was No. 1 in the world.", "He is not now."],
    "question and exclamation": ["Is it true?", "Yes!", "It is."],
}


@pytest.mark.parametrize("expected", GERMAN.values(), ids=GERMAN.keys())
def test_german_case_splits_exactly(expected: list[str]):
    assert split_sentences(" ".join(expected), "de") == expected


@pytest.mark.parametrize("expected", ENGLISH.values(), ids=ENGLISH.keys())
def test_english_case_splits_exactly(expected: list[str]):
    assert split_sentences(" ".join(expected), "en") == expected


# Realistic paragraphs where a true boundary follows a tricky token.
GERMAN_PARAGRAPH = [
    "Der Bundestag hat am 7. Dezember 2025 über das Gesetz abgestimmt.",
    "Nach Art. 5 Abs. 2 GG sind z. B. Zeitungen geschützt, sagte Prof. Dr. Anna Weber.",
    "„Das ist ein guter Tag“, sagte sie.",
    "Rund 1,2 Mio. Menschen verfolgten die Debatte, ca. 40 Prozent mehr als im 3. Quartal.",
    "»Wir sind zufrieden«, sagte Dr. Jens Kühn von der Gewerkschaft Nr. 1 des Landes.",
    "Die Abstimmung endete um 18.30 Uhr.",
    "Die Opposition will nun vor Gericht ziehen.",
]
ENGLISH_PARAGRAPH = [
    "Shares in Acme fell 2.5% to $31.40 in New York on Jan. 5 after the U.S. regulator spoke.",
    "Mr. Smith, who lives in Washington, D.C., said the firm would appeal.",
    "“We will fight this,” he told reporters at 9 a.m.",
    "The company has offices in the U.S.",
    "Its rivals, including Beta Corp., declined to comment.",
    "Analysts expect a decision by Feb. 12.",
]


def test_german_paragraph_splits_at_every_true_boundary():
    assert split_sentences(" ".join(GERMAN_PARAGRAPH), "de") == GERMAN_PARAGRAPH


def test_english_paragraph_splits_at_every_true_boundary():
    assert split_sentences(" ".join(ENGLISH_PARAGRAPH), "en") == ENGLISH_PARAGRAPH


def test_line_breaks_and_blank_lines_end_sentences():
    text = "Erste Zeile ohne Punkt\nZweite Zeile.\n\nDritter Absatz. Vierter Satz."
    assert split_sentences(text, "de") == [
        "Erste Zeile ohne Punkt",
        "Zweite Zeile.",
        "Dritter Absatz.",
        "Vierter Satz.",
    ]
    assert split_paragraphs(text, "de") == [
        ["Erste Zeile ohne Punkt", "Zweite Zeile."],
        ["Dritter Absatz.", "Vierter Satz."],
    ]


def test_sentences_keep_their_inner_spacing():
    assert split_sentences("Er kam  am 7.  Dezember. Dann ging er.", "de") == [
        "Er kam  am 7.  Dezember.",
        "Dann ging er.",
    ]


def test_words_keep_initialisms_numbers_and_hyphenated_words():
    assert words("The U.S. co-operation grew 2.5% in Jan., said O’Neill.") == [
        "The", "U.S", "co-operation", "grew", "2.5", "in", "Jan", "said", "O’Neill",
    ]  # fmt: skip


def test_offline_tokenizer_plugs_into_sumys_parser():
    parser = PlaintextParser.from_string(" ".join(ENGLISH_PARAGRAPH), OfflineTokenizer("en"))
    assert [str(s) for s in parser.document.sentences] == ENGLISH_PARAGRAPH


def test_cli_summarize_returns_every_german_sentence_exactly():
    result = CliRunner().invoke(
        app,
        ["summarize", "-", "--language", "de", "--sentences", "100"],
        input=" ".join(GERMAN_PARAGRAPH),
    )
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == GERMAN_PARAGRAPH


def test_a_recorded_split_is_replayed_by_slicing_for_the_same_punkt_model_only():
    """The parse records where a body's sentences are; slicing it again gives the same split."""
    text = "Am 3. Dezember kam er an. Er blieb.\n\n  Second paragraph, Washington D.C. It rained.\n"
    for language in ("de", "en"):
        found = split_sentences(text, language)
        assert replay(text, record(text, found, language), language) == found
    english = record(text, split_sentences(text, "en"), "en")
    # Languages without a Punkt model of their own split as English does; German does not.
    assert replay(text, english, "ja") == split_sentences(text, "ja")
    assert replay(text, english, "de") is None
    assert record("Some text.", ["Other text."], "en") is None
    for unusable in (None, "", "not JSON", '{"spans": [0, 4]}', '{"language": "en", "spans": [0]}'):
        assert replay(text, unusable, "en") is None
