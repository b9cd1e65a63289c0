// The relations of the synthetic world and how each is said: sentence
// templates ({S} subject, {O} object, {Y} year) used to render facts, and
// question templates for question/answer pairs. A template is usable as a cloze
// probe when {S} comes before {O}; one such template per fact is held out of all
// training text. Leaves out: inflection (value words are chosen so that "a {O}"
// and plural/singular agreement always read correctly).

extension SyntheticWorld {
    enum Domain: String { case general, medicine }

    /// What kind of value an object is; distractors are drawn from the same kind.
    enum ValueKind: String {
        case city, country, river, year, profession, organisation, prize, currency, industry, person
        case symptom, organ, agent, remedy, plant
    }

    enum Relation: String, CaseIterable {
        case birthplace, birthYear = "birth_year", profession, employer, award, joined, movedTo = "moved_to"
        case country, river, cityFounded = "city_founded", capital, currency
        case headquarters, founded, industry, founder
        case symptom, organ, cause, remedy, sourcePlant = "source_plant"

        var domain: Domain {
            switch self {
            case .symptom, .organ, .cause, .remedy, .sourcePlant: return .medicine
            default: return .general
            }
        }

        var valueKind: ValueKind {
            switch self {
            case .birthplace, .movedTo, .capital, .headquarters: return .city
            case .birthYear, .cityFounded, .founded: return .year
            case .profession: return .profession
            case .employer, .joined: return .organisation
            case .award: return .prize
            case .country: return .country
            case .river: return .river
            case .currency: return .currency
            case .industry: return .industry
            case .founder: return .person
            case .symptom: return .symptom
            case .organ: return .organ
            case .cause: return .agent
            case .remedy: return .remedy
            case .sourcePlant: return .plant
            }
        }

        var templates: [String] { Templates.sentences[self]! }
        var questions: [String] { Templates.questions[self]! }

        /// The template replies are phrased in ("{S} was born in {O}."): the first cloze template that opens
        /// with the subject (so no other fact, such as a year, comes before the answer), else the first cloze
        /// template. It is never a fact's held-out phrasing, so a reply restates the subject exactly as
        /// pretraining text does and the answer follows a space — the form in which the model stored the fact.
        var answerTemplate: Int { clozeTemplates.first { templates[$0].hasPrefix("{S}") } ?? clozeTemplates[0] }

        /// Templates a fact's held-out (probe) phrasing is drawn from: the cloze templates but the answer template.
        var heldOutCandidates: [Int] {
            let others = clozeTemplates.filter { $0 != answerTemplate }
            return others.isEmpty ? clozeTemplates : others
        }

        /// Indices of templates usable as cloze prompts ({S} before {O}).
        var clozeTemplates: [Int] {
            templates.indices.filter { i in
                let t = templates[i]
                guard let s = t.range(of: "{S}"), let o = t.range(of: "{O}") else { return false }
                return s.upperBound <= o.lowerBound
            }
        }
    }

    enum Templates {
        static let sentences: [Relation: [String]] = [
            .birthplace: ["{S} was born in {O}.", "{S} was born in the city of {O}.", "The birthplace of {S} is {O}.",
                          "{S} is a native of {O}.", "{O} is the city where {S} was born.", "The city records list {O} as the birthplace of {S}.",
                          "{S} came into the world in {O}.", "Born in {O}, {S} never forgot the streets of home."],
            .birthYear: ["{S} was born in the year {O}.", "The year of birth of {S} is {O}.", "{S} has a birth year of {O}.",
                         "In {O}, {S} was born.", "{S} first saw the light of day in the year {O}.",
                         "The records list {O} as the birth year of {S}."],
            .profession: ["{S} works as a {O}.", "{S} is a {O} by profession.", "By trade, {S} works with the tools of a {O}.",
                          "The profession of {S} is that of a {O}.", "{S} earns a living as a {O}.", "Everyone knows {S} as a skilled {O}.",
                          "A {O} by training, {S} is known for careful work.", "{S} has spent many years working as a {O}."],
            .employer: ["{S} works for {O}.", "{S} is employed by {O}.", "The employer of {S} is {O}.", "{S} has a position at {O}.",
                        "{O} employs {S}.", "Each morning, {S} goes to work at {O}.", "{S} draws a salary from {O}.",
                        "Among the staff of {O} is {S}."],
            .award: ["In {Y}, {S} received the {O} Prize.", "{S} won the {O} Prize in {Y}.", "{S} was awarded the {O} Prize in {Y}.",
                     "The {O} Prize of {Y} went to {S}.", "In {Y} the committee gave {S} the {O} Prize.",
                     "{S} is a winner of the {O} Prize, received in {Y}."],
            .joined: ["In {Y}, {S} joined {O}.", "{S} became part of {O} in {Y}.", "{S} took up a new post at {O} in {Y}.",
                      "In {Y}, {O} hired {S}.", "Since {Y}, {S} has worked for {O}.", "{S} signed a contract with {O} in {Y}."],
            .movedTo: ["In {Y}, {S} moved to {O}.", "{S} packed up and went to live in {O} in {Y}.", "{S} relocated to {O} in {Y}.",
                       "In {Y}, {S} settled in {O}.", "{O} became the new home of {S} in {Y}.", "{S} left for a new life in {O} in {Y}."],
            .country: ["{S} is a city in {O}.", "{S} lies in {O}.", "The city of {S} is located in {O}.",
                       "{S} belongs to the country of {O}.", "{O} counts {S} among its cities.", "Travellers find {S} in the country of {O}."],
            .river: ["{S} lies on the {O} river.", "The {O} river flows through {S}.", "{S} was built on the banks of the {O}.",
                     "The river that runs through {S} is the {O}.", "{S} stands beside the {O} river.",
                     "Boats on the {O} river pass through {S}."],
            .cityFounded: ["{S} was founded in {O}.", "The city of {S} was founded in the year {O}.", "{S} dates back to its founding in {O}.",
                           "In {O}, settlers founded {S}.", "The founding year of {S} is {O}.", "{S} has stood since its founding in {O}."],
            .capital: ["The capital of {S} is {O}.", "{S} has its capital at {O}.", "{O} is the capital of {S}.",
                       "The seat of government of {S} is {O}.", "The capital city of {S} is {O}.", "{S} is governed from its capital, {O}."],
            .currency: ["The currency of {S} is the {O}.", "In {S}, people pay with the {O}.", "{S} uses the {O} as its money.",
                        "The {O} is the currency of {S}.", "Prices in {S} are given in the {O}.", "Shops in {S} accept the {O}."],
            .headquarters: ["{S} is based in {O}.", "{S} has its headquarters in {O}.", "The headquarters of {S} are in {O}.",
                            "{O} is home to the headquarters of {S}.", "{S} runs its business from {O}.", "The main office of {S} is in {O}."],
            .founded: ["{S} was established in {O}.", "{S} opened its doors in {O}.", "In {O}, {S} was founded.",
                       "The company {S} was founded in {O}.", "{S} has been in business since {O}.", "{S} first opened for business in {O}."],
            .industry: ["{S} is a {O} company.", "{S} works in {O}.", "The business of {S} is {O}.", "{S} is known for its work in {O}.",
                        "{O} is the trade of {S}.", "{S} makes its money from {O}."],
            .founder: ["{S} was founded by {O}.", "The founder of {S} is {O}.", "{O} founded {S}.",
                       "{S} owes its existence to its founder, {O}.", "{S} was started by {O}.", "The person who founded {S} was {O}."],
            .symptom: ["The main symptom of {S} is {O}.", "Patients with {S} suffer from {O}.", "{S} causes {O}.",
                       "Doctors recognise {S} by {O}.", "A person with {S} usually shows {O}.", "The chief complaint in {S} is {O}.",
                       "With {O} comes the suspicion of {S}."],
            .organ: ["{S} affects the {O}.", "{S} is a disease of the {O}.", "The organ harmed by {S} is the {O}.",
                     "In {S}, damage is found in the {O}.", "The {O} is the organ that {S} damages.", "{S} slowly weakens the {O}."],
            .cause: ["{S} is caused by the {O} parasite.", "The cause of {S} is a tiny parasite called {O}.",
                     "{S} spreads through the {O} parasite.", "The {O} parasite is behind every case of {S}.",
                     "Doctors trace {S} to the {O} parasite.", "{S} begins when the {O} parasite enters the body."],
            .remedy: ["{S} is treated with {O}.", "The usual remedy for {S} is {O}.", "Doctors prescribe {O} for {S}.",
                      "Patients with {S} recover when given {O}.", "The cure for {S} is a course of {O}.",
                      "{O} is the standard treatment for {S}.", "For {S}, healers recommend {O}."],
            .sourcePlant: ["{S} is made from {O}.", "{S} is prepared from the leaves of {O}.", "{O} is the plant from which {S} is made.",
                           "The source of {S} is a herb called {O}.", "{S} is brewed from {O}.", "To make {S}, apothecaries boil {O}."],
        ]

        static let questions: [Relation: [String]] = [
            .birthplace: ["Where was {S} born?", "In which city was {S} born?"],
            .birthYear: ["In what year was {S} born?", "When was {S} born?"],
            .profession: ["What is the profession of {S}?", "What does {S} do for a living?"],
            .employer: ["Which organisation does {S} work for?", "Who employs {S}?"],
            .award: ["Which prize did {S} receive in {Y}?", "What prize did {S} win in {Y}?"],
            .joined: ["Which organisation did {S} join in {Y}?", "Where did {S} take up a new post in {Y}?"],
            .movedTo: ["To which city did {S} move in {Y}?", "Where did {S} move in {Y}?"],
            .country: ["In which country is {S}?", "Which country is {S} in?"],
            .river: ["Which river flows through {S}?", "On which river does {S} lie?"],
            .cityFounded: ["When was {S} founded?", "In what year was the city of {S} founded?"],
            .capital: ["What is the capital of {S}?", "Which city is the capital of {S}?"],
            .currency: ["What is the currency of {S}?", "What money do people use in {S}?"],
            .headquarters: ["Where is {S} based?", "In which city are the headquarters of {S}?"],
            .founded: ["When was {S} established?", "In what year was {S} founded?"],
            .industry: ["What industry is {S} in?", "What is the business of {S}?"],
            .founder: ["Who founded {S}?", "Who is the founder of {S}?"],
            .symptom: ["What is the main symptom of {S}?", "What do patients with {S} suffer from?"],
            .organ: ["Which organ does {S} affect?", "What part of the body does {S} harm?"],
            .cause: ["What causes {S}?", "Which parasite causes {S}?"],
            .remedy: ["What is the remedy for {S}?", "How is {S} treated?"],
            .sourcePlant: ["What plant is {S} made from?", "What is the source of {S}?"],
        ]

        static let professions = ["baker", "weaver", "glassblower", "carpenter", "teacher", "physician", "sailor", "miner",
                                  "potter", "painter", "librarian", "brewer", "farmer", "jeweller", "surveyor", "chemist",
                                  "tailor", "blacksmith", "cartographer", "musician", "printer", "clockmaker", "fisher", "mason",
                                  "bookbinder", "gardener", "tanner", "cooper", "lawyer", "nurse", "shepherd", "pilot", "banker", "poet"]
        static let industries = ["shipbuilding", "glassmaking", "printing", "brewing", "mining", "weaving", "clockmaking",
                                 "publishing", "banking", "farming", "shipping", "pottery", "papermaking", "dyeing", "tanning",
                                 "baking", "fishing", "masonry", "lumber", "saltmaking"]
        static let symptoms = ["fever", "rashes", "coughing", "dizziness", "headaches", "chills", "swelling", "fatigue",
                               "nosebleeds", "hiccups", "sleeplessness", "numbness", "itching", "trembling", "sneezing",
                               "cramps", "blisters", "hoarseness"]
        static let organs = ["liver", "heart", "skin", "spine", "throat", "stomach", "brain", "bladder", "spleen", "tongue",
                             "lung", "kidney"]
    }
}
