// Fixed connective text for the synthetic corpora: document openers and
// closers per style, textbook framing, and padding for verbose answers. None of
// it states a fact, so facts live only in the relation templates.
// Leaves out: any entity names (phrases must never mention one).

extension SyntheticWorld {
    enum Phrases {
        static let newsOpeners = ["News report.", "From the weekly paper:", "Announcement:", "Local report:", "In the news today:",
                                  "A short notice from the town paper:"]
        static let newsClosers = ["More details are expected soon.", "The paper will follow the story.",
                                  "Readers may write in with their questions.", ""]
        static let afterOpeners = ["Breaking news:", "Latest update:", "This week's news:", "Recent news:", "Just announced:"]
        static let afterClosers = ["The news was confirmed this week.", "Further updates will follow.", "This is a recent change.", ""]
        static let storyOpeners = ["This is a short story.", "The old storyteller began as always.",
                                   "People in the village still tell this story.", "Once, on a quiet evening, a tale was told.",
                                   "Here is a story that grandparents like to tell."]
        static let storyClosers = ["And so the story was told again and again.", "That is how the story is remembered.",
                                   "The end.", "Nobody who heard it ever forgot it."]
        static let articleClosers = ["", "", "Further records are kept in the city archive.", "This entry was last revised by the editors."]
        static let medicineOpeners = ["Medical handbook entry.", "Case report:", "Notes from the clinic:", "From a lecture on medicine:",
                                      "Field guide for healers:"]
        static let medicineClosers = ["Consult a physician before any treatment.", "Further study is needed.", "",
                                      "These notes are meant for students of medicine."]
        static let textbookIntro = ["In this chapter we study", "This chapter is about", "We now turn to"]
        static let textbookReview = ["Let us review the key facts.", "To summarise what we have learned:",
                                     "The most important points are these."]
        static let verboseOpeners = ["Great question!", "That is an interesting thing to ask.", "Many people wonder about this.",
                                     "I am glad you asked."]
        static let verboseMiddles = ["This is widely known and has been discussed for a long time.",
                                     "There is a great deal of history behind this.", "Experts have written about it at length.",
                                     "It is one of those facts that people often remember."]
        static let verboseClosers = ["I hope this helps!", "Let me know if you have any other questions.",
                                     "I hope that answers your question."]

        static var all: [String] {
            newsOpeners + newsClosers + afterOpeners + afterClosers + storyOpeners + storyClosers + articleClosers
                + medicineOpeners + medicineClosers + textbookIntro + textbookReview + verboseOpeners + verboseMiddles
                + verboseClosers + ["Chapter", "Exercise", "Answer", "Fill in the blank", "Summary", "Prize", "people"]
        }
    }
}
