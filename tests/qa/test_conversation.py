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
