"""A pool of support-desk questions, each in several phrasings: the ground truth of a paraphrase workload.

A scenario's ``[load]`` with ``questions_share > 0`` asks that share of its requests from this pool
(``questions`` of them, in a seeded phrasing each), so a class asks the same questions in many words;
its other requests ask one-off questions (:func:`one_off_question`: made-up words, unrelated to each
other and to the pool: a random slice of the load's usual text would not do, its few dozen words make
any two long slices look alike to a bag of words).
Two requests are paraphrases of each other exactly when they ask the same question; the judge reads
that from :func:`question_of` to count a semantic cache's *wrong hits* (an answer cached for one
question served to another).

The phrasings are written so that, under the fake provider's embedding scheme
(``fake_provider/embeddings.py``: a bag of normalised terms), every phrasing of a question has the same
bag of terms (cosine ≈ 0.98) while two different questions share at most one of their two or three
terms (cosine ≤ about 0.5): "cancel my order" and "cancel my subscription" are near misses a
threshold set too low confuses. ``tests/unit/fake_provider/test_embeddings.py`` checks both.
"""

from __future__ import annotations

import random

__all__ = ["PHRASINGS", "QUESTIONS", "one_off_question", "question_of", "question_text"]

#: how many wordings each question has
PHRASINGS = 4

#: (question id, its phrasings)
QUESTIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("cancel-order", (
        "How do I cancel my order?", "What's the way to call off my purchase?", "Can I cancel an order?",
        "I want to stop my order, how?",
    )),
    ("cancel-plan", (
        "How do I cancel my subscription?", "Can I terminate my membership?", "I'd like to stop my plan.",
        "Please cancel my subscription plan.",
    )),
    ("refund-order", (
        "How do I get a refund for my order?", "Can I get my money back for a purchase?", "Refund my order, please.",
        "Is a reimbursement possible for my order?",
    )),
    ("track-order", (
        "How can I track my order?", "Where can I follow my purchase?", "Is there a way to trace my order?",
        "Track order.",
    )),
    ("track-package", (
        "How can I track my package?", "Where is my parcel? I want to trace it.", "Can I follow my shipment?",
        "Track the parcel, please.",
    )),
    ("reset-password", (
        "How do I reset my password?", "I need to change my passcode.", "How can I update my password?",
        "Password reset, please.",
    )),
    ("delete-account", (
        "How do I delete my account?", "Can I remove my profile?", "Please erase my account.",
        "I want to close my account.",
    )),
    ("change-email", (
        "How do I change my email?", "Can I update my email?", "I need to modify my mail.",
        "Change email, how?",
    )),
    ("change-address", (
        "How do I change my address?", "Can I update my address?", "I need to modify my location.",
        "Change the address, please.",
    )),
    ("shipping-price", (
        "How much does shipping cost?", "What is the delivery fee?", "What do you charge for shipping?",
        "Shipping price?",
    )),
    ("shipping-time", (
        "How long does delivery take?", "How long does shipping take?", "What is the shipping time?",
        "Delivery duration?",
    )),
    ("download-invoice", (
        "How do I download my invoice?", "Can I export the receipt?", "Where can I save my bill?",
        "Download invoice, please.",
    )),
    ("upgrade-plan", (
        "How do I upgrade my plan?", "Can I move up to another tier?", "I want to upgrade my subscription.",
        "Upgrade membership, how?",
    )),
    ("payment-accepted", (
        "What payments do you accept?", "Do you accept card payments?",
        "Which kinds of payment are accepted?", "Is paying by card accepted?",
    )),
    ("return-item", (
        "How do I return an item?", "Can I send back a product?", "I want to return the article.",
        "Returning items, how?",
    )),
    ("contact-support", (
        "How do I contact support?", "How can I reach customer service?", "Who do I contact for help?",
        "Support contact, please.",
    )),
    ("opening-hours", (
        "What are your opening hours?", "When are you open?", "What hours are you open?", "Opening hours?",
    )),
    ("change-payment", (
        "How do I update my card?", "Can I change how I pay?", "I need to modify my payment details.",
        "Change card, please.",
    )),
    ("delete-payment", (
        "How do I remove my card?", "Delete my payment details, please.", "Can I erase my card?",
        "I want to remove the payment information.",
    )),
    ("refund-time", (
        "How long does a refund take?", "What's the refund time?", "How long until my reimbursement?",
        "Refund duration?",
    )),
)  # fmt: skip


def question_text(question: int, phrasing: int) -> str:
    """The ``phrasing``-th wording of the ``question``-th question of the pool."""
    _, texts = QUESTIONS[question % len(QUESTIONS)]
    return texts[phrasing % len(texts)]


#: syllables of the one-off questions' made-up words (no English word, stop word or synonym among them)
_SYLLABLES = ("ba", "ko", "ri", "tu", "ne", "zo", "mi", "la", "de", "fu", "go", "pe", "zi", "vo", "ha", "ju")


def one_off_question(rng: random.Random) -> str:
    """A question asked once: four made-up words of three syllables (4,096 possible words), so two of
    them share no term but by chance (and then one of four: a cosine of about 0.25)."""
    words = ["".join(rng.choice(_SYLLABLES) for _ in range(3)) for _ in range(4)]
    return f"What about {' '.join(words)}?"


def question_of(text: str) -> str | None:
    """The id of the question ``text`` words (one of the pool's phrasings), or None."""
    return _BY_TEXT.get(text)


_BY_TEXT = {text: qid for qid, texts in QUESTIONS for text in texts}
