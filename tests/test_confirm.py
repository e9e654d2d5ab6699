"""The question check (rag/answering/confirm.py) on the real answering model, Qwen2.5-Coder-0.5B: the two
wrong answers issue 26 reported are not confirmed, right answers copied from the passage are, and
the whole pipeline shows a wrong cited answer as not confirmed."""

from __future__ import annotations

import pytest

from inference import answer_model
from inference.models import load_model
from rag.answering.confirm import GAIN_MIN, NOT_THE_ANSWER, confirm
from rag.answering.prompts import build_evidence_messages
from rag.answering.verify import (
    CHECKED,
    PARTLY,
    UNCONFIRMED,
    Claim,
    Verified,
    not_the_answer,
    verdict,
)

pytestmark = pytest.mark.slow

# R-intro (An Introduction to R), section 2.5, the page the is.na question's evidence came from.
NA_PASSAGE = (
    "When an element or value is \u201cnot available\u201d or a \u201cmissing value\u201d in the "
    "statistical sense, a place within a vector may be reserved for it by assigning it the "
    "special value NA. In general any operation on an NA becomes an NA. The function is.na(x) "
    "gives a logical vector of the same size as x with value TRUE if and only if the "
    "corresponding element in x is NA.")
NA_QUESTION = "How do I find which elements of a vector are missing values?"
# R-intro section 4.1: the tax accountants' states, the "table of Australian states".
STATES_PASSAGE = (
    "Suppose, for example, we have a sample of 30 tax accountants from all the states and "
    "territories of Australia and their individual state of origin is specified by a character "
    "vector of state mnemonics as state <- c(\"tas\", \"sa\", \"qld\", \"nsw\", \"nsw\", \"nt\", "
    "\"wa\", \"wa\", \"qld\", \"vic\", \"nsw\", \"vic\", \"qld\", \"qld\", \"sa\"). Notice that in "
    "the case of a character vector, \u201csorted\u201d means sorted in alphabetical order: the "
    "states are New South Wales, Northern Territory, Queensland, South Australia, Tasmania, "
    "Victoria and Western Australia.")
CAPITAL_QUESTION = "What is the capital of Australia?"
LINE_PASSAGE = (
    "Note that input and output can be redirected in the usual way (using \u2018<\u2019 and "
    "\u2018>\u2019), but the line length limit of 4095 bytes still applies. Warning and error "
    "messages are sent to the error channel (stderr).")
LINE_QUESTION = "Is there a maximum length for a single line I type at the R console?"


class _Passage:
    def __init__(self, quote: str) -> None:
        self.n, self.quote = 1, quote


@pytest.fixture(scope="module")
def writer(tmp_path_factory):
    folder = tmp_path_factory.mktemp("models")
    model = load_model(answer_model.ANSWER_NAME, data_dir=folder, n_ctx=2048)
    yield model
    model.close()


def check(model, passage: str, question: str, reply: str):
    read = [_Passage(passage)]
    return confirm(model, build_evidence_messages(question, read, []),
                   lambda q: build_evidence_messages(q, read, []), reply, question, passage)


def test_the_reported_wrong_answers_are_not_confirmed(writer):
    na = check(writer, NA_PASSAGE, NA_QUESTION,
               "To find which elements of a vector are missing values, use the NA value.")
    capital = check(writer, STATES_PASSAGE, CAPITAL_QUESTION,
                    "The capital of Australia is New South Wales.")
    assert not na.confirmed and not capital.confirmed, (na, capital)
    assert na.gain < GAIN_MIN and capital.gain < GAIN_MIN
    # the check costs two readings of a short answer and one of the passage: well within the
    # 3 s the issue allows after the last token, even on a loaded 2-core machine
    assert na.seconds < 20 and capital.seconds < 20


def test_right_answers_copied_from_the_passage_are_confirmed(writer):
    """The answers the check confirms: the number, name or call the question asks for, copied.
    (A whole right sentence copied from the page gains less and is often not confirmed: the
    price of this check, measured in docs/benchmarks.md.)"""
    line = check(writer, LINE_PASSAGE, LINE_QUESTION, "4095 bytes")
    isna = check(writer, NA_PASSAGE, NA_QUESTION, "Use is.na(x).")
    assert line.confirmed and isna.confirmed, (line, isna)
    assert line.gain >= GAIN_MIN and isna.gain >= GAIN_MIN


def test_a_short_answer_must_stand_beside_what_was_asked():
    """The specifics of a short answer (its number or name) must be on the page in a sentence
    or line that also holds a word of the question: a chapter number copied from a heading
    gains like an answer (zsh manual, "14 Expansion", gain 1.01) but stands beside nothing asked.
    """
    from rag.answering.confirm import anchored

    page = ("14 Expansion\n"
            "The prompt string is first subjected to parameter expansion.\n"
            "For example, the prompt '%10<...<%~%<<%# ' will print a truncated representation of "
            "the current directory.")
    q = "My prompt becomes too wide in deep folders. How can I cut the directory part down?"
    assert not anchored("14 Expansion", q, page)
    assert anchored("%10<...<%~%<<", q, page)
    assert anchored("4095 bytes", LINE_QUESTION, LINE_PASSAGE)
    assert anchored("Use is.na(x).", NA_QUESTION, NA_PASSAGE)
    assert not anchored("17", NA_QUESTION, NA_PASSAGE + "\n17")  # a page number
    # a sentence wrapped across lines is one sentence (R-exts: "...is limited to\n100 bytes.")
    wrapped = "The length of a package's Title field is limited to\n100 bytes. Use title case."
    assert anchored("100 bytes", "How long may a package title be?", wrapped)
    # an equation's or a section's number is a label, not a value (glpk manual, glpk-05: "1.1"
    # for "How long may the names ... be?", gain 1.46)
    glpk = ("GLPK assumes that MIP problem has the same formulation as ordinary (pure) LP "
            "problem (1.1)\u2014(1.3), i.e. includes auxiliary and structural variables.\n"
            "2.2.1 Problem segment\n"
            "Symbolic names of the problem, rows and columns are 1 up to 255 characters long.")
    names = "How long may the names I give to constraints and variables in a GLPK problem be?"
    assert not anchored("1.1", names, glpk)
    assert not anchored("2.2.1", names, glpk)
    assert anchored("255", names, glpk)
    assert anchored("version 1.1", "Which version of the problem format is read?",
                    "The problem format read is version 1.1 (2010).")
    # a value for the other case answers nothing (our unanswerable ua-35: "1.5 bar", gain 3.3)
    boiler = ("To reset the boiler, hold the RESET button for five seconds. The pressure gauge "
              "should read between 1.0 and 1.5 bar when the system is cold.")
    hot = "What pressure should the boiler gauge read when the system is hot?"
    assert not anchored("1.5 bar", hot, boiler)
    assert anchored("1.5 bar", hot.replace("hot", "cold"), boiler)
    assert anchored("1.5 bar", "What pressure should the boiler gauge read?", boiler)


def test_a_long_answer_is_not_confirmed_by_its_gain_alone():
    """Long replies that restate the question around a detail gained 1.0-1.5 nats as often
    when wrong as when right on manuals nobody tuned on (glpk-07, 14 words, gain 1.36): the
    gain confirms short answers only, and only where they stand beside what was asked."""
    from rag.answering.confirm import gain_confirms

    long = ("Yes, there is a maximum: the line length limit of 4095 bytes still applies when "
            "you type a single line at the R console.")
    assert not gain_confirms(1.5, long, LINE_QUESTION, LINE_PASSAGE)
    assert gain_confirms(1.5, "4095 bytes", LINE_QUESTION, LINE_PASSAGE)
    assert not gain_confirms(0.9, "4095 bytes", LINE_QUESTION, LINE_PASSAGE)
    assert not gain_confirms(1.5, "2048 bytes", LINE_QUESTION, LINE_PASSAGE)  # not on the page


def test_a_reason_is_not_confirmed_by_the_gain():
    """A question that only asks why wants a reason; a short reply naming something is not
    one (rint-03: "Because matrix multiplication is the inverse of matrix multiplication",
    gain 2.7). A why that also asks for a value ("Why, and by how much?") still can be."""
    from rag.answering.confirm import anchored, gain_confirms, reason_only

    page = ("Solving linear equations is the inverse of matrix multiplication. Numerically, it "
            "is both inefficient and potentially unstable to compute x <- solve(A) %*% b "
            "instead of solve(A,b).")
    why = ("Why is it discouraged to get x from Ax = b by first inverting the matrix A and then "
           "multiplying it by b?")
    reply = "Because matrix multiplication is the inverse of matrix multiplication."
    assert reason_only(why) and not gain_confirms(2.7, reply, why, page)
    assert anchored(reply, why, page)  # only the kind of question stops it
    assert not reason_only("Why, and by how much, do the symbols shrink?")
    assert not reason_only("How do I find the missing values?")
    assert reason_only("Why does my loop stop when I press Esc?")  # "when" joins, not asks
    assert not reason_only("Why is it off, and when would I turn it on?")


def test_asked_again_over_the_core_the_answer_must_stay_the_same():
    """The answer must hold when the model reads only the core of the passage: the same
    numbers and names (else the same new words), whatever else it writes around them."""
    from rag.answering.confirm import same_answer

    q = "Which environment variable sets the number of threads OpenBLAS uses?"
    assert same_answer("OPENBLAS_NUM_THREADS", "For the second and third the number of "
                       "threads is controlled by OPENBLAS_NUM_THREADS and OMP_NUM_THREADS.", q)
    assert not same_answer("OMP_NUM_THREADS", "Set OPENBLAS_NUM_THREADS.", q)
    enc = "Which encoding name should I give R for files from old Apple Macs?"
    assert not same_answer("UTF-8", "I couldn't find an answer that your documents back up.",
                           enc)
    assert same_answer("100 bytes", "The title is limited to 100 bytes.", "How long may it be?")
    assert not same_answer("100 bytes", "The title is limited to 65 bytes.", "How long?")
    assert same_answer("Use the macintosh encoding.", "The encoding is macintosh.", enc)


def test_an_answer_that_changes_when_asked_again_is_not_confirmed(writer):
    """The real model's confirmed short answer loses its check when its second reading gives
    another value, and keeps it when the second reading agrees (or there is none)."""
    assert check(writer, LINE_PASSAGE, LINE_QUESTION, "4095 bytes").confirmed
    read = [_Passage(LINE_PASSAGE)]

    def asked(second):
        return confirm(writer, build_evidence_messages(LINE_QUESTION, read, []),
                       lambda q: build_evidence_messages(q, read, []), "4095 bytes",
                       LINE_QUESTION, LINE_PASSAGE, again=lambda: second)

    assert asked("The limit is 4095 bytes.").confirmed
    assert asked(None).confirmed  # the core is all it read: nothing to ask again
    changed = asked("Lines may be up to 1024 bytes long.")
    assert not changed.confirmed and changed.why == NOT_THE_ANSWER


def test_the_second_reading_is_the_real_models_answer_over_the_core(writer):
    """`answer_again` asks the real model over the passage's core (the best sentence and the
    two after it) and nothing when the core is all the model read."""
    from rag.answering.answer import answer_again
    from rag.answering.evidence import Evidence

    # the core here states another limit than the passage read: the answer comes from the core
    core = "The line length limit of 8191 bytes applies to each line typed at the console."
    read = [Evidence(1, "R-intro.pdf", 12, LINE_PASSAGE, 1.0, core=core)]
    said = answer_again(writer, LINE_QUESTION, read, [])
    assert said and "8191" in said and "4095" not in said, said
    narrow = [Evidence(1, "R-intro.pdf", 12, LINE_PASSAGE, 1.0, core=LINE_PASSAGE)]
    assert answer_again(writer, LINE_QUESTION, narrow, []) is None


def test_the_passage_repeated_is_not_called_an_answer(writer):
    """A reply that is the passage again picks out nothing: marked without asking the model."""
    again = check(writer, NA_PASSAGE, NA_QUESTION, NA_PASSAGE)
    assert not again.confirmed and again.gain is None and again.repeated > 0.95
    assert "passage repeated" in again.why


GARDEN = ("We planted the tomatoes on 12 May, two weeks after the last frost. The beans went in "
          "on 20 May. Water the seedlings every morning until they flower.")
TOMATOES = "We planted the tomatoes on 12 May, two weeks after the last frost."


def test_a_copied_sentence_that_states_the_value_asked_for_is_confirmed(writer):
    """Check 2 cannot tell a copied sentence from the page's gist (over a short note both
    questions make the copy as likely); check 3 confirms the sentence that holds the question's
    words and states the date asked for, and nothing for a question about something else."""
    asked = check(writer, GARDEN, "When did we plant the tomatoes?", TOMATOES)
    assert asked.confirmed and not asked.why, asked
    other = check(writer, GARDEN, "When were the potatoes planted?", TOMATOES)
    assert not other.confirmed and not other.kept and other.why == NOT_THE_ANSWER
    # the model went on copying: only the sentence that answers keeps its citation
    more = TOMATOES + " Water the seedlings every morning until they flower."
    partly = check(writer, GARDEN, "When did we plant the tomatoes?", more)
    assert not partly.confirmed and len(partly.kept) == 1
    claims = [Claim(TOMATOES, [1], True, 0.9),
              Claim("Water the seedlings every morning until they flower.", [1], True, 0.9)]
    shown = not_the_answer(Verified("…", claims), partly.why, partly.kept)
    assert verdict(shown.claims) == PARTLY
    assert [c.supported for c in shown.claims] == [True, False]
    assert shown.text.startswith("We planted the tomatoes on 12 May, two weeks after the last "
                                 "frost [1].")
    # no value asked for: the capital question gets nothing from check 3
    capital = check(writer, STATES_PASSAGE, CAPITAL_QUESTION,
                    "The capital of Australia is New South Wales.")
    assert not capital.kept


def test_an_age_is_a_number_of_years_not_any_number_beside_the_question_words():
    """"How old...?" asks for an age: a sentence that holds every word of the question and a
    count of something else (our unanswerable ua-30, written by the 1.5B) states no age."""
    from rag.answering.confirm import value_sentences

    question = "How old was John Chambers when he developed the S language?"
    books = ("John Chambers, the coauthor of the four books by John Chambers and coauthors, "
             "developed the S language.")
    assert value_sentences(books, question) == set()
    aged = "John Chambers was 38 years old when he developed the S language."
    assert len(value_sentences(aged, question)) == 1
    # other value questions are unchanged: a count answers "how many"
    assert value_sentences(books, "How many books did John Chambers coauthor?")


def test_an_unconfirmed_answer_keeps_its_words_but_no_citation_and_says_why():
    claims = [Claim("The capital of Australia is New South Wales.", [1], True, 0.8)]
    before = Verified("The capital of Australia is New South Wales [1].", claims)
    assert verdict(before.claims) == CHECKED
    after = not_the_answer(before, NOT_THE_ANSWER)
    assert verdict(after.claims) == UNCONFIRMED
    assert after.text == "The capital of Australia is New South Wales."
    assert after.claims[0].to_json()["why"] == NOT_THE_ANSWER


def test_the_window_marks_each_unconfirmed_sentence_with_its_reason():
    from app.gui.evidence_view import display_markdown
    from rag.answering.answer import Answer

    claims = [Claim("The capital of Australia is New South Wales.", [1], True, 0.8)]
    after = not_the_answer(Verified("…", claims), NOT_THE_ANSWER)
    shown = display_markdown(Answer("What is the capital of Australia?", after.text,
                                    claims=after.claims))
    assert shown == f"The capital of Australia is New South Wales. *({NOT_THE_ANSWER})*"
    assert "[1]" not in shown
    two = [Claim("It was built in 1887.", [], False, 0.0, NOT_THE_ANSWER),
           Claim("It was electrified in 1921.", [], False, 0.0, NOT_THE_ANSWER)]
    assert display_markdown(Answer("q", "", claims=two)) == \
        f"It was built in 1887. It was electrified in 1921. *({NOT_THE_ANSWER})*"
