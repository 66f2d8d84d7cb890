"""qa/conversation.py: follow-up questions read in the light of the conversation."""

from articleqa.qa.conversation import FollowUp, PronounResolver, Turn


def test_follow_up_borrows_the_previous_turn():
    resolve = PronounResolver().resolve
    article = "Syrian Rebels Capture Hama"
    history = [Turn("Who leads HTS?", "Jolani", article)]
    # resolved: the rewritten question is also the query
    assert resolve("When was it formed?", history) == FollowUp("When was HTS formed?", "When was HTS formed?", article)
    # nothing to resolve, and nothing named: retrieval and the reader both borrow the previous turn
    short = resolve("And in 2015?", history)
    assert short.question == short.query and short.query.startswith("And in 2015?")
    assert "Who leads HTS?" in short.query and "Jolani" in short.query
    # nothing to resolve, but a subject of its own: the reader reads it as asked
    named = resolve("And Aleppo?", history)
    assert named.question == "And Aleppo?" and "Who leads HTS?" in named.query
    assert resolve("What is the bounty on him?", history).question == "What is the bounty on Jolani?"
    assert resolve("Where was his base?", history).question == "Where was Jolani's base?"
    history.append(Turn("When was it formed?", "2016", article))
    assert resolve("What is the bounty on him?", history).question == "What is the bounty on Jolani?"
    assert resolve("Who founded it?", history).question == "Who founded HTS?"
    standalone = "When did the offensive on Aleppo begin?"
    assert resolve(standalone, history) == FollowUp(standalone, standalone)
    assert resolve("When was it formed?", []) == FollowUp("When was it formed?", "When was it formed?")


def test_it_is_the_place_just_named_and_the_topic_outlives_pronoun_questions():
    resolve = PronounResolver().resolve
    history = [
        Turn("Who leads HTS?", "Jolani"),
        Turn("How big is the bounty on him?", "$10 million"),
        Turn("Which country designated it a Foreign Terrorist Organization?", "the United States"),
    ]
    # the topic comes from the last question that names its subject, not from one that says "it"
    assert resolve("Which city are they heading for next?", history).question == "Which city are HTS heading for next?"
    history.append(Turn("Which city are they heading for next?", "Homs"))
    assert resolve("How far is it from Hama?", history).question == "How far is Homs from Hama?"


def test_it_after_a_question_about_a_thing_is_read_both_ways():
    resolve = PronounResolver().resolve
    history = [
        Turn("What did Jolani dismantle to form HTS?", "al Qaeda's Syrian affiliate al-Nusra Front"),
        Turn("How big is the bounty on him?", "$10 million"),
    ]
    placed = resolve("Who placed it?", history)
    assert placed.question == "Who placed Jolani HTS?"  # the topic first, as before
    assert placed.other == FollowUp("Who placed the bounty?", "Who placed the bounty?")
    # "it" went on meaning the bounty: the next follow-up keeps that reading
    history.append(Turn("Who placed it?", "the United States"))
    assert (
        resolve("How many arrests has it led to?", history).other.question == "How many arrests has the bounty led to?"
    )
    # one meaning only: a place just named, a question about a name ("the capital of Syria"), a plural, a verb
    # ending the question, or no earlier question about a thing
    assert resolve("How far is it from Hama?", [Turn("Which city is next?", "Homs")]).other is None
    for asked in (
        "What is the population of Hama?",
        "Where did the rebels free the detainees from?",
        "How long did the offensive last?",
    ):
        assert resolve("When did it happen?", [Turn("Who leads HTS?", "Jolani"), Turn(asked, "x")]).other is None
    # with no topic, the thing asked about is the only meaning
    assert resolve("Who placed it?", [Turn("How big is the bounty?", "$10 million")]) == FollowUp(
        "Who placed the bounty?", "Who placed the bounty?"
    )
