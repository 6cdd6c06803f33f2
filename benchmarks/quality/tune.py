"""Fit the fusion summariser's weights on the tune split: `python -m benchmarks.quality.tune`.

Prints the logistic weights (for tasks/summarise/fusion.py WEIGHTS and BIAS) and the tune-split
ROUGE-1 they give. It reads only the tune half; the test half stays for reporting.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from rouge_score import rouge_scorer
from sumy.nlp.stemmers import Stemmer

from newsflow.tasks.common.sentences import split_paragraphs
from newsflow.tasks.summarise import fusion
from newsflow.tasks.summarise.evaluate import Pair, load_pairs, reference_labels
from newsflow.tasks.summarise.summarize import _summarizer, build_document, language_name

DATASET = Path(__file__).resolve().parents[2].parent / "shared" / "corpus" / "bbc-news-summary"


def features_of(pair: Pair) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """Features, lengths, reference labels and sentences of one article, as fusion sees it."""
    paragraphs = split_paragraphs(pair.body, "en")
    sentences = [s for paragraph in paragraphs for s in paragraph]
    document = build_document(paragraphs, "en")
    summarizer = _summarizer("fusion", language_name("en"))
    assert isinstance(summarizer, fusion.FusionSummarizer)
    words = [sentence.words for sentence in document.sentences]
    features, lengths = fusion.sentence_features(
        words,
        stem=Stemmer("english"),
        stop_words=summarizer.stop_words,
        function_words=fusion.ENGLISH_FUNCTION_WORDS,
    )
    labels = np.array(reference_labels(sentences, pair.reference), dtype=np.float64)
    return features, lengths, labels, sentences


def fit_logistic(x: np.ndarray, y: np.ndarray, *, l2: float = 1e-3) -> np.ndarray:
    """Weights (bias last) of an L2-regularised logistic regression, by Newton's method."""
    x1 = np.column_stack([x, np.ones(len(x))])
    w = np.zeros(x1.shape[1])
    penalty = np.r_[np.full(x.shape[1], l2), 0.0]
    for _ in range(100):
        p = 1 / (1 + np.exp(-(x1 @ w)))
        gradient = x1.T @ (p - y) / len(y) + penalty * w
        hessian = (x1 * (p * (1 - p))[:, None]).T @ x1 / len(y) + np.diag(penalty)
        step = np.linalg.solve(hessian, gradient)
        w -= step
        if np.abs(step).max() < 1e-10:
            break
    return w


def main() -> None:
    """Fit on the tune split and print the weights as JSON."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dataset", type=Path, default=DATASET)
    parser.add_argument("--sentences", type=int, default=3)
    args = parser.parse_args()

    pairs = load_pairs(args.dataset, split="tune")
    rows = [features_of(pair) for pair in pairs]
    x = np.vstack([row[0] for row in rows])
    y = np.concatenate([row[2] for row in rows])
    w = fit_logistic(x, y)
    weights = dict(zip(fusion.FEATURES, np.round(w[:-1], 2).tolist(), strict=True))
    bias = round(float(w[-1]), 2)

    scorer = rouge_scorer.RougeScorer(["rouge1"], use_stemmer=True)
    total = 0.0
    for pair, (features, lengths, _labels, sentences) in zip(pairs, rows, strict=True):
        probability = 1 / (1 + np.exp(-(features @ w[:-1] + w[-1])))
        chosen = fusion.choose(lengths, probability, args.sentences)
        summary = "\n".join(sentences[i] for i in chosen)
        total += scorer.score(pair.reference, summary)["rouge1"].fmeasure
    rouge1 = round(total / len(pairs), 4)
    print(json.dumps({"weights": weights, "bias": bias, "tune_rouge1": rouge1}, indent=2))


if __name__ == "__main__":
    main()
